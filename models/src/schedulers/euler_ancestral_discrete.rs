//! diffusers' `EulerAncestralDiscreteScheduler` ("Euler a"): the timesteps and sigmas of
//! [`SigmaSchedule`]. Draws fresh noise at every step, the last one included.

use super::config::Resolved;
use super::euler_discrete::SigmaSchedule;
use super::{Sample, Scheduler};

pub struct EulerAncestralDiscreteScheduler {
    pub schedule: SigmaSchedule,
}

impl EulerAncestralDiscreteScheduler {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        Self { schedule: SigmaSchedule::new(config, num_inference_steps) }
    }
}

impl<S: Sample> Scheduler<S> for EulerAncestralDiscreteScheduler {
    fn timesteps(&self) -> &[f32] {
        &self.schedule.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule.init_noise_sigma()
    }

    fn scale_model_input(&self, sample: &S, index: usize) -> S {
        self.schedule.scale_model_input(sample, index)
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, noise: &mut dyn FnMut() -> S) -> S {
        let sigmas = &self.schedule.sigmas;
        let sigma = sigmas[index];
        let pred_original = self.schedule.pred_original(model_output, sample, index);
        let (from, to) = (sigmas[index], sigmas[index + 1]);
        let sigma_up = (to * to * (from * from - to * to) / (from * from)).sqrt();
        let sigma_down = (to * to - sigma_up * sigma_up).sqrt();
        let derivative = sample.sub(&pred_original).div_scalar(sigma);
        let dt = sigma_down - sigma;
        let prev = sample.add(&derivative.mul_scalar(dt));
        prev.add(&noise().mul_scalar(sigma_up))
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        self.schedule.add_noise(original, noise, index)
    }
}

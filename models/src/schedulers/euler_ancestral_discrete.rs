//! diffusers' `EulerAncestralDiscreteScheduler` ("Euler a"), SD 1.5 config: linspace timesteps.
//! Draws fresh noise at every step, the last one included.

use super::euler_discrete::SigmaSchedule;
use super::{Sample, Scheduler};

pub struct EulerAncestralDiscreteScheduler {
    pub schedule: SigmaSchedule,
}

impl EulerAncestralDiscreteScheduler {
    pub fn new(num_inference_steps: usize) -> Self {
        Self { schedule: SigmaSchedule::linspace(num_inference_steps) }
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
        let pred_original = sample.sub(&model_output.mul_scalar(sigma));
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

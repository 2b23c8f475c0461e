//! diffusers' `EulerAncestralDiscreteScheduler` ("Euler a"), SD 1.5 config: linspace timesteps.
//! Draws fresh noise at every step, the last one included.

use super::euler_discrete::linspace_sigmas;
use super::{Sample, Scheduler};

pub struct EulerAncestralDiscreteScheduler {
    pub timesteps: Vec<f32>,
    pub sigmas: Vec<f32>,
}

impl EulerAncestralDiscreteScheduler {
    pub fn new(num_inference_steps: usize) -> Self {
        let (timesteps, sigmas) = linspace_sigmas(num_inference_steps);
        Self { timesteps, sigmas }
    }
}

impl<S: Sample> Scheduler<S> for EulerAncestralDiscreteScheduler {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.sigmas.iter().cloned().fold(0.0, f32::max)
    }

    fn scale_model_input(&self, sample: &S, index: usize) -> S {
        let sigma = self.sigmas[index];
        sample.div_scalar((sigma * sigma + 1.0).sqrt())
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, noise: &mut dyn FnMut() -> S) -> S {
        let sigma = self.sigmas[index];
        let pred_original = sample.sub(&model_output.mul_scalar(sigma));
        let (from, to) = (self.sigmas[index], self.sigmas[index + 1]);
        let sigma_up = (to * to * (from * from - to * to) / (from * from)).sqrt();
        let sigma_down = (to * to - sigma_up * sigma_up).sqrt();
        let derivative = sample.sub(&pred_original).div_scalar(sigma);
        let dt = sigma_down - sigma;
        let prev = sample.add(&derivative.mul_scalar(dt));
        prev.add(&noise().mul_scalar(sigma_up))
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        original.add(&noise.mul_scalar(self.sigmas[index]))
    }
}

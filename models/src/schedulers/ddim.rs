//! diffusers' `DDIMScheduler`, SD 1.5 config: leading timesteps with steps_offset 1, eta 0,
//! final alpha = alphas_cumprod[0] (set_alpha_to_one false), no clipping.

use super::{alpha_add_noise, alphas_cumprod, Sample, Scheduler, NUM_TRAIN_TIMESTEPS, STEPS_OFFSET};

pub struct DdimScheduler {
    pub timesteps: Vec<f32>,
    steps: Vec<usize>,
    alphas_cumprod: Vec<f32>,
    step_ratio: usize,
}

impl DdimScheduler {
    pub fn new(num_inference_steps: usize) -> Self {
        let step_ratio = NUM_TRAIN_TIMESTEPS / num_inference_steps;
        let steps: Vec<usize> = (0..num_inference_steps).rev().map(|i| i * step_ratio + STEPS_OFFSET).collect();
        Self { timesteps: steps.iter().map(|t| *t as f32).collect(), steps, alphas_cumprod: alphas_cumprod(), step_ratio }
    }

    fn alpha_prev(&self, t: usize) -> f32 {
        match t.checked_sub(self.step_ratio) {
            Some(prev) => self.alphas_cumprod[prev],
            None => self.alphas_cumprod[0],
        }
    }
}

impl<S: Sample> Scheduler<S> for DdimScheduler {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, _noise: &mut dyn FnMut() -> S) -> S {
        let t = self.steps[index];
        let alpha_prod_t = self.alphas_cumprod[t];
        let alpha_prod_t_prev = self.alpha_prev(t);
        let beta_prod_t = 1.0 - alpha_prod_t;
        let pred_original = sample.sub(&model_output.mul_scalar(beta_prod_t.sqrt())).div_scalar(alpha_prod_t.sqrt());
        let direction = model_output.mul_scalar((1.0 - alpha_prod_t_prev).sqrt());
        pred_original.mul_scalar(alpha_prod_t_prev.sqrt()).add(&direction)
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        alpha_add_noise(original, noise, self.alphas_cumprod[self.steps[index]])
    }
}

//! diffusers' `DDIMScheduler`: timesteps spaced as the config says (leading, with steps_offset,
//! by default), eta 0, epsilon or v prediction, optional clipping of the predicted original,
//! the alpha before the first step 1 or alphas_cumprod[0] (set_alpha_to_one).

use super::config::{np_arange, round_half_even, Prediction, Resolved, Spacing};
use super::{alpha_add_noise, np_linspace, Sample, Scheduler};

/// The integer timesteps of DDIM's (and PNDM's) `set_timesteps`, largest first: spaced as the
/// config says, leading ones shifted by `steps_offset`.
pub fn spaced_timesteps(config: &Resolved, n: usize) -> Vec<usize> {
    let train = config.num_train_timesteps;
    match config.spacing {
        Spacing::Linspace => np_linspace(0.0, (train - 1) as f64, n).into_iter().rev().map(|t| round_half_even(t) as usize).collect(),
        Spacing::Leading => (0..n).rev().map(|i| i * (train / n) + config.steps_offset).collect(),
        Spacing::Trailing => {
            np_arange(train as f64, 0.0, -(train as f64 / n as f64)).into_iter().map(|t| round_half_even(t) as usize - 1).collect()
        }
    }
}

pub struct DdimScheduler {
    pub timesteps: Vec<f32>,
    steps: Vec<usize>,
    alphas_cumprod: Vec<f32>,
    /// The timestep distance to the previous step (diffusers: train // inference, whatever the spacing).
    step_ratio: usize,
    final_alpha_cumprod: f32,
    prediction: Prediction,
    clip_sample: Option<f32>,
}

impl DdimScheduler {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let step_ratio = config.num_train_timesteps / num_inference_steps;
        let steps = spaced_timesteps(config, num_inference_steps);
        let alphas_cumprod = config.alphas_cumprod();
        let final_alpha_cumprod = if config.set_alpha_to_one { 1.0 } else { alphas_cumprod[0] };
        Self {
            timesteps: steps.iter().map(|t| *t as f32).collect(),
            steps,
            alphas_cumprod,
            step_ratio,
            final_alpha_cumprod,
            prediction: config.prediction,
            clip_sample: config.clip_sample,
        }
    }

    fn alpha_prev(&self, t: usize) -> f32 {
        match t.checked_sub(self.step_ratio) {
            Some(prev) => self.alphas_cumprod[prev],
            None => self.final_alpha_cumprod,
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
        let (pred_original, pred_epsilon) = match self.prediction {
            Prediction::Epsilon => {
                (sample.sub(&model_output.mul_scalar(beta_prod_t.sqrt())).div_scalar(alpha_prod_t.sqrt()), model_output.clone())
            }
            Prediction::VPrediction => (
                sample.mul_scalar(alpha_prod_t.sqrt()).sub(&model_output.mul_scalar(beta_prod_t.sqrt())),
                model_output.mul_scalar(alpha_prod_t.sqrt()).add(&sample.mul_scalar(beta_prod_t.sqrt())),
            ),
        };
        let pred_original = match self.clip_sample {
            Some(range) => pred_original.clamp(-range, range),
            None => pred_original,
        };
        let direction = pred_epsilon.mul_scalar((1.0 - alpha_prod_t_prev).sqrt());
        pred_original.mul_scalar(alpha_prod_t_prev.sqrt()).add(&direction)
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        alpha_add_noise(original, noise, self.alphas_cumprod[self.steps[index]])
    }
}

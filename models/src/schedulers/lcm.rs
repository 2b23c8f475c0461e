//! diffusers' `LCMScheduler` (original_inference_steps 50 and timestep_scaling 10 unless the
//! config says otherwise; the timestep spacing is not read, as diffusers does not): the few-step
//! sampler of LCM-LoRA. Re-noises after every step but the last.

use super::config::{Prediction, Resolved};
use super::{alpha_add_noise, Sample, Scheduler};

const SIGMA_DATA: f64 = 0.5;

pub struct LcmScheduler {
    pub timesteps: Vec<f32>,
    steps: Vec<usize>,
    alphas_cumprod: Vec<f32>,
    timestep_scaling: f64,
    prediction: Prediction,
    clip_sample: Option<f32>,
}

impl LcmScheduler {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let original_steps = config.original_inference_steps.clamp(1, config.num_train_timesteps);
        let k = config.num_train_timesteps / original_steps;
        let origin: Vec<usize> = (1..=original_steps).rev().map(|i| i * k - 1).collect();
        let steps: Vec<usize> = (0..num_inference_steps)
            .map(|i| {
                // np.linspace(0, len, N, endpoint=False): start + i * (len / N)
                let at = (i as f64 * (origin.len() as f64 / num_inference_steps as f64)).floor() as usize;
                origin[at]
            })
            .collect();
        Self {
            timesteps: steps.iter().map(|t| *t as f32).collect(),
            steps,
            alphas_cumprod: config.alphas_cumprod(),
            timestep_scaling: config.timestep_scaling,
            prediction: config.prediction,
            clip_sample: config.clip_sample,
        }
    }

    /// `get_scalings_for_boundary_condition_discrete`, in Python floats.
    fn scalings(&self, t: usize) -> (f32, f32) {
        let scaled = t as f64 * self.timestep_scaling;
        let c_skip = SIGMA_DATA * SIGMA_DATA / (scaled * scaled + SIGMA_DATA * SIGMA_DATA);
        let c_out = scaled / (scaled * scaled + SIGMA_DATA * SIGMA_DATA).sqrt();
        (c_skip as f32, c_out as f32)
    }
}

impl<S: Sample> Scheduler<S> for LcmScheduler {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, noise: &mut dyn FnMut() -> S) -> S {
        let t = self.steps[index];
        let last = index + 1 >= self.steps.len();
        let prev_t = if last { t } else { self.steps[index + 1] };
        let alpha_prod_t = self.alphas_cumprod[t];
        let alpha_prod_t_prev = self.alphas_cumprod[prev_t];
        let beta_prod_t = 1.0 - alpha_prod_t;
        let beta_prod_t_prev = 1.0 - alpha_prod_t_prev;
        let (c_skip, c_out) = self.scalings(t);
        let pred_original = match self.prediction {
            Prediction::Epsilon => sample.sub(&model_output.mul_scalar(beta_prod_t.sqrt())).div_scalar(alpha_prod_t.sqrt()),
            Prediction::VPrediction => sample.mul_scalar(alpha_prod_t.sqrt()).sub(&model_output.mul_scalar(beta_prod_t.sqrt())),
        };
        let pred_original = match self.clip_sample {
            Some(range) => pred_original.clamp(-range, range),
            None => pred_original,
        };
        let denoised = pred_original.mul_scalar(c_out).add(&sample.mul_scalar(c_skip));
        if last {
            denoised
        } else {
            denoised.mul_scalar(alpha_prod_t_prev.sqrt()).add(&noise().mul_scalar(beta_prod_t_prev.sqrt()))
        }
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        alpha_add_noise(original, noise, self.alphas_cumprod[self.steps[index]])
    }
}

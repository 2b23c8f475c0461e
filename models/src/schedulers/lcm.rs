//! diffusers' `LCMScheduler` built from SD 1.5's config (original_inference_steps 50,
//! timestep_scaling 10, final alpha = alphas_cumprod[0]): the few-step sampler of LCM-LoRA.
//! Re-noises after every step but the last.

use super::{alpha_add_noise, alphas_cumprod, Sample, Scheduler, NUM_TRAIN_TIMESTEPS};

const ORIGINAL_INFERENCE_STEPS: usize = 50;
const TIMESTEP_SCALING: f64 = 10.0;
const SIGMA_DATA: f64 = 0.5;

pub struct LcmScheduler {
    pub timesteps: Vec<f32>,
    steps: Vec<usize>,
    alphas_cumprod: Vec<f32>,
}

impl LcmScheduler {
    pub fn new(num_inference_steps: usize) -> Self {
        let k = NUM_TRAIN_TIMESTEPS / ORIGINAL_INFERENCE_STEPS;
        let origin: Vec<usize> = (1..=ORIGINAL_INFERENCE_STEPS).rev().map(|i| i * k - 1).collect();
        let steps: Vec<usize> = (0..num_inference_steps)
            .map(|i| {
                // np.linspace(0, len, N, endpoint=False): start + i * (len / N)
                let at = (i as f64 * (origin.len() as f64 / num_inference_steps as f64)).floor() as usize;
                origin[at]
            })
            .collect();
        Self { timesteps: steps.iter().map(|t| *t as f32).collect(), steps, alphas_cumprod: alphas_cumprod() }
    }

    /// `get_scalings_for_boundary_condition_discrete`, in Python floats.
    fn scalings(t: usize) -> (f32, f32) {
        let scaled = t as f64 * TIMESTEP_SCALING;
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
        let (c_skip, c_out) = Self::scalings(t);
        let pred_original = sample.sub(&model_output.mul_scalar(beta_prod_t.sqrt())).div_scalar(alpha_prod_t.sqrt());
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

//! diffusers' `DPMSolverMultistepScheduler` with `use_karras_sigmas=True` ("DPM++ 2M Karras"):
//! dpmsolver++, second order, midpoint, lower order at the final step (final sigma 0), epsilon
//! or v prediction. The Karras sigmas span the whole training schedule, so the config's
//! timestep spacing does not change them.

use super::config::{Prediction, Resolved};
use super::{np_linspace, train_sigmas, Sample, Scheduler};

pub struct DpmSolverMultistepScheduler<S> {
    pub timesteps: Vec<f32>,
    pub sigmas: Vec<f32>,
    /// The previous step's index and data prediction (the "2M" memory).
    previous: Option<(usize, S)>,
    lower_order_nums: usize,
    prediction: Prediction,
}

/// `_sigma_to_t`: the (fractional) training timestep of a sigma, by log-linear interpolation.
fn sigma_to_t(sigma: f64, log_sigmas: &[f64]) -> f64 {
    let log_sigma = sigma.max(1e-10).ln();
    let n = log_sigmas.len();
    // low_idx: the last index whose log sigma is <= log_sigma (cumsum(dists >= 0).argmax()).
    let count = log_sigmas.iter().filter(|ls| log_sigma - **ls >= 0.0).count();
    let low = count.saturating_sub(1).min(n - 2);
    let (lo, hi) = (log_sigmas[low], log_sigmas[low + 1]);
    let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
    (1.0 - w) * low as f64 + w * (low + 1) as f64
}

impl<S> DpmSolverMultistepScheduler<S> {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let sigmas_train = train_sigmas(&config.alphas_cumprod_finite());
        let log_sigmas: Vec<f64> = sigmas_train.iter().map(|s| (*s as f64).ln()).collect();
        // Karras et al. (2022) sigmas between the schedule's smallest and largest, rho = 7.
        let (sigma_min, sigma_max) = (sigmas_train[0] as f64, sigmas_train[sigmas_train.len() - 1] as f64);
        let rho = 7.0;
        let (min_inv, max_inv) = (sigma_min.powf(1.0 / rho), sigma_max.powf(1.0 / rho));
        let karras: Vec<f64> =
            np_linspace(0.0, 1.0, num_inference_steps).iter().map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho)).collect();
        let timesteps: Vec<f32> = karras.iter().map(|s| sigma_to_t(*s, &log_sigmas).round() as f32).collect();
        let mut sigmas: Vec<f32> = karras.iter().map(|s| *s as f32).collect();
        sigmas.push(0.0);
        Self { timesteps, sigmas, previous: None, lower_order_nums: 0, prediction: config.prediction }
    }

    /// VP alpha and sigma of a sigma (`_sigma_to_alpha_sigma_t`), float32.
    fn alpha_sigma(sigma: f32) -> (f32, f32) {
        let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
        (alpha, sigma * alpha)
    }

    fn lambda(sigma: f32) -> f32 {
        let (a, s) = Self::alpha_sigma(sigma);
        a.ln() - s.ln()
    }
}

impl<S: Sample> Scheduler<S> for DpmSolverMultistepScheduler<S> {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, _noise: &mut dyn FnMut() -> S) -> S {
        let last = index == self.timesteps.len() - 1;
        // Data prediction (x0) from the noise prediction.
        let (alpha_s0, sigma_s0_vp) = Self::alpha_sigma(self.sigmas[index]);
        let x0 = match self.prediction {
            Prediction::Epsilon => sample.sub(&model_output.mul_scalar(sigma_s0_vp)).div_scalar(alpha_s0),
            Prediction::VPrediction => sample.mul_scalar(alpha_s0).sub(&model_output.mul_scalar(sigma_s0_vp)),
        };

        let (alpha_t, sigma_t) = Self::alpha_sigma(self.sigmas[index + 1]);
        let lambda_t = alpha_t.ln() - sigma_t.ln();
        let lambda_s0 = Self::lambda(self.sigmas[index]);
        let h = lambda_t - lambda_s0;
        let prev_sample = match self.previous.take() {
            Some((prev_index, m1)) if self.lower_order_nums >= 1 && !last && prev_index + 1 == index => {
                let lambda_s1 = Self::lambda(self.sigmas[index - 1]);
                let h_0 = lambda_s0 - lambda_s1;
                let r0 = h_0 / h;
                let d1 = x0.sub(&m1).mul_scalar(1.0 / r0);
                let c = alpha_t * ((-h).exp() - 1.0);
                sample.mul_scalar(sigma_t / sigma_s0_vp).sub(&x0.mul_scalar(c)).sub(&d1.mul_scalar(0.5 * c))
            }
            _ => {
                // First order (DPM-Solver++ 1 = DDIM in x0 form); at sigma 0 this is x0 itself.
                let c = alpha_t * ((-h).exp() - 1.0);
                sample.mul_scalar(sigma_t / sigma_s0_vp).sub(&x0.mul_scalar(c))
            }
        };
        self.lower_order_nums = (self.lower_order_nums + 1).min(2);
        self.previous = Some((index, x0));
        prev_sample
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        let (alpha, sigma) = Self::alpha_sigma(self.sigmas[index]);
        original.mul_scalar(alpha).add(&noise.mul_scalar(sigma))
    }
}

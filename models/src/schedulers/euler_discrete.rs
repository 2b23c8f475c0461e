//! diffusers' `EulerDiscreteScheduler`: timesteps spaced as the config says (linspace by
//! default), sigmas by linear interpolation, final sigma 0, epsilon or v prediction, s_churn 0.

use super::config::{np_arange, round_half_even, Prediction, Resolved, Spacing};
use super::{interp, np_linspace, train_sigmas, Sample, Scheduler};

/// The timesteps with their sigmas, and what Euler and Euler a do alike with them.
pub struct SigmaSchedule {
    pub timesteps: Vec<f32>,
    pub sigmas: Vec<f32>,
    spacing: Spacing,
    prediction: Prediction,
}

impl SigmaSchedule {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        let sigmas_train = train_sigmas(&config.alphas_cumprod_finite());
        let (train, n) = (config.num_train_timesteps, num_inference_steps);
        let timesteps: Vec<f32> = match config.spacing {
            // np.linspace(..., dtype=float32)[::-1]
            Spacing::Linspace => np_linspace(0.0, (train - 1) as f64, n).into_iter().rev().map(|t| t as f32).collect(),
            Spacing::Leading => (0..n).rev().map(|i| (i * (train / n)) as f32 + config.steps_offset as f32).collect(),
            Spacing::Trailing => {
                np_arange(train as f64, 0.0, -(train as f64 / n as f64)).into_iter().map(|t| round_half_even(t) as f32 - 1.0).collect()
            }
        };
        let mut sigmas: Vec<f32> = timesteps.iter().map(|t| interp(*t as f64, &sigmas_train) as f32).collect();
        sigmas.push(0.0);
        Self { timesteps, sigmas, spacing: config.spacing, prediction: config.prediction }
    }

    pub fn init_noise_sigma(&self) -> f32 {
        let max = self.sigmas.iter().cloned().fold(0.0, f32::max);
        match self.spacing {
            Spacing::Linspace | Spacing::Trailing => max,
            Spacing::Leading => (max * max + 1.0).sqrt(),
        }
    }

    pub fn scale_model_input<S: Sample>(&self, sample: &S, index: usize) -> S {
        let sigma = self.sigmas[index];
        sample.div_scalar((sigma * sigma + 1.0).sqrt())
    }

    /// The denoised sample the model's output at step `index` points to.
    pub fn pred_original<S: Sample>(&self, model_output: &S, sample: &S, index: usize) -> S {
        let sigma = self.sigmas[index];
        match self.prediction {
            Prediction::Epsilon => sample.sub(&model_output.mul_scalar(sigma)),
            Prediction::VPrediction => {
                let (c_out, c_in) = (-sigma / (sigma * sigma + 1.0).sqrt(), sigma * sigma + 1.0);
                model_output.mul_scalar(c_out).add(&sample.div_scalar(c_in))
            }
        }
    }

    pub fn add_noise<S: Sample>(&self, original: &S, noise: &S, index: usize) -> S {
        original.add(&noise.mul_scalar(self.sigmas[index]))
    }
}

pub struct EulerDiscreteScheduler {
    pub schedule: SigmaSchedule,
}

impl EulerDiscreteScheduler {
    pub fn new(config: &Resolved, num_inference_steps: usize) -> Self {
        Self { schedule: SigmaSchedule::new(config, num_inference_steps) }
    }
}

impl<S: Sample> Scheduler<S> for EulerDiscreteScheduler {
    fn timesteps(&self) -> &[f32] {
        &self.schedule.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.schedule.init_noise_sigma()
    }

    fn scale_model_input(&self, sample: &S, index: usize) -> S {
        self.schedule.scale_model_input(sample, index)
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, _noise: &mut dyn FnMut() -> S) -> S {
        let sigmas = &self.schedule.sigmas;
        let sigma = sigmas[index];
        let pred_original = self.schedule.pred_original(model_output, sample, index);
        let derivative = sample.sub(&pred_original).div_scalar(sigma);
        let dt = sigmas[index + 1] - sigma;
        sample.add(&derivative.mul_scalar(dt))
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        self.schedule.add_noise(original, noise, index)
    }
}

//! diffusers' `EulerDiscreteScheduler` (SD 1.5 config: linspace timesteps, linear interpolation,
//! final sigma 0, epsilon prediction, s_churn 0).

use super::{alphas_cumprod, interp, np_linspace, train_sigmas, Sample, Scheduler, NUM_TRAIN_TIMESTEPS};

/// Linspace timesteps with their sigmas, and what Euler and Euler a do alike with them.
pub struct SigmaSchedule {
    pub timesteps: Vec<f32>,
    pub sigmas: Vec<f32>,
}

impl SigmaSchedule {
    pub fn linspace(num_inference_steps: usize) -> Self {
        let sigmas_train = train_sigmas(&alphas_cumprod());
        // np.linspace(..., dtype=float32)[::-1]
        let timesteps: Vec<f32> =
            np_linspace(0.0, (NUM_TRAIN_TIMESTEPS - 1) as f64, num_inference_steps).into_iter().rev().map(|t| t as f32).collect();
        let mut sigmas: Vec<f32> = timesteps.iter().map(|t| interp(*t as f64, &sigmas_train) as f32).collect();
        sigmas.push(0.0);
        Self { timesteps, sigmas }
    }

    pub fn init_noise_sigma(&self) -> f32 {
        self.sigmas.iter().cloned().fold(0.0, f32::max)
    }

    pub fn scale_model_input<S: Sample>(&self, sample: &S, index: usize) -> S {
        let sigma = self.sigmas[index];
        sample.div_scalar((sigma * sigma + 1.0).sqrt())
    }

    pub fn add_noise<S: Sample>(&self, original: &S, noise: &S, index: usize) -> S {
        original.add(&noise.mul_scalar(self.sigmas[index]))
    }
}

pub struct EulerDiscreteScheduler {
    pub schedule: SigmaSchedule,
}

impl EulerDiscreteScheduler {
    pub fn new(num_inference_steps: usize) -> Self {
        Self { schedule: SigmaSchedule::linspace(num_inference_steps) }
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
        let pred_original = sample.sub(&model_output.mul_scalar(sigma));
        let derivative = sample.sub(&pred_original).div_scalar(sigma);
        let dt = sigmas[index + 1] - sigma;
        sample.add(&derivative.mul_scalar(dt))
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        self.schedule.add_noise(original, noise, index)
    }
}

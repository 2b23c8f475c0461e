//! The noise levels k-diffusion samples over, as A1111 makes them: k-diffusion's
//! `DiscreteSchedule` of the model (the training sigmas, CompVisDenoiser's `sigma_to_t` and
//! `t_to_sigma`) and A1111's schedule types on it. float32 throughout, as the torch ops run.

use super::super::torch_linspace_f32;

/// A1111's noise schedule types (the API's `scheduler`, `/sdapi/v1/schedulers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The sampler's own: its A1111 default, or the model's scheduler config (see `SchedulerKind`).
    Automatic,
    /// k-diffusion's `get_sigmas`: the training timesteps evenly spaced, sigmas log-interpolated.
    Uniform,
    /// Karras et al. (2022), rho 7, between the model's smallest and largest sigma.
    Karras,
    /// Evenly spaced in log sigma.
    Exponential,
    /// SGM's uniform: timesteps evenly spaced from sigma max to sigma min, the last dropped.
    SgmUniform,
}

impl Schedule {
    pub const ALL: [Schedule; 5] = [Schedule::Automatic, Schedule::Uniform, Schedule::Karras, Schedule::Exponential, Schedule::SgmUniform];

    /// A1111's name (the API's `scheduler` value).
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Automatic => "automatic",
            Schedule::Uniform => "uniform",
            Schedule::Karras => "karras",
            Schedule::Exponential => "exponential",
            Schedule::SgmUniform => "sgm_uniform",
        }
    }

    /// A1111's label ("SGM Uniform").
    pub fn label(self) -> &'static str {
        match self {
            Schedule::Automatic => "Automatic",
            Schedule::Uniform => "Uniform",
            Schedule::Karras => "Karras",
            Schedule::Exponential => "Exponential",
            Schedule::SgmUniform => "SGM Uniform",
        }
    }

    /// Other names A1111 takes for it.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Schedule::SgmUniform => &["SGMUniform"],
            Schedule::Automatic | Schedule::Uniform | Schedule::Karras | Schedule::Exponential => &[],
        }
    }

    /// A name, label or alias, any case ("Karras", "sgm_uniform", "SGM Uniform", "SGMUniform").
    pub fn parse(text: &str) -> Option<Schedule> {
        let text = text.trim();
        Schedule::ALL.into_iter().find(|s| {
            s.name().eq_ignore_ascii_case(text)
                || s.label().eq_ignore_ascii_case(text)
                || s.aliases().iter().any(|a| a.eq_ignore_ascii_case(text))
        })
    }
}

/// The model's training sigmas as k-diffusion's CompVisDenoiser holds them.
pub struct DiscreteSchedule {
    /// `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5`, increasing.
    pub sigmas: Vec<f32>,
    log_sigmas: Vec<f32>,
}

impl DiscreteSchedule {
    pub fn new(alphas_cumprod: &[f32]) -> Self {
        let sigmas: Vec<f32> = alphas_cumprod.iter().map(|a| ((1.0 - a) / a).sqrt()).collect();
        let log_sigmas = sigmas.iter().map(|s| s.ln()).collect();
        Self { sigmas, log_sigmas }
    }

    fn sigma_min(&self) -> f32 {
        self.sigmas[0]
    }

    fn sigma_max(&self) -> f32 {
        self.sigmas[self.sigmas.len() - 1]
    }

    /// The (fractional) training timestep of a sigma: log-linear between its neighbours.
    pub fn sigma_to_t(&self, sigma: f32) -> f32 {
        let log_sigma = sigma.ln();
        let n = self.log_sigmas.len();
        // The last index whose log sigma is <= log_sigma (`dists.ge(0).cumsum().argmax()`).
        let count = self.log_sigmas.iter().filter(|ls| log_sigma - **ls >= 0.0).count();
        let low = count.saturating_sub(1).min(n - 2);
        let (lo, hi) = (self.log_sigmas[low], self.log_sigmas[low + 1]);
        let w = ((lo - log_sigma) / (lo - hi)).clamp(0.0, 1.0);
        (1.0 - w) * low as f32 + w * (low + 1) as f32
    }

    /// The sigma of a (fractional) training timestep.
    pub fn t_to_sigma(&self, t: f32) -> f32 {
        let (low, high, w) = (t.floor() as usize, t.ceil() as usize, t - t.floor());
        ((1.0 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()
    }

    /// `n` sigmas of `schedule` from the largest down, and a final 0.
    pub fn sigmas(&self, schedule: Schedule, n: usize) -> Vec<f32> {
        let (sigma_min, sigma_max) = (self.sigma_min(), self.sigma_max());
        let mut sigmas: Vec<f32> = match schedule {
            Schedule::Automatic | Schedule::Uniform => {
                let t_max = (self.sigmas.len() - 1) as f32;
                torch_linspace_f32(t_max, 0.0, n).into_iter().map(|t| self.t_to_sigma(t)).collect()
            }
            Schedule::Karras => {
                let rho = 7.0f64;
                // Python floats until they meet the float32 ramp.
                let min_inv_rho = (sigma_min as f64).powf(1.0 / rho);
                let max_inv_rho = (sigma_max as f64).powf(1.0 / rho);
                let span = (min_inv_rho - max_inv_rho) as f32;
                torch_linspace_f32(0.0, 1.0, n).into_iter().map(|r| (max_inv_rho as f32 + r * span).powf(rho as f32)).collect()
            }
            Schedule::Exponential => {
                let (hi, lo) = ((sigma_max as f64).ln() as f32, (sigma_min as f64).ln() as f32);
                torch_linspace_f32(hi, lo, n).into_iter().map(f32::exp).collect()
            }
            Schedule::SgmUniform => {
                let (start, end) = (self.sigma_to_t(sigma_max), self.sigma_to_t(sigma_min));
                let mut ts = torch_linspace_f32(start, end, n + 1);
                ts.pop();
                ts.into_iter().map(|t| self.t_to_sigma(t)).collect()
            }
        };
        sigmas.push(0.0);
        sigmas
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedulers::{SchedulerConfig, SchedulerKind};

    #[test]
    fn timesteps_and_sigmas_map_back_and_forth() {
        let ac = SchedulerConfig::sd15().resolve(SchedulerKind::Heun).unwrap().alphas_cumprod();
        let s = DiscreteSchedule::new(&ac);
        for t in [0.0f32, 1.0, 250.5, 998.25, 999.0] {
            let back = s.sigma_to_t(s.t_to_sigma(t));
            assert!((back - t).abs() < 2e-3, "{t} -> {back}");
        }
        for schedule in [Schedule::Uniform, Schedule::Karras, Schedule::Exponential, Schedule::SgmUniform] {
            let sigmas = s.sigmas(schedule, 10);
            assert_eq!(sigmas.len(), 11, "{schedule:?}");
            assert!(sigmas.windows(2).all(|w| w[0] > w[1]), "{schedule:?} decreases: {sigmas:?}");
            assert!((sigmas[0] - 14.6146).abs() < 1e-3 && sigmas[10] == 0.0, "{schedule:?}: {sigmas:?}");
        }
        assert_eq!(Schedule::parse("SGM Uniform"), Some(Schedule::SgmUniform));
        assert_eq!(Schedule::parse("Karras"), Some(Schedule::Karras));
        assert_eq!(Schedule::parse("sgmuniform"), Some(Schedule::SgmUniform));
        assert_eq!(Schedule::parse("beta"), None);
    }
}

//! Samplers, one file per diffusers scheduler class, each matching that class as diffusers
//! builds it from the model's `scheduler_config.json` ([`config`]: the file's keys over the
//! class's defaults; SD 1.5's for a model without one).
//!
//! The arithmetic follows diffusers op for op in float32 (where diffusers uses float32 tensors)
//! and float64 (where it uses numpy), so trajectories agree to float rounding. Schedulers work on
//! any [`Sample`] (the pipeline's tensors; plain `Vec<f32>` in tests) and index steps by position
//! in the schedule, which is what diffusers' `set_begin_index` does for img2img.

pub mod config;
pub mod ddim;
pub mod dpmsolver_multistep;
pub mod euler_ancestral_discrete;
pub mod euler_discrete;
pub mod lcm;

use std::fmt;
use std::str::FromStr;

pub use config::SchedulerConfig;

/// What a scheduler needs of a latent tensor: element-wise arithmetic with scalars.
pub trait Sample: Clone {
    fn add(&self, other: &Self) -> Self;
    fn sub(&self, other: &Self) -> Self;
    fn mul_scalar(&self, a: f32) -> Self;
    fn div_scalar(&self, a: f32) -> Self;
    fn clamp(&self, min: f32, max: f32) -> Self;
}

impl Sample for Vec<f32> {
    fn add(&self, other: &Self) -> Self {
        self.iter().zip(other).map(|(a, b)| a + b).collect()
    }
    fn sub(&self, other: &Self) -> Self {
        self.iter().zip(other).map(|(a, b)| a - b).collect()
    }
    fn mul_scalar(&self, a: f32) -> Self {
        self.iter().map(|x| x * a).collect()
    }
    fn div_scalar(&self, a: f32) -> Self {
        self.iter().map(|x| x / a).collect()
    }
    fn clamp(&self, min: f32, max: f32) -> Self {
        self.iter().map(|x| x.clamp(min, max)).collect()
    }
}

/// `torch.linspace(start, end, steps, dtype=float32)` as PyTorch's CPU kernel computes it: from
/// the start for the first half, from the end for the second.
pub fn torch_linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    let step = (end - start) / (steps as f32 - 1.0);
    let halfway = steps / 2;
    (0..steps).map(|i| if i < halfway { start + step * i as f32 } else { end - step * (steps - i - 1) as f32 }).collect()
}

/// `np.linspace(start, end, num)` in float64.
pub fn np_linspace(start: f64, end: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (end - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| start + i as f64 * step).collect();
    v[num - 1] = end;
    v
}

/// `((1 - a) / a) ** 0.5` per training step, float32.
pub fn train_sigmas(alphas_cumprod: &[f32]) -> Vec<f32> {
    alphas_cumprod.iter().map(|a| ((1.0 - a) / a).sqrt()).collect()
}

/// `np.interp(x, arange(len(fp)), fp)`.
pub fn interp(x: f64, fp: &[f32]) -> f64 {
    if x <= 0.0 {
        return fp[0] as f64;
    }
    let last = fp.len() - 1;
    if x >= last as f64 {
        return fp[last] as f64;
    }
    let i = x.floor() as usize;
    let t = x - i as f64;
    fp[i] as f64 + t * (fp[i + 1] as f64 - fp[i] as f64)
}

/// A sampler as A1111 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct A1111Sampler {
    /// `sampler_name` ("DPM++ 2M").
    pub name: &'static str,
    /// The k-diffusion names A1111 also takes ("k_dpmpp_2m").
    pub aliases: &'static [&'static str],
    /// The noise schedule it runs with here: A1111's `scheduler` ("automatic", "karras").
    pub schedule: &'static str,
}

/// The samplers a booth or API client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    EulerAncestral,
    Euler,
    Ddim,
    DpmPp2mKarras,
    Lcm,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 5] =
        [SchedulerKind::EulerAncestral, SchedulerKind::Euler, SchedulerKind::Ddim, SchedulerKind::DpmPp2mKarras, SchedulerKind::Lcm];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::EulerAncestral => "euler-a",
            SchedulerKind::Euler => "euler",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::DpmPp2mKarras => "dpmpp-2m-karras",
            SchedulerKind::Lcm => "lcm",
        }
    }

    /// How A1111 (1.9 on) names this sampler: the one table behind `/sdapi/v1/samplers`, the
    /// API's `sampler_name` and the infotexts.
    pub fn a1111(self) -> A1111Sampler {
        let (name, aliases, schedule): (_, &[_], _) = match self {
            SchedulerKind::EulerAncestral => ("Euler a", &["k_euler_a", "k_euler_ancestral"], "automatic"),
            SchedulerKind::Euler => ("Euler", &["k_euler"], "automatic"),
            SchedulerKind::Ddim => ("DDIM", &["ddim"], "automatic"),
            SchedulerKind::DpmPp2mKarras => ("DPM++ 2M", &["k_dpmpp_2m"], "karras"),
            SchedulerKind::Lcm => ("LCM", &["k_lcm"], "automatic"),
        };
        A1111Sampler { name, aliases, schedule }
    }

    /// The sampler with its schedule in one name, as A1111 wrote it before 1.9 and as
    /// infotexts still read ("DPM++ 2M Karras").
    pub fn a1111_name(self) -> String {
        let a = self.a1111();
        match a.schedule {
            "karras" => format!("{} Karras", a.name),
            _ => a.name.to_string(),
        }
    }

    /// The diffusers class this sampler is.
    pub fn diffusers_class(self) -> &'static str {
        match self {
            SchedulerKind::EulerAncestral => "EulerAncestralDiscreteScheduler",
            SchedulerKind::Euler => "EulerDiscreteScheduler",
            SchedulerKind::Ddim => "DDIMScheduler",
            SchedulerKind::DpmPp2mKarras => "DPMSolverMultistepScheduler",
            SchedulerKind::Lcm => "LCMScheduler",
        }
    }

    /// The sampler for `num_inference_steps` steps, from the model's scheduler config; an
    /// error names a key of the config this sampler cannot follow.
    pub fn build<S: Sample + 'static>(self, config: &SchedulerConfig, num_inference_steps: usize) -> Result<Box<dyn Scheduler<S>>, String> {
        let c = config.resolve(self)?;
        let n = num_inference_steps.max(1);
        Ok(match self {
            SchedulerKind::EulerAncestral => Box::new(euler_ancestral_discrete::EulerAncestralDiscreteScheduler::new(&c, n)),
            SchedulerKind::Euler => Box::new(euler_discrete::EulerDiscreteScheduler::new(&c, n)),
            SchedulerKind::Ddim => Box::new(ddim::DdimScheduler::new(&c, n)),
            SchedulerKind::DpmPp2mKarras => Box::new(dpmsolver_multistep::DpmSolverMultistepScheduler::new(&c, n)),
            SchedulerKind::Lcm => Box::new(lcm::LcmScheduler::new(&c, n)),
        })
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SchedulerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SchedulerKind::ALL
            .into_iter()
            .find(|k| [k.name(), k.a1111().name, &k.a1111_name()].iter().any(|n| n.eq_ignore_ascii_case(s)))
            .ok_or_else(|| format!("unknown scheduler {s:?}; use one of {}", SchedulerKind::ALL.map(|k| k.name()).join(", ")))
    }
}

/// One diffusers scheduler after `set_timesteps`.
pub trait Scheduler<S: Sample> {
    /// The timesteps the UNet sees, in order.
    fn timesteps(&self) -> &[f32];
    /// Multiplier of the initial noise for text-to-image (1 for the alpha-parameterised ones).
    fn init_noise_sigma(&self) -> f32 {
        1.0
    }
    /// The UNet's input at step `index` (unchanged for the alpha-parameterised ones).
    fn scale_model_input(&self, sample: &S, _index: usize) -> S {
        sample.clone()
    }
    /// One step from `sample` with the model's noise prediction at step `index`; `noise` draws
    /// fresh noise (ancestral samplers call it in diffusers' order).
    fn step(&mut self, model_output: &S, index: usize, sample: &S, noise: &mut dyn FnMut() -> S) -> S;
    /// The img2img start: `original` noised to the level of step `index`.
    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S;
}

/// `sqrt(a) * original + sqrt(1 - a) * noise`: the DDPM-style noising of DDIM and LCM.
pub fn alpha_add_noise<S: Sample>(original: &S, noise: &S, alpha_cumprod: f32) -> S {
    original.mul_scalar(alpha_cumprod.sqrt()).add(&noise.mul_scalar((1.0 - alpha_cumprod).sqrt()))
}

/// The first step img2img runs for `strength`, as diffusers' `get_timesteps` (int(N * strength)
/// steps run, the last ones).
pub fn img2img_start(num_inference_steps: usize, strength: f64) -> usize {
    let init = ((num_inference_steps as f64 * strength) as usize).min(num_inference_steps);
    num_inference_steps.saturating_sub(init)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_tables_match_known_values() {
        let ac = SchedulerConfig::sd15().resolve(SchedulerKind::Euler).unwrap().alphas_cumprod();
        assert_eq!(ac.len(), 1000);
        assert!((ac[0] - 0.99915).abs() < 1e-6, "{}", ac[0]);
        assert!((ac[999] - 0.0047).abs() < 1e-4, "{}", ac[999]);
        let s = train_sigmas(&ac);
        assert!((s[999] - 14.6146).abs() < 1e-3, "{}", s[999]);
        assert_eq!(img2img_start(20, 0.6), 8);
        assert_eq!(img2img_start(4, 1.0), 0);
        assert_eq!(img2img_start(25, 0.3), 18);
        assert_eq!("Euler a".parse::<SchedulerKind>(), Ok(SchedulerKind::EulerAncestral));
        assert!("heun".parse::<SchedulerKind>().unwrap_err().contains("dpmpp-2m-karras"));
    }

    #[test]
    fn every_sampler_reads_back_from_each_of_its_names() {
        assert_eq!(SchedulerKind::DpmPp2mKarras.a1111_name(), "DPM++ 2M Karras");
        assert_eq!(SchedulerKind::DpmPp2mKarras.a1111().name, "DPM++ 2M");
        assert_eq!(SchedulerKind::Lcm.a1111_name(), "LCM");
        for kind in SchedulerKind::ALL {
            let a = kind.a1111();
            for name in [kind.name(), a.name, &kind.a1111_name()] {
                assert_eq!(name.parse::<SchedulerKind>(), Ok(kind), "{name}");
            }
            assert!(["automatic", "karras"].contains(&a.schedule), "{kind}: {}", a.schedule);
        }
    }
}

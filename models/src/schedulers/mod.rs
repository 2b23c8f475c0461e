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
pub mod k_diffusion;
pub mod lcm;
pub mod pndm;
pub mod unipc_multistep;

use std::fmt;
use std::str::FromStr;

pub use config::SchedulerConfig;
pub use k_diffusion::{KSampler, Schedule};

/// What a scheduler needs of a latent tensor: element-wise arithmetic with scalars.
pub trait Sample: Clone {
    fn add(&self, other: &Self) -> Self;
    fn sub(&self, other: &Self) -> Self;
    fn mul_scalar(&self, a: f32) -> Self;
    fn div_scalar(&self, a: f32) -> Self;
    fn clamp(&self, min: f32, max: f32) -> Self;
    /// How many values it holds.
    fn numel(&self) -> usize;
    /// A sample of the same shape (and device) holding `values`.
    fn like(&self, values: Vec<f32>) -> Self;
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
    fn numel(&self) -> usize {
        self.len()
    }
    fn like(&self, values: Vec<f32>) -> Self {
        values
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
    /// The schedule A1111 gives it for "Automatic" (its `scheduler` option), if any.
    pub schedule: Option<Schedule>,
}

/// The samplers a booth or API client can ask for: A1111's, each run with a [`Schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    EulerAncestral,
    Euler,
    Lms,
    Heun,
    Dpm2,
    Dpm2Ancestral,
    DpmPp2sAncestral,
    DpmPpSde,
    DpmPp2m,
    DpmPp2mSde,
    Ddim,
    Plms,
    UniPc,
    Lcm,
}

/// The diffusers scheduler classes ported here, one file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffusersClass {
    EulerAncestralDiscrete,
    EulerDiscrete,
    DpmSolverMultistep,
    Ddim,
    Pndm,
    UniPcMultistep,
    Lcm,
}

impl DiffusersClass {
    pub fn name(self) -> &'static str {
        match self {
            DiffusersClass::EulerAncestralDiscrete => "EulerAncestralDiscreteScheduler",
            DiffusersClass::EulerDiscrete => "EulerDiscreteScheduler",
            DiffusersClass::DpmSolverMultistep => "DPMSolverMultistepScheduler",
            DiffusersClass::Ddim => "DDIMScheduler",
            DiffusersClass::Pndm => "PNDMScheduler",
            DiffusersClass::UniPcMultistep => "UniPCMultistepScheduler",
            DiffusersClass::Lcm => "LCMScheduler",
        }
    }
}

/// What runs a sampler with a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    /// The diffusers class, on the model's scheduler config (its spacing, offset, prediction).
    Diffusers(DiffusersClass),
    /// k-diffusion's loop over A1111's schedule (the config gives the noise levels and prediction).
    KDiffusion(KSampler, Schedule),
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 14] = [
        SchedulerKind::EulerAncestral,
        SchedulerKind::Euler,
        SchedulerKind::Lms,
        SchedulerKind::Heun,
        SchedulerKind::Dpm2,
        SchedulerKind::Dpm2Ancestral,
        SchedulerKind::DpmPp2sAncestral,
        SchedulerKind::DpmPpSde,
        SchedulerKind::DpmPp2m,
        SchedulerKind::DpmPp2mSde,
        SchedulerKind::Ddim,
        SchedulerKind::Plms,
        SchedulerKind::UniPc,
        SchedulerKind::Lcm,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::EulerAncestral => "euler-a",
            SchedulerKind::Euler => "euler",
            SchedulerKind::Lms => "lms",
            SchedulerKind::Heun => "heun",
            SchedulerKind::Dpm2 => "dpm2",
            SchedulerKind::Dpm2Ancestral => "dpm2-a",
            SchedulerKind::DpmPp2sAncestral => "dpmpp-2s-a",
            SchedulerKind::DpmPpSde => "dpmpp-sde",
            SchedulerKind::DpmPp2m => "dpmpp-2m",
            SchedulerKind::DpmPp2mSde => "dpmpp-2m-sde",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Plms => "plms",
            SchedulerKind::UniPc => "unipc",
            SchedulerKind::Lcm => "lcm",
        }
    }

    /// How A1111 (1.10) names this sampler: the one table behind `/sdapi/v1/samplers`, the
    /// API's `sampler_name` and the infotexts.
    pub fn a1111(self) -> A1111Sampler {
        use Schedule::{Exponential, Karras};
        let (name, aliases, schedule): (_, &[_], _) = match self {
            SchedulerKind::EulerAncestral => ("Euler a", &["k_euler_a", "k_euler_ancestral"], None),
            SchedulerKind::Euler => ("Euler", &["k_euler"], None),
            SchedulerKind::Lms => ("LMS", &["k_lms"], None),
            SchedulerKind::Heun => ("Heun", &["k_heun"], None),
            SchedulerKind::Dpm2 => ("DPM2", &["k_dpm_2"], Some(Karras)),
            SchedulerKind::Dpm2Ancestral => ("DPM2 a", &["k_dpm_2_a"], Some(Karras)),
            SchedulerKind::DpmPp2sAncestral => ("DPM++ 2S a", &["k_dpmpp_2s_a"], Some(Karras)),
            SchedulerKind::DpmPpSde => ("DPM++ SDE", &["k_dpmpp_sde"], Some(Karras)),
            SchedulerKind::DpmPp2m => ("DPM++ 2M", &["k_dpmpp_2m"], Some(Karras)),
            SchedulerKind::DpmPp2mSde => ("DPM++ 2M SDE", &["k_dpmpp_2m_sde"], Some(Exponential)),
            SchedulerKind::Ddim => ("DDIM", &["ddim"], None),
            SchedulerKind::Plms => ("PLMS", &["plms"], None),
            SchedulerKind::UniPc => ("UniPC", &["unipc"], None),
            SchedulerKind::Lcm => ("LCM", &["k_lcm"], None),
        };
        A1111Sampler { name, aliases, schedule }
    }

    /// The sampler with a schedule in one name, as A1111 wrote it before 1.9 and as old
    /// infotexts read ("DPM++ 2M Karras").
    pub fn a1111_name(self, schedule: Schedule) -> String {
        let a = self.a1111();
        match self.implementation(schedule) {
            Ok(Implementation::KDiffusion(_, Schedule::Karras)) => format!("{} Karras", a.name),
            Ok(Implementation::Diffusers(_)) if a.schedule == Some(Schedule::Karras) => format!("{} Karras", a.name),
            _ => a.name.to_string(),
        }
    }

    /// The diffusers class this sampler is where it runs as one, else k-diffusion's function.
    pub fn diffusers_class(self) -> &'static str {
        match (self.diffusers(), self.k_sampler()) {
            (Some(class), _) => class.name(),
            (None, Some(k)) => k.function(),
            (None, None) => unreachable!("every sampler is a diffusers class or a k-diffusion loop"),
        }
    }

    /// The diffusers class of this sampler, where diffusers has one.
    pub fn diffusers(self) -> Option<DiffusersClass> {
        match self {
            SchedulerKind::EulerAncestral => Some(DiffusersClass::EulerAncestralDiscrete),
            SchedulerKind::Euler => Some(DiffusersClass::EulerDiscrete),
            SchedulerKind::DpmPp2m => Some(DiffusersClass::DpmSolverMultistep),
            SchedulerKind::Ddim => Some(DiffusersClass::Ddim),
            SchedulerKind::Plms => Some(DiffusersClass::Pndm),
            SchedulerKind::UniPc => Some(DiffusersClass::UniPcMultistep),
            SchedulerKind::Lcm => Some(DiffusersClass::Lcm),
            SchedulerKind::Lms
            | SchedulerKind::Heun
            | SchedulerKind::Dpm2
            | SchedulerKind::Dpm2Ancestral
            | SchedulerKind::DpmPp2sAncestral
            | SchedulerKind::DpmPpSde
            | SchedulerKind::DpmPp2mSde => None,
        }
    }

    /// k-diffusion's loop for this sampler, where A1111 runs it with k-diffusion.
    pub fn k_sampler(self) -> Option<KSampler> {
        match self {
            SchedulerKind::EulerAncestral => Some(KSampler::EulerAncestral),
            SchedulerKind::Euler => Some(KSampler::Euler),
            SchedulerKind::Lms => Some(KSampler::Lms),
            SchedulerKind::Heun => Some(KSampler::Heun),
            SchedulerKind::Dpm2 => Some(KSampler::Dpm2),
            SchedulerKind::Dpm2Ancestral => Some(KSampler::Dpm2Ancestral),
            SchedulerKind::DpmPp2sAncestral => Some(KSampler::DpmPp2sAncestral),
            SchedulerKind::DpmPpSde => Some(KSampler::DpmPpSde),
            SchedulerKind::DpmPp2m => Some(KSampler::DpmPp2m),
            SchedulerKind::DpmPp2mSde => Some(KSampler::DpmPp2mSde),
            SchedulerKind::Ddim | SchedulerKind::Plms | SchedulerKind::UniPc | SchedulerKind::Lcm => None,
        }
    }

    /// What runs this sampler with `schedule`: the diffusers class where it has one and the
    /// schedule is its own ("Automatic", or DPM++ 2M's Karras); k-diffusion's loop over the
    /// schedule otherwise, "Automatic" being A1111's default for the sampler (else Uniform).
    /// DDIM, PLMS, UniPC and LCM step on the model's timesteps and take no other schedule.
    pub fn implementation(self, schedule: Schedule) -> Result<Implementation, String> {
        let own = self.a1111().schedule;
        if let Some(class) = self.diffusers().filter(|_| schedule == Schedule::Automatic || Some(schedule) == own) {
            return Ok(Implementation::Diffusers(class));
        }
        match (self.k_sampler(), schedule) {
            (Some(k), Schedule::Automatic) => Ok(Implementation::KDiffusion(k, own.unwrap_or(Schedule::Uniform))),
            (Some(k), schedule) => Ok(Implementation::KDiffusion(k, schedule)),
            (None, schedule) => Err(format!(
                "{} steps on the model's own timesteps and takes no {} schedule: use \"automatic\"",
                self.a1111().name,
                schedule.label()
            )),
        }
    }

    /// The sampler with `schedule` for `num_inference_steps` steps, from the model's scheduler
    /// config; an error names a key of the config this sampler cannot follow, or a schedule it
    /// does not take.
    pub fn build<S: Sample + 'static>(
        self,
        config: &SchedulerConfig,
        schedule: Schedule,
        num_inference_steps: usize,
    ) -> Result<Box<dyn Scheduler<S>>, String> {
        let c = config.resolve(self)?;
        let n = num_inference_steps.max(1);
        Ok(match self.implementation(schedule)? {
            Implementation::KDiffusion(k, schedule) => Box::new(k_diffusion::KDiffusionScheduler::new(k, schedule, &c, n)),
            Implementation::Diffusers(class) => match class {
                DiffusersClass::EulerAncestralDiscrete => Box::new(euler_ancestral_discrete::EulerAncestralDiscreteScheduler::new(&c, n)),
                DiffusersClass::EulerDiscrete => Box::new(euler_discrete::EulerDiscreteScheduler::new(&c, n)),
                DiffusersClass::DpmSolverMultistep => Box::new(dpmsolver_multistep::DpmSolverMultistepScheduler::new(&c, n)),
                DiffusersClass::Ddim => Box::new(ddim::DdimScheduler::new(&c, n)),
                DiffusersClass::Pndm => Box::new(pndm::PndmScheduler::new(&c, n)),
                DiffusersClass::UniPcMultistep => Box::new(unipc_multistep::UniPcMultistepScheduler::new(&c, n)),
                DiffusersClass::Lcm => Box::new(lcm::LcmScheduler::new(&c, n)),
            },
        })
    }

    /// A sampler named as the CLI, A1111 or an old A1111 infotext names it, with the schedule
    /// the name carries ("dpmpp-2m-karras", "DPM++ 2M Karras": Karras).
    pub fn parse_with_schedule(text: &str) -> Result<(SchedulerKind, Schedule), String> {
        let text = text.trim();
        let (base, schedule) = match text.strip_suffix(" Karras").or_else(|| text.strip_suffix("-karras")) {
            Some(base) => (base, Schedule::Karras),
            None => (text, Schedule::Automatic),
        };
        SchedulerKind::ALL
            .into_iter()
            .find(|k| {
                let a = k.a1111();
                k.name().eq_ignore_ascii_case(base)
                    || a.name.eq_ignore_ascii_case(base)
                    || a.aliases.iter().any(|n| n.eq_ignore_ascii_case(base))
            })
            .map(|k| (k, schedule))
            .ok_or_else(|| format!("unknown sampler {text:?}; use one of {}", SchedulerKind::ALL.map(|k| k.name()).join(", ")))
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SchedulerKind {
    type Err = String;

    /// A sampler by any of its names; a schedule in the name ("DPM++ 2M Karras") must be the
    /// sampler's own (use [`SchedulerKind::parse_with_schedule`] to keep another).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, schedule) = SchedulerKind::parse_with_schedule(s)?;
        if schedule == Schedule::Automatic || kind.a1111().schedule == Some(schedule) {
            Ok(kind)
        } else {
            Err(format!("{s:?} names a schedule; give the sampler {:?} and the schedule apart", kind.name()))
        }
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
    /// The picture's seed and noise source, for a sampler whose noise is not the generator's next
    /// draws (DPM++ SDE and DPM++ 2M SDE draw from A1111's Brownian tree of the seed). Without
    /// it every sampler draws through `step`'s `noise`.
    fn seed_noise(&mut self, _seed: u64, _source: crate::noise::NoiseSource) {}
    /// The first step img2img runs for `strength` (diffusers' `get_timesteps` unless the
    /// sampler says otherwise).
    fn img2img_start(&self, strength: f64) -> usize {
        img2img_start(self.timesteps().len(), strength)
    }
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
        assert!("restart".parse::<SchedulerKind>().unwrap_err().contains("dpmpp-2m-sde"));
    }

    #[test]
    fn every_sampler_reads_back_from_each_of_its_names() {
        assert_eq!(SchedulerKind::DpmPp2m.a1111_name(Schedule::Automatic), "DPM++ 2M Karras");
        assert_eq!(SchedulerKind::Euler.a1111_name(Schedule::Karras), "Euler Karras");
        assert_eq!(SchedulerKind::Lcm.a1111_name(Schedule::Automatic), "LCM");
        assert_eq!(SchedulerKind::parse_with_schedule("dpmpp-2m-karras"), Ok((SchedulerKind::DpmPp2m, Schedule::Karras)));
        assert_eq!("dpmpp-2m-karras".parse::<SchedulerKind>(), Ok(SchedulerKind::DpmPp2m), "booth configs written before");
        assert!("Heun Karras".parse::<SchedulerKind>().is_err(), "the schedule would be lost");
        for kind in SchedulerKind::ALL {
            let a = kind.a1111();
            for name in [kind.name(), a.name, &kind.a1111_name(Schedule::Automatic)] {
                assert_eq!(name.parse::<SchedulerKind>(), Ok(kind), "{name}");
            }
        }
    }

    #[test]
    fn a_sampler_runs_as_diffusers_on_its_own_schedule_and_as_k_diffusion_otherwise() {
        use Implementation::{Diffusers, KDiffusion};
        let run = |k: SchedulerKind, s| k.implementation(s);
        assert_eq!(run(SchedulerKind::Euler, Schedule::Automatic), Ok(Diffusers(DiffusersClass::EulerDiscrete)));
        assert_eq!(run(SchedulerKind::DpmPp2m, Schedule::Karras), Ok(Diffusers(DiffusersClass::DpmSolverMultistep)));
        assert_eq!(run(SchedulerKind::Euler, Schedule::Karras), Ok(KDiffusion(KSampler::Euler, Schedule::Karras)));
        assert_eq!(run(SchedulerKind::Heun, Schedule::Automatic), Ok(KDiffusion(KSampler::Heun, Schedule::Uniform)));
        assert_eq!(run(SchedulerKind::DpmPp2mSde, Schedule::Automatic), Ok(KDiffusion(KSampler::DpmPp2mSde, Schedule::Exponential)));
        assert_eq!(run(SchedulerKind::DpmPp2m, Schedule::Uniform), Ok(KDiffusion(KSampler::DpmPp2m, Schedule::Uniform)));
        assert!(run(SchedulerKind::Plms, Schedule::Karras).unwrap_err().contains("automatic"));
        // Every sampler builds on SD 1.5's config with every schedule it takes.
        for kind in SchedulerKind::ALL {
            for schedule in Schedule::ALL {
                if kind.implementation(schedule).is_ok() {
                    let s = kind.build::<Vec<f32>>(&SchedulerConfig::sd15(), schedule, 10).unwrap();
                    assert!(s.timesteps().len() >= 10, "{kind} {schedule:?}");
                }
            }
        }
    }
}

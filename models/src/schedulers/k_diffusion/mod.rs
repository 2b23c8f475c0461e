//! k-diffusion's samplers as A1111 runs them: the model wrapped as CompVisDenoiser (the UNet sees
//! `x / sqrt(sigma^2 + 1)` at the fractional timestep of its sigma; CompVisVDenoiser for
//! v-prediction), a noise schedule of [`Schedule`], and the sampler's loop of `sampling.py`
//! (k-diffusion 0.1.1) with A1111's settings (eta 1, s_noise 1, no churn).
//!
//! The pipeline calls the model once per entry of `timesteps()`, so a second-order sampler (Heun,
//! DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE) has two entries per step, as diffusers' Heun does: the
//! second one's input is what `step` returned for the first. Every noise level a step evaluates
//! is known from the schedule, so the list is fixed before sampling.
//!
//! Noise: the ancestral samplers draw from the generator after the first noise, as A1111's
//! `randn_like`. DPM++ SDE and DPM++ 2M SDE draw from A1111's Brownian tree of the picture's seed
//! ([`brownian`]) once the pipeline gives the seed (`seed_noise`), else from the generator too.

pub mod brownian;
pub mod schedule;

use super::config::{Prediction, Resolved};
use super::{Sample, Scheduler};
use crate::noise::NoiseSource;
use brownian::BrownianNoise;
pub use schedule::{DiscreteSchedule, Schedule};

/// The k-diffusion sampling loops A1111 offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KSampler {
    Euler,
    EulerAncestral,
    Lms,
    Heun,
    Dpm2,
    Dpm2Ancestral,
    DpmPp2sAncestral,
    DpmPpSde,
    DpmPp2m,
    DpmPp2mSde,
}

impl KSampler {
    /// k-diffusion's function for this loop.
    pub fn function(self) -> &'static str {
        match self {
            KSampler::Euler => "k-diffusion sample_euler",
            KSampler::EulerAncestral => "k-diffusion sample_euler_ancestral",
            KSampler::Lms => "k-diffusion sample_lms",
            KSampler::Heun => "k-diffusion sample_heun",
            KSampler::Dpm2 => "k-diffusion sample_dpm_2",
            KSampler::Dpm2Ancestral => "k-diffusion sample_dpm_2_ancestral",
            KSampler::DpmPp2sAncestral => "k-diffusion sample_dpmpp_2s_ancestral",
            KSampler::DpmPpSde => "k-diffusion sample_dpmpp_sde",
            KSampler::DpmPp2m => "k-diffusion sample_dpmpp_2m",
            KSampler::DpmPp2mSde => "k-diffusion sample_dpmpp_2m_sde",
        }
    }

    /// A1111 computes DPM2's schedule for one step more and drops the next-to-last sigma.
    fn discards_next_to_last_sigma(self) -> bool {
        match self {
            KSampler::Dpm2 | KSampler::Dpm2Ancestral => true,
            KSampler::Euler
            | KSampler::EulerAncestral
            | KSampler::Lms
            | KSampler::Heun
            | KSampler::DpmPp2sAncestral
            | KSampler::DpmPpSde
            | KSampler::DpmPp2m
            | KSampler::DpmPp2mSde => false,
        }
    }

    /// The noise level of a step's second model call, if it makes one.
    fn second_sigma(self, sigma: f32, next: f32) -> Option<f32> {
        match self {
            KSampler::Euler | KSampler::EulerAncestral | KSampler::Lms | KSampler::DpmPp2m | KSampler::DpmPp2mSde => None,
            KSampler::Heun => (next != 0.0).then_some(next),
            KSampler::Dpm2 => (next != 0.0).then(|| log_midpoint(sigma, next)),
            KSampler::Dpm2Ancestral => {
                let (down, _) = ancestral_step(sigma, next);
                (down != 0.0).then(|| log_midpoint(sigma, down))
            }
            KSampler::DpmPp2sAncestral => {
                let (down, _) = ancestral_step(sigma, next);
                (down != 0.0).then(|| {
                    let (t, t_next) = (t_fn(sigma), t_fn(down));
                    sigma_fn(t + 0.5 * (t_next - t))
                })
            }
            KSampler::DpmPpSde => (next != 0.0).then(|| {
                let (t, t_next) = (t_fn(sigma), t_fn(next));
                sigma_fn(t + (t_next - t) * SDE_R)
            }),
        }
    }
}

/// DPM++ SDE's midpoint fraction `r`.
const SDE_R: f32 = 0.5;

/// `-log(sigma)`: k-diffusion's time of a noise level for the DPM-Solver++ samplers.
fn t_fn(sigma: f32) -> f32 {
    -sigma.ln()
}

fn sigma_fn(t: f32) -> f32 {
    (-t).exp()
}

/// `sigma.log().lerp(to.log(), 0.5).exp()` (torch's lerp from the end for weights >= 0.5).
fn log_midpoint(sigma: f32, to: f32) -> f32 {
    let (a, b) = (sigma.ln(), to.ln());
    (b - (b - a) * 0.5).exp()
}

/// `get_ancestral_step` with eta 1: the level to step down to, and the noise to add.
fn ancestral_step(from: f32, to: f32) -> (f32, f32) {
    let up = to.min((to * to * (from * from - to * to) / (from * from)).sqrt());
    let down = (to * to - up * up).sqrt();
    (down, up)
}

/// `to_d`: the ODE's derivative at `x` from the denoised sample.
fn to_d<S: Sample>(x: &S, sigma: f32, denoised: &S) -> S {
    x.sub(denoised).div_scalar(sigma)
}

/// One model call: the step it belongs to and its noise level.
#[derive(Debug, Clone, Copy)]
struct Call {
    step: usize,
    second: bool,
    sigma: f32,
}

/// What a two-call step keeps between its calls, and what multistep samplers keep between steps.
struct Memory<S> {
    /// The step's start and its first call's derivative or denoised sample.
    start: Option<(S, S)>,
    /// DPM++ 2M (SDE): the previous step's denoised sample.
    old_denoised: Option<S>,
    /// LMS: the last derivatives, newest last.
    derivatives: Vec<S>,
}

pub struct KDiffusionScheduler<S> {
    sampler: KSampler,
    prediction: Prediction,
    /// The schedule's sigmas, the final 0 included.
    pub sigmas: Vec<f32>,
    calls: Vec<Call>,
    timesteps: Vec<f32>,
    memory: Memory<S>,
    /// The SDE samplers' Brownian tree, built at the first draw once seeded.
    brownian: Brownian,
}

enum Brownian {
    Unseeded,
    Seeded(u64, NoiseSource),
    Ready(BrownianNoise),
}

impl<S: Sample> KDiffusionScheduler<S> {
    pub fn new(sampler: KSampler, schedule: Schedule, config: &Resolved, steps: usize) -> Self {
        let discrete = DiscreteSchedule::new(&config.alphas_cumprod_finite());
        let sigmas = if sampler.discards_next_to_last_sigma() {
            let mut s = discrete.sigmas(schedule, steps + 1);
            s.remove(s.len() - 2);
            s
        } else {
            discrete.sigmas(schedule, steps)
        };
        let mut calls = Vec::new();
        for (step, pair) in sigmas.windows(2).enumerate() {
            calls.push(Call { step, second: false, sigma: pair[0] });
            if let Some(sigma) = sampler.second_sigma(pair[0], pair[1]) {
                calls.push(Call { step, second: true, sigma });
            }
        }
        let timesteps = calls.iter().map(|c| discrete.sigma_to_t(c.sigma)).collect();
        let memory = Memory { start: None, old_denoised: None, derivatives: Vec::new() };
        Self { sampler, prediction: config.prediction, sigmas, calls, timesteps, memory, brownian: Brownian::Unseeded }
    }

    /// The SDE samplers' noise for the step from `sigma` to `next`: the Brownian tree's when
    /// seeded, else the generator's next draw.
    fn sde_noise(&mut self, like: &S, sigma: f32, next: f32, noise: &mut dyn FnMut() -> S) -> S {
        if let Brownian::Seeded(seed, source) = self.brownian {
            self.brownian = Brownian::Ready(BrownianNoise::new(&self.sigmas, seed, like.numel(), source));
        }
        match &mut self.brownian {
            Brownian::Ready(tree) => like.like(tree.draw(sigma, next)),
            Brownian::Unseeded | Brownian::Seeded(..) => noise(),
        }
    }

    /// The denoised sample from the model's output at noise level `sigma` (CompVisDenoiser).
    fn denoised(&self, model_output: &S, sample: &S, sigma: f32) -> S {
        match self.prediction {
            Prediction::Epsilon => sample.add(&model_output.mul_scalar(-sigma)),
            Prediction::VPrediction => {
                let c_skip = 1.0 / (sigma * sigma + 1.0);
                let c_out = -sigma / (sigma * sigma + 1.0).sqrt();
                model_output.mul_scalar(c_out).add(&sample.mul_scalar(c_skip))
            }
        }
    }

    /// The step's first call, or its only one.
    fn first_call(&mut self, x: &S, denoised: S, i: usize, noise: &mut dyn FnMut() -> S) -> S {
        let (sigma, next) = (self.sigmas[i], self.sigmas[i + 1]);
        let two_calls = self.sampler.second_sigma(sigma, next);
        match self.sampler {
            KSampler::Euler => x.add(&to_d(x, sigma, &denoised).mul_scalar(next - sigma)),
            KSampler::EulerAncestral => {
                let (down, up) = ancestral_step(sigma, next);
                let x = x.add(&to_d(x, sigma, &denoised).mul_scalar(down - sigma));
                if next > 0.0 {
                    x.add(&noise().mul_scalar(up))
                } else {
                    x
                }
            }
            KSampler::Lms => {
                let memory = &mut self.memory.derivatives;
                memory.push(to_d(x, sigma, &denoised));
                if memory.len() > LMS_ORDER {
                    memory.remove(0);
                }
                let order = memory.len();
                let mut sum: Option<S> = None;
                for (j, d) in memory.iter().rev().enumerate() {
                    let term = d.mul_scalar(lms_coefficient(order, &self.sigmas, i, j) as f32);
                    sum = Some(match sum {
                        Some(s) => s.add(&term),
                        None => term,
                    });
                }
                x.add(&sum.expect("at least one derivative"))
            }
            KSampler::Heun | KSampler::Dpm2 => {
                let d = to_d(x, sigma, &denoised);
                match two_calls {
                    None => x.add(&d.mul_scalar(next - sigma)),
                    Some(second) => {
                        let dt = if self.sampler == KSampler::Heun { next - sigma } else { second - sigma };
                        let x_2 = x.add(&d.mul_scalar(dt));
                        self.memory.start = Some((x.clone(), d));
                        x_2
                    }
                }
            }
            KSampler::Dpm2Ancestral => {
                let (down, _) = ancestral_step(sigma, next);
                let d = to_d(x, sigma, &denoised);
                match two_calls {
                    None => x.add(&d.mul_scalar(down - sigma)),
                    Some(mid) => {
                        let x_2 = x.add(&d.mul_scalar(mid - sigma));
                        self.memory.start = Some((x.clone(), d));
                        x_2
                    }
                }
            }
            KSampler::DpmPp2sAncestral => match two_calls {
                None => {
                    let (down, _) = ancestral_step(sigma, next);
                    x.add(&to_d(x, sigma, &denoised).mul_scalar(down - sigma))
                }
                Some(_) => {
                    let (down, _) = ancestral_step(sigma, next);
                    let (t, t_next) = (t_fn(sigma), t_fn(down));
                    let h = t_next - t;
                    let s = t + 0.5 * h;
                    let x_2 = x.mul_scalar(sigma_fn(s) / sigma_fn(t)).sub(&denoised.mul_scalar((-h * 0.5).exp_m1()));
                    self.memory.start = Some((x.clone(), denoised));
                    x_2
                }
            },
            KSampler::DpmPpSde => match two_calls {
                None => x.add(&to_d(x, sigma, &denoised).mul_scalar(next - sigma)),
                Some(_) => {
                    let (t, t_next) = (t_fn(sigma), t_fn(next));
                    let s = t + (t_next - t) * SDE_R;
                    let (down, up) = ancestral_step(sigma_fn(t), sigma_fn(s));
                    let s_ = t_fn(down);
                    let x_2 = x.mul_scalar(sigma_fn(s_) / sigma_fn(t)).sub(&denoised.mul_scalar((t - s_).exp_m1()));
                    let x_2 = x_2.add(&self.sde_noise(x, sigma_fn(t), sigma_fn(s), noise).mul_scalar(up));
                    self.memory.start = Some((x.clone(), denoised));
                    x_2
                }
            },
            KSampler::DpmPp2m => {
                let old = self.memory.old_denoised.replace(denoised.clone());
                if next == 0.0 {
                    return denoised;
                }
                let (t, t_next) = (t_fn(sigma), t_fn(next));
                let h = t_next - t;
                let target = match old {
                    None => denoised,
                    Some(old) => {
                        let r = (t - t_fn(self.sigmas[i - 1])) / h;
                        denoised.mul_scalar(1.0 + 1.0 / (2.0 * r)).sub(&old.mul_scalar(1.0 / (2.0 * r)))
                    }
                };
                x.mul_scalar(sigma_fn(t_next) / sigma_fn(t)).sub(&target.mul_scalar((-h).exp_m1()))
            }
            KSampler::DpmPp2mSde => {
                let old = self.memory.old_denoised.replace(denoised.clone());
                if next == 0.0 {
                    return denoised;
                }
                let (t, s) = (-sigma.ln(), -next.ln());
                let h = s - t;
                let eta_h = h;
                let x = x.mul_scalar(next / sigma * (-eta_h).exp()).add(&denoised.mul_scalar(-(-h - eta_h).exp_m1()));
                let x = match old {
                    None => x,
                    Some(old) => {
                        let h_last = -sigma.ln() + self.sigmas[i - 1].ln();
                        let r = h_last / h;
                        x.add(&denoised.sub(&old).mul_scalar(0.5 * -(-h - eta_h).exp_m1() * (1.0 / r)))
                    }
                };
                x.add(&self.sde_noise(&x, sigma, next, noise).mul_scalar(next * (-(-2.0 * eta_h).exp_m1()).sqrt()))
            }
        }
    }

    /// The step's second call: its input is what the first returned.
    fn second_call(&mut self, x_2: &S, denoised_2: S, i: usize, mid: f32, noise: &mut dyn FnMut() -> S) -> S {
        let (sigma, next) = (self.sigmas[i], self.sigmas[i + 1]);
        let (x, first) = self.memory.start.take().expect("the step's first call came before");
        match self.sampler {
            KSampler::Heun => {
                let d_2 = to_d(x_2, next, &denoised_2);
                x.add(&first.add(&d_2).div_scalar(2.0).mul_scalar(next - sigma))
            }
            KSampler::Dpm2 => x.add(&to_d(x_2, mid, &denoised_2).mul_scalar(next - sigma)),
            KSampler::Dpm2Ancestral => {
                let (down, up) = ancestral_step(sigma, next);
                let x = x.add(&to_d(x_2, mid, &denoised_2).mul_scalar(down - sigma));
                x.add(&noise().mul_scalar(up))
            }
            KSampler::DpmPp2sAncestral => {
                let (down, up) = ancestral_step(sigma, next);
                let (t, t_next) = (t_fn(sigma), t_fn(down));
                let h = t_next - t;
                let x = x.mul_scalar(sigma_fn(t_next) / sigma_fn(t)).sub(&denoised_2.mul_scalar((-h).exp_m1()));
                if next > 0.0 {
                    x.add(&noise().mul_scalar(up))
                } else {
                    x
                }
            }
            KSampler::DpmPpSde => {
                let (t, t_next) = (t_fn(sigma), t_fn(next));
                let fac = 1.0 / (2.0 * SDE_R);
                let (down, up) = ancestral_step(sigma_fn(t), sigma_fn(t_next));
                let t_next_ = t_fn(down);
                let denoised_d = first.mul_scalar(1.0 - fac).add(&denoised_2.mul_scalar(fac));
                let x = x.mul_scalar(sigma_fn(t_next_) / sigma_fn(t)).sub(&denoised_d.mul_scalar((t - t_next_).exp_m1()));
                x.add(&self.sde_noise(&x, sigma_fn(t), sigma_fn(t_next), noise).mul_scalar(up))
            }
            KSampler::Euler | KSampler::EulerAncestral | KSampler::Lms | KSampler::DpmPp2m | KSampler::DpmPp2mSde => {
                unreachable!("{:?} calls the model once a step", self.sampler)
            }
        }
    }

    /// The first call of the img2img start, as A1111's `sample_img2img`: `t_enc = int(min(strength,
    /// 0.999) * steps)` steps after the first, from sigma `steps - t_enc - 1`.
    fn first_call_of_img2img(&self, strength: f64) -> usize {
        let steps = self.sigmas.len() - 1;
        let t_enc = (strength.min(0.999) * steps as f64) as usize;
        let step = steps.saturating_sub(t_enc + 1);
        self.calls.iter().position(|c| c.step == step && !c.second).unwrap_or(0)
    }
}

/// LMS's order.
const LMS_ORDER: usize = 4;

/// `linear_multistep_coeff`: the integral over [sigma_i, sigma_i+1] of the Lagrange basis
/// polynomial of the `j`-th last of `order` nodes. The polynomial has degree < 4, so 4-point
/// Gauss-Legendre is exact (k-diffusion integrates it numerically, to ~1e-16 here).
fn lms_coefficient(order: usize, t: &[f32], i: usize, j: usize) -> f64 {
    let basis =
        |tau: f64| -> f64 { (0..order).filter(|k| *k != j).map(|k| (tau - t[i - k] as f64) / (t[i - j] - t[i - k]) as f64).product() };
    let (a, b) = (t[i] as f64, t[i + 1] as f64);
    let (half, mid) = ((b - a) / 2.0, (a + b) / 2.0);
    let nodes = [(0.3399810435848563, 0.6521451548625461), (0.8611363115940526, 0.3478548451374538)];
    half * nodes.iter().map(|(x, w)| w * (basis(mid - half * x) + basis(mid + half * x))).sum::<f64>()
}

impl<S: Sample> Scheduler<S> for KDiffusionScheduler<S> {
    fn timesteps(&self) -> &[f32] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.sigmas[0]
    }

    fn scale_model_input(&self, sample: &S, index: usize) -> S {
        let sigma = self.calls[index].sigma;
        sample.mul_scalar(1.0 / (sigma * sigma + 1.0).sqrt())
    }

    fn step(&mut self, model_output: &S, index: usize, sample: &S, noise: &mut dyn FnMut() -> S) -> S {
        let call = self.calls[index];
        let denoised = self.denoised(model_output, sample, call.sigma);
        if call.second {
            self.second_call(sample, denoised, call.step, call.sigma, noise)
        } else {
            self.first_call(sample, denoised, call.step, noise)
        }
    }

    fn add_noise(&self, original: &S, noise: &S, index: usize) -> S {
        original.add(&noise.mul_scalar(self.calls[index].sigma))
    }

    fn img2img_start(&self, strength: f64) -> usize {
        self.first_call_of_img2img(strength)
    }

    fn seed_noise(&mut self, seed: u64, source: NoiseSource) {
        if matches!(self.sampler, KSampler::DpmPpSde | KSampler::DpmPp2mSde) {
            self.brownian = Brownian::Seeded(seed, source);
        }
    }
}

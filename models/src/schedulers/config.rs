//! A model's `scheduler/scheduler_config.json` read as diffusers reads it: the keys the file sets
//! win, every other key is the chosen scheduler class's own default (`Class.from_config(config)`
//! leaves out what the file did not say). A single-file checkpoint has no such file: it gets SD
//! 1.5's (the hub's `scheduler_config.json`), unless one is given (`--scheduler-config FILE`).
//!
//! What the samplers here read: the noise schedule (`beta_schedule`, `beta_start`, `beta_end`,
//! `trained_betas`, `num_train_timesteps`, `rescale_betas_zero_snr`), `prediction_type`
//! (epsilon or v_prediction), `timestep_spacing` and `steps_offset`, and DDIM's and LCM's
//! `set_alpha_to_one`, `clip_sample`, `clip_sample_range`, `original_inference_steps`,
//! `timestep_scaling`. A key a class has but this port does not implement is refused when the
//! file sets it to anything but the class's default, naming the key.

use std::path::Path;

use serde_json::{Map, Value};

use super::{torch_linspace_f32, SchedulerKind};

/// The keys a scheduler config sets, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// The file's keys, diffusers' private ones (`_class_name`, ...) left out.
    keys: Map<String, Value>,
    /// Where they came from (a path, or "SD 1.5's"), for messages and `models inspect`.
    pub source: String,
}

/// SD 1.5's `scheduler/scheduler_config.json` on the hub (runwayml/stable-diffusion-v1-5).
const SD15_HUB: &str = r#"{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000, "set_alpha_to_one": false,
    "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}"#;

/// The noise schedule's betas.
#[derive(Debug, Clone, PartialEq)]
pub enum Betas {
    Linear {
        start: f64,
        end: f64,
    },
    ScaledLinear {
        start: f64,
        end: f64,
    },
    /// Glide's cosine schedule (`squaredcos_cap_v2`).
    SquaredCosCapV2,
    Trained(Vec<f32>),
}

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    Epsilon,
    VPrediction,
}

/// How the inference timesteps are spread over the training ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spacing {
    Linspace,
    Leading,
    Trailing,
}

/// A config resolved for one sampler: the file's keys over the class's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub num_train_timesteps: usize,
    pub betas: Betas,
    pub prediction: Prediction,
    pub spacing: Spacing,
    pub steps_offset: usize,
    pub rescale_betas_zero_snr: bool,
    /// DDIM: the alpha before the first training step is 1 (else alphas_cumprod[0]).
    pub set_alpha_to_one: bool,
    /// DDIM, LCM: the predicted original clamped to +-this.
    pub clip_sample: Option<f32>,
    /// LCM.
    pub original_inference_steps: usize,
    pub timestep_scaling: f64,
}

impl SchedulerConfig {
    /// SD 1.5's config, for models that bring none.
    pub fn sd15() -> Self {
        Self::from_json(SD15_HUB, "SD 1.5's scheduler_config.json").expect("the built-in config is valid")
    }

    /// A config from JSON text (`source` names it in messages).
    pub fn from_json(text: &str, source: &str) -> Result<Self, String> {
        // Python's json writes -inf (DPM-Solver's lambda_min_clipped) as -Infinity.
        let value: Value = serde_json::from_str(&python_json(text)).map_err(|e| format!("{source}: not valid JSON: {e}"))?;
        let Value::Object(all) = value else { return Err(format!("{source}: a scheduler config is a JSON object")) };
        let keys = all.into_iter().filter(|(k, _)| !k.starts_with('_')).collect();
        Ok(Self { keys, source: source.to_string() })
    }

    /// The config at `path` (a model folder's `scheduler/scheduler_config.json`, or any file).
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// The keys as JSON (what a booth file records).
    pub fn to_json(&self) -> String {
        Value::Object(self.keys.clone()).to_string()
    }

    /// The config for `kind`: the file's keys over that class's defaults; an unsupported value
    /// is an error naming the key.
    pub fn resolve(&self, kind: SchedulerKind) -> Result<Resolved, String> {
        let class = kind.diffusers_class();
        let here = |key: &str| self.keys.get(key).filter(|v| !v.is_null());
        let wrong = |key: &str, want: &str| format!("{}: {key} must be {want} ({class})", self.source);
        let number = |key: &str, default: f64| -> Result<f64, String> {
            here(key).map_or(Ok(default), |v| v.as_f64().ok_or_else(|| wrong(key, "a number")))
        };
        let whole = |key: &str, default: usize| -> Result<usize, String> {
            here(key).map_or(Ok(default), |v| v.as_u64().map(|n| n as usize).ok_or_else(|| wrong(key, "a whole number")))
        };
        let flag = |key: &str, default: bool| -> Result<bool, String> {
            here(key).map_or(Ok(default), |v| v.as_bool().ok_or_else(|| wrong(key, "true or false")))
        };
        let text = |key: &str, default: &'static str| -> Result<String, String> {
            here(key).map_or(Ok(default.to_string()), |v| v.as_str().map(str::to_string).ok_or_else(|| wrong(key, "a string")))
        };
        // Keys whose other values this port does not implement, with the value it does.
        for (key, supported) in unsupported_keys(kind) {
            if let Some(v) = here(key) {
                if *v != supported && !forced_by_the_sampler(kind, key) {
                    return Err(format!(
                        "{}: {key} = {v} is not supported for {} ({class}); only {supported} is (remove the key or use another sampler)",
                        self.source,
                        kind.a1111().name
                    ));
                }
            }
        }
        let (beta_start, beta_end, schedule) = if kind.diffusers().is_some() && kind != SchedulerKind::Lcm {
            (0.0001, 0.02, "linear")
        } else {
            // LCM's, and SD's own for the k-diffusion samplers (A1111 reads the model's).
            (0.00085, 0.012, "scaled_linear")
        };
        let (start, end) = (number("beta_start", beta_start)?, number("beta_end", beta_end)?);
        let betas = match here("trained_betas") {
            Some(Value::Array(list)) => Betas::Trained(
                list.iter()
                    .map(|v| v.as_f64().map(|b| b as f32))
                    .collect::<Option<_>>()
                    .ok_or_else(|| wrong("trained_betas", "a list of numbers"))?,
            ),
            Some(_) => return Err(wrong("trained_betas", "a list of numbers")),
            None => match text("beta_schedule", schedule)?.as_str() {
                "linear" => Betas::Linear { start, end },
                "scaled_linear" => Betas::ScaledLinear { start, end },
                "squaredcos_cap_v2" => Betas::SquaredCosCapV2,
                other => return Err(wrong("beta_schedule", &format!("linear, scaled_linear or squaredcos_cap_v2, not {other:?}"))),
            },
        };
        let prediction = match text("prediction_type", "epsilon")?.as_str() {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::VPrediction,
            other => return Err(wrong("prediction_type", &format!("epsilon or v_prediction, not {other:?}"))),
        };
        // The k-diffusion samplers do not space timesteps (their schedule is in sigmas).
        let default_spacing = match kind {
            SchedulerKind::Ddim | SchedulerKind::Lcm | SchedulerKind::Plms => "leading",
            SchedulerKind::EulerAncestral
            | SchedulerKind::Euler
            | SchedulerKind::DpmPp2m
            | SchedulerKind::UniPc
            | SchedulerKind::Lms
            | SchedulerKind::Heun
            | SchedulerKind::Dpm2
            | SchedulerKind::Dpm2Ancestral
            | SchedulerKind::DpmPp2sAncestral
            | SchedulerKind::DpmPpSde
            | SchedulerKind::DpmPp2mSde => "linspace",
        };
        let spacing = match text("timestep_spacing", default_spacing)?.as_str() {
            "linspace" => Spacing::Linspace,
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            other => return Err(wrong("timestep_spacing", &format!("linspace, leading or trailing, not {other:?}"))),
        };
        let num_train_timesteps = whole("num_train_timesteps", 1000)?;
        if let Betas::Trained(list) = &betas {
            if list.len() != num_train_timesteps {
                return Err(wrong("trained_betas", &format!("{num_train_timesteps} values (num_train_timesteps)")));
            }
        }
        if num_train_timesteps < 2 {
            return Err(wrong("num_train_timesteps", "at least 2"));
        }
        let clip_default = kind == SchedulerKind::Ddim;
        let clips = matches!(kind, SchedulerKind::Ddim | SchedulerKind::Lcm) && flag("clip_sample", clip_default)?;
        Ok(Resolved {
            num_train_timesteps,
            betas,
            prediction,
            spacing,
            steps_offset: whole("steps_offset", 0)?,
            rescale_betas_zero_snr: flag("rescale_betas_zero_snr", false)?,
            set_alpha_to_one: flag("set_alpha_to_one", kind != SchedulerKind::Plms)?,
            clip_sample: clips.then(|| number("clip_sample_range", 1.0)).transpose()?.map(|r| r as f32),
            original_inference_steps: whole("original_inference_steps", 50)?,
            timestep_scaling: number("timestep_scaling", 10.0)?,
        })
    }
}

/// Per class, the keys it has whose other values are not implemented here, with the one that is.
fn unsupported_keys(kind: SchedulerKind) -> Vec<(&'static str, Value)> {
    let mut keys = vec![("thresholding", Value::Bool(false))];
    let sigmas = [
        ("use_karras_sigmas", Value::Bool(false)),
        ("use_exponential_sigmas", Value::Bool(false)),
        ("use_beta_sigmas", Value::Bool(false)),
        ("final_sigmas_type", Value::from("zero")),
    ];
    match kind {
        SchedulerKind::Euler => {
            keys.extend(sigmas);
            keys.extend([("interpolation_type", Value::from("linear")), ("timestep_type", Value::from("discrete"))]);
        }
        SchedulerKind::EulerAncestral | SchedulerKind::Ddim | SchedulerKind::Lcm | SchedulerKind::Plms => {}
        SchedulerKind::DpmPp2m => {
            keys.extend(sigmas);
            keys.extend([
                ("algorithm_type", Value::from("dpmsolver++")),
                ("solver_order", Value::from(2)),
                ("solver_type", Value::from("midpoint")),
                ("lower_order_final", Value::Bool(true)),
                ("euler_at_final", Value::Bool(false)),
                ("use_lu_lambdas", Value::Bool(false)),
            ]);
        }
        SchedulerKind::UniPc => {
            keys.extend(sigmas);
            keys.extend([
                ("solver_order", Value::from(2)),
                ("solver_type", Value::from("bh2")),
                ("predict_x0", Value::Bool(true)),
                ("lower_order_final", Value::Bool(true)),
                ("disable_corrector", Value::Array(Vec::new())),
                ("use_flow_sigmas", Value::Bool(false)),
            ]);
        }
        // k-diffusion reads the noise levels and the prediction type only.
        SchedulerKind::Lms
        | SchedulerKind::Heun
        | SchedulerKind::Dpm2
        | SchedulerKind::Dpm2Ancestral
        | SchedulerKind::DpmPp2sAncestral
        | SchedulerKind::DpmPpSde
        | SchedulerKind::DpmPp2mSde => keys.clear(),
    }
    keys
}

/// Keys a sampler sets itself whatever the file says: DPM++ 2M is run with Karras sigmas.
/// (PLMS likewise always skips PNDM's Runge-Kutta warm-up, as SD 1.5's config says.)
fn forced_by_the_sampler(kind: SchedulerKind, key: &str) -> bool {
    matches!((kind, key), (SchedulerKind::DpmPp2m, "use_karras_sigmas"))
}

/// Python's JSON extensions (-Infinity, Infinity, NaN outside strings) as null, which every
/// key here reads as "not set".
fn python_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string {
            if let Some(word) = ["-Infinity", "Infinity", "NaN"].into_iter().find(|w| rest.starts_with(w)) {
                out.push_str("null");
                rest = &rest[word.len()..];
                continue;
            }
        }
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_string = !in_string,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

impl Resolved {
    /// The training betas (float32, as diffusers' torch tensors), zero-SNR rescaled when asked.
    pub fn betas(&self) -> Vec<f32> {
        let n = self.num_train_timesteps;
        let betas: Vec<f32> = match &self.betas {
            Betas::Linear { start, end } => torch_linspace_f32(*start as f32, *end as f32, n),
            Betas::ScaledLinear { start, end } => {
                torch_linspace_f32(start.sqrt() as f32, end.sqrt() as f32, n).into_iter().map(|b| b * b).collect()
            }
            Betas::SquaredCosCapV2 => {
                let alpha_bar = |t: f64| ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos().powi(2);
                (0..n)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                    })
                    .collect()
            }
            Betas::Trained(list) => list.clone(),
        };
        if self.rescale_betas_zero_snr {
            rescale_zero_terminal_snr(&betas)
        } else {
            betas
        }
    }

    /// `alphas_cumprod`, float32.
    pub fn alphas_cumprod(&self) -> Vec<f32> {
        cumprod(&self.betas().iter().map(|b| 1.0 - b).collect::<Vec<f32>>())
    }

    /// Euler's, Euler a's and DPM-Solver's: with a zero-SNR schedule the last alpha is 2^-24, so
    /// the first sigma is large but finite.
    pub fn alphas_cumprod_finite(&self) -> Vec<f32> {
        let mut ac = self.alphas_cumprod();
        if self.rescale_betas_zero_snr {
            if let Some(last) = ac.last_mut() {
                *last = 2f32.powi(-24);
            }
        }
        ac
    }
}

/// `torch.cumprod` of a float32 tensor on the CPU: accumulated in double, each value rounded.
fn cumprod(values: &[f32]) -> Vec<f32> {
    let mut acc = 1.0f64;
    values
        .iter()
        .map(|v| {
            acc *= *v as f64;
            acc as f32
        })
        .collect()
}

/// diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, algorithm 1), in float32 as its
/// torch ops run.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas_cumprod = cumprod(&betas.iter().map(|b| 1.0 - b).collect::<Vec<f32>>());
    let mut sqrt: Vec<f32> = alphas_cumprod.iter().map(|a| a.sqrt()).collect();
    let (first, last) = (sqrt[0], sqrt[sqrt.len() - 1]);
    let scale = first / (first - last);
    for s in &mut sqrt {
        *s -= last;
        *s *= scale;
    }
    let bar: Vec<f32> = sqrt.iter().map(|s| s * s).collect();
    let mut alphas = vec![bar[0]];
    alphas.extend(bar.windows(2).map(|w| w[1] / w[0]));
    alphas.into_iter().map(|a| 1.0 - a).collect()
}

/// `np.round`: halves to even.
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// `np.arange(start, stop, step)` (float step), as numpy sizes it: ceil((stop - start) / step).
pub fn np_arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil().max(0.0) as usize;
    (0..len).map(|i| start + i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_keys_win_and_the_rest_are_the_classs_defaults() {
        let sd15 = SchedulerConfig::sd15();
        let euler = sd15.resolve(SchedulerKind::Euler).unwrap();
        assert_eq!((euler.spacing, euler.steps_offset, euler.prediction), (Spacing::Linspace, 1, Prediction::Epsilon));
        assert_eq!(euler.betas, Betas::ScaledLinear { start: 0.00085, end: 0.012 });
        let ddim = sd15.resolve(SchedulerKind::Ddim).unwrap();
        assert_eq!((ddim.spacing, ddim.set_alpha_to_one, ddim.clip_sample), (Spacing::Leading, false, None));
        // An empty file: each class's own defaults (DDIM clips and sets alpha to one).
        let empty = SchedulerConfig::from_json("{}", "x").unwrap();
        let ddim = empty.resolve(SchedulerKind::Ddim).unwrap();
        assert_eq!(
            (ddim.betas.clone(), ddim.set_alpha_to_one, ddim.clip_sample),
            (Betas::Linear { start: 0.0001, end: 0.02 }, true, Some(1.0))
        );
        assert_eq!(empty.resolve(SchedulerKind::Lcm).unwrap().betas, Betas::ScaledLinear { start: 0.00085, end: 0.012 });
        let v = SchedulerConfig::from_json(
            r#"{"prediction_type": "v_prediction", "timestep_spacing": "trailing",
            "lambda_min_clipped": -Infinity, "_class_name": "DPMSolverMultistepScheduler", "note": "NaN -Infinity"}"#,
            "v.json",
        )
        .unwrap();
        assert_eq!(v.resolve(SchedulerKind::DpmPp2m).unwrap().prediction, Prediction::VPrediction);
        assert!(!v.to_json().contains("_class_name") && v.to_json().contains("NaN -Infinity"));
        let sample = SchedulerConfig::from_json(r#"{"prediction_type": "sample"}"#, "s.json").unwrap();
        assert!(sample.resolve(SchedulerKind::Euler).unwrap_err().contains("prediction_type"));
        let karras = SchedulerConfig::from_json(r#"{"use_karras_sigmas": true}"#, "k.json").unwrap();
        assert!(karras.resolve(SchedulerKind::Euler).unwrap_err().contains("use_karras_sigmas = true"));
        assert!(karras.resolve(SchedulerKind::DpmPp2m).is_ok(), "DPM++ 2M Karras sets it itself");
        let third = SchedulerConfig::from_json(r#"{"solver_order": 3}"#, "o.json").unwrap();
        assert!(third.resolve(SchedulerKind::DpmPp2m).unwrap_err().contains("solver_order"));
        assert!(third.resolve(SchedulerKind::Euler).is_ok(), "Euler has no solver_order");
        assert!(SchedulerConfig::from_json("[1]", "l.json").unwrap_err().contains("JSON object"));
    }

    #[test]
    fn numpy_sizes_a_float_arange_as_it_does() {
        assert_eq!(np_arange(1000.0, 0.0, -1000.0 / 7.0).len(), 7);
        assert_eq!(np_arange(1000.0, 0.0, -250.0), vec![1000.0, 750.0, 500.0, 250.0]);
        assert_eq!((round_half_even(0.5), round_half_even(1.5), round_half_even(2.5)), (0.0, 2.0, 2.0));
    }
}

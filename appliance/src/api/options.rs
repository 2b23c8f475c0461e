//! A1111's settings (GET/POST /sdapi/v1/options, and a request's `override_settings`): the keys
//! clients read and send, with A1111's defaults, and what the booth does with each. A key A1111
//! does not have is ignored, as A1111 ignores it; a value of the wrong type, or one that would
//! change the picture in a way this booth does not do, is answered 422 naming the key.

use keepsake_models::noise::NoiseSource;
use keepsake_models::torch_rng::NormalKernel;
use serde_json::{json, Map, Value};

use super::request::ApiError;

/// A1111's `randn_source`: where the noise comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RandnSource {
    /// torch's CPU generator (diffusers with `torch.Generator("cpu")`, A1111's "CPU").
    Cpu,
    /// What a CUDA GPU's torch.randn draws (A1111's default "GPU" on an NVIDIA card).
    Gpu,
    /// A1111's CPU port of the GPU's generator: the same numbers as "GPU".
    Nv,
}

impl RandnSource {
    pub const ALL: [RandnSource; 3] = [RandnSource::Cpu, RandnSource::Gpu, RandnSource::Nv];

    /// As A1111's settings spell it.
    pub fn name(self) -> &'static str {
        match self {
            RandnSource::Cpu => "CPU",
            RandnSource::Gpu => "GPU",
            RandnSource::Nv => "NV",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The noise it draws; `kernel` is the CPU generator's Box-Muller arithmetic.
    pub fn noise(self, kernel: NormalKernel) -> NoiseSource {
        match self {
            RandnSource::Cpu => NoiseSource::Cpu(kernel),
            RandnSource::Gpu | RandnSource::Nv => NoiseSource::Nv,
        }
    }
}

/// How many ControlNet units the extension's form shows (a request may send more here).
pub const CONTROLNET_UNITS: u32 = 3;

/// What the booth does with a setting.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Use {
    /// It changes what the booth does (checked where it is used: the checkpoint, clip skip).
    Used,
    /// Only the client's business (what its UI shows): kept as sent.
    ClientSide,
    /// It would change the picture in a way this booth does not: only the value here is taken.
    Fixed,
}

/// (key, A1111's default or this booth's value, use).
fn table() -> [(&'static str, Value, Use); 26] {
    [
        ("sd_model_checkpoint", Value::Null, Use::Used),
        ("CLIP_stop_at_last_layers", json!(1), Use::Used),
        ("sd_checkpoint_hash", Value::Null, Use::Fixed),
        ("sd_vae", json!("Automatic"), Use::Fixed),
        ("sd_unet", json!("Automatic"), Use::Fixed),
        ("samples_format", json!("png"), Use::Fixed),
        // Set at start (`--rng`); "CPU", "GPU" or "NV".
        ("randn_source", json!("CPU"), Use::Used),
        ("eta_noise_seed_delta", json!(0), Use::Fixed),
        ("eta_ancestral", json!(1.0), Use::Fixed),
        ("eta_ddim", json!(0.0), Use::Fixed),
        ("s_churn", json!(0.0), Use::Fixed),
        ("s_tmin", json!(0.0), Use::Fixed),
        ("s_tmax", json!(0.0), Use::Fixed),
        ("s_noise", json!(1.0), Use::Fixed),
        ("always_discard_next_to_last_sigma", json!(false), Use::Fixed),
        ("enable_emphasis", json!(true), Use::Fixed),
        ("img2img_fix_steps", json!(false), Use::Fixed),
        ("token_merging_ratio", json!(0.0), Use::Fixed),
        ("upcast_attn", json!(false), Use::Fixed),
        ("send_seed", json!(true), Use::ClientSide),
        ("send_size", json!(true), Use::ClientSide),
        ("jpeg_quality", json!(80), Use::ClientSide),
        ("live_previews_enable", json!(true), Use::ClientSide),
        ("show_progress_every_n_steps", json!(10), Use::ClientSide),
        ("return_grid", json!(true), Use::ClientSide),
        ("control_net_unit_count", json!(CONTROLNET_UNITS), Use::ClientSide),
    ]
}

/// The settings as GET /options first answers them, for the checkpoint titled `checkpoint`.
pub fn defaults(checkpoint: &str, rng: RandnSource) -> Map<String, Value> {
    table()
        .into_iter()
        .map(|(key, value, _)| {
            let value = match key {
                "sd_model_checkpoint" => Value::from(checkpoint),
                "randn_source" => Value::from(rng.name()),
                _ => value,
            };
            (key.to_string(), value)
        })
        .collect()
}

fn same_kind(a: &Value, b: &Value) -> bool {
    matches!((a, b), (Value::Bool(_), Value::Bool(_)) | (Value::Number(_), Value::Number(_)) | (Value::String(_), Value::String(_)))
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Checks one setting sent by a client (`at`: where, for the error: "sd_vae" or
/// "override_settings.sd_vae"). Ok(None): A1111 has no such key (ignored); Ok(Some(value)):
/// the value to keep.
pub fn check(key: &str, value: &Value, at: &str) -> Result<Option<Value>, ApiError> {
    let Some((_, here, usage)) = table().into_iter().find(|(k, _, _)| *k == key) else { return Ok(None) };
    match usage {
        Use::Used => {
            if key == "CLIP_stop_at_last_layers" && !value.as_u64().is_some_and(|n| (1..=12).contains(&n)) {
                return Err(ApiError::field(at, "use a whole number from 1 to 12"));
            }
            if key == "sd_model_checkpoint" && !value.is_string() {
                return Err(ApiError::field(at, "must be a checkpoint title (see /sdapi/v1/sd-models)"));
            }
            if key == "randn_source" && !value.as_str().is_some_and(|s| RandnSource::named(s).is_some()) {
                return Err(ApiError::field(at, "use \"CPU\", \"GPU\" or \"NV\" (GPU and NV draw the same numbers here)"));
            }
            Ok(Some(value.clone()))
        }
        Use::ClientSide if same_kind(value, &here) => Ok(Some(value.clone())),
        Use::ClientSide => Err(ApiError::field(at, format!("must be like {here} (A1111's default)"))),
        Use::Fixed if same_value(value, &here) || value.is_null() => Ok(Some(here)),
        Use::Fixed => Err(ApiError::field(
            at,
            format!("{value} is not available on this booth: it runs with {here} (send that, or leave the key out)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_kept_checked_or_ignored_as_their_key_says() {
        let d = defaults("sd-tiny", RandnSource::Cpu);
        assert_eq!((&d["sd_model_checkpoint"], &d["send_seed"], &d["randn_source"]), (&json!("sd-tiny"), &json!(true), &json!("CPU")));
        assert_eq!(defaults("x", RandnSource::Gpu)["randn_source"], json!("GPU"));
        assert_eq!(check("randn_source", &json!("NV"), "x").unwrap(), Some(json!("NV")));
        assert_eq!(check("send_seed", &json!(false), "send_seed").unwrap(), Some(json!(false)));
        assert!(check("send_seed", &json!("no"), "send_seed").is_err());
        assert_eq!(check("no_such_setting", &json!([1, 2, 3]), "x").unwrap(), None);
        assert_eq!(check("eta_ddim", &json!(0), "eta_ddim").unwrap(), Some(json!(0.0)));
        let ApiError::Invalid(p) = check("randn_source", &json!("TPU"), "override_settings.randn_source").unwrap_err() else { panic!() };
        assert_eq!(p[0].loc, [json!("body"), json!("override_settings"), json!("randn_source")]);
        assert!(p[0].msg.contains("\"CPU\""), "{}", p[0].msg);
        let ApiError::Invalid(p) = check("eta_noise_seed_delta", &json!(31337), "eta_noise_seed_delta").unwrap_err() else { panic!() };
        assert!(p[0].msg.contains("runs with 0"), "{}", p[0].msg);
        assert!(check("CLIP_stop_at_last_layers", &json!(13), "x").is_err());
        assert_eq!(check("CLIP_stop_at_last_layers", &json!(2), "x").unwrap(), Some(json!(2)));
    }
}

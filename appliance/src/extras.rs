//! LoRAs and textual-inversion embeddings added to a loaded model: the booth's `style.loras`, and
//! `--lora FILE[:WEIGHT]` / `--embedding FILE` of `keepsake generate` and `keepsake models bake`;
//! and `--scheduler-config FILE`, the scheduler config a model's samplers are built from.

use std::path::{Path, PathBuf};

use keepsake_models::edits::lora::Lora;
use keepsake_models::edits::textual_inversion::TextualInversion;
use keepsake_models::pipeline::StableDiffusion;
use keepsake_models::schedulers::{SchedulerConfig, SchedulerKind};

use crate::error::Error;

/// A `FILE:WEIGHT` whose weight is not a finite number.
#[derive(Debug, thiserror::Error)]
#[error("{0}: the weight must be a number such as 0.8")]
pub struct BadLoraWeight(String);

/// `FILE:WEIGHT`, or `FILE` (weight 1). The last colon splits, so paths may contain colons.
pub fn parse_lora(s: &str) -> Result<(PathBuf, f32), BadLoraWeight> {
    if let Some((file, weight)) = s.rsplit_once(':') {
        if let Ok(w) = weight.parse::<f32>() {
            if !w.is_finite() {
                return Err(BadLoraWeight(s.to_string()));
            }
            return Ok((PathBuf::from(file), w));
        }
    }
    Ok((PathBuf::from(s), 1.0))
}

/// Merges `loras` and adds `embeddings` to `sd`, saying what it does on stderr.
pub fn apply_extras(sd: &mut StableDiffusion, loras: &[(PathBuf, f32)], embeddings: &[PathBuf]) -> Result<(), Error> {
    for (file, weight) in loras {
        let lora = Lora::read(file, sd)?;
        eprintln!("merging {} at {weight} ({} layers)", file.display(), lora.layers());
        lora.merge_into(sd, *weight)?;
    }
    for file in embeddings {
        let ti = TextualInversion::read(file, None)?;
        eprintln!("adding the embedding {} ({} vectors) from {}", ti.word, ti.count, file.display());
        ti.add_to(sd)?;
    }
    Ok(())
}

/// `--scheduler-config FILE`: the samplers follow this diffusers scheduler_config.json instead
/// of the model's own (SD 1.5's for a single file). Checked against every sampler now, so a key
/// none can follow is said at start, not at the first picture.
pub fn use_scheduler_config(sd: &mut StableDiffusion, file: Option<&Path>) -> Result<(), Error> {
    let Some(file) = file else { return Ok(()) };
    let config = SchedulerConfig::read(file).map_err(|e| {
        Error::new("--scheduler-config", e, "give a diffusers scheduler_config.json (a model folder's scheduler/scheduler_config.json)")
    })?;
    if SchedulerKind::ALL.iter().all(|kind| config.resolve(*kind).is_err()) {
        let problem = config.resolve(SchedulerKind::Euler).err().unwrap_or_default();
        return Err(Error::new("--scheduler-config", problem, "fix or remove the keys named"));
    }
    eprintln!("samplers follow the scheduler config {}", file.display());
    sd.scheduler_config = config;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_arguments_take_an_optional_weight() {
        assert_eq!(parse_lora("style.safetensors:0.8").unwrap(), (PathBuf::from("style.safetensors"), 0.8));
        assert_eq!(parse_lora("style.safetensors").unwrap(), (PathBuf::from("style.safetensors"), 1.0));
        assert_eq!(parse_lora("C:/loras/a.safetensors:-0.5").unwrap(), (PathBuf::from("C:/loras/a.safetensors"), -0.5));
        assert!(parse_lora("a.safetensors:inf").is_err());
    }
}

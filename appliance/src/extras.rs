//! LoRAs and textual-inversion embeddings added to a loaded model: the booth's `style.loras`, and
//! `--lora FILE[:WEIGHT]` / `--embedding FILE` of `keepsake generate` and `keepsake models bake`.

use std::path::PathBuf;

use keepsake_models::edits::lora::Lora;
use keepsake_models::edits::textual_inversion::TextualInversion;
use keepsake_models::pipeline::StableDiffusion;

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

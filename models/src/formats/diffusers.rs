//! A diffusers folder as `save_pretrained` writes it: unet/, vae/, text_encoder/, tokenizer/, each
//! a config.json and .safetensors weights; and a TAESD (AutoencoderTiny) folder beside it.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::components::autoencoder::{Vae, VaeConfig};
use crate::components::autoencoder_tiny::AutoencoderTinyConfig;
use crate::components::clip::ClipTextConfig;
use crate::components::tokenizer::ClipTokenizer;
use crate::components::unet_2d_condition::UNet2DConditionConfig;
use crate::components::vae::AutoencoderKlConfig;
use crate::pipeline::text_encoder_slot::TextEncoderSlot;
use crate::pipeline::{Origin, PipelineError, StableDiffusion};
use crate::schedulers::SchedulerConfig;
use crate::weights;

pub(crate) fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| PipelineError::Model {
        path: path.to_path_buf(),
        problem: format!("cannot read: {e}"),
        fix: "point --model at a diffusers folder with unet/, vae/, text_encoder/, tokenizer/",
    })?;
    serde_json::from_str(&text).map_err(|e| PipelineError::Model {
        path: path.to_path_buf(),
        problem: format!("not a valid config: {e}"),
        fix: "restore the file from the model's original folder",
    })
}

pub(crate) fn weights_file(dir: &Path, names: &[&str]) -> Result<PathBuf, PipelineError> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file()).ok_or_else(|| PipelineError::Model {
        path: dir.to_path_buf(),
        problem: format!("no weights file ({})", names.join(" or ")),
        fix: "the folder needs the .safetensors weights; .bin pickles are not loaded (convert them with diffusers' save_pretrained(safe_serialization=True))",
    })
}

/// Replaces the VAE by TAESD from a diffusers AutoencoderTiny folder (config.json and
/// diffusion_pytorch_model.safetensors, e.g. madebyollin/taesd).
pub fn with_tiny_vae(mut sd: StableDiffusion, dir: &Path) -> Result<StableDiffusion, PipelineError> {
    let config: AutoencoderTinyConfig = read_config(&dir.join("config.json"))?;
    if let Some(problem) = config.problem() {
        return Err(PipelineError::Model {
            path: dir.join("config.json"),
            problem: format!("not a TAESD config: {problem}"),
            fix: "use madebyollin/taesd (SD 1.x) in diffusers layout",
        });
    }
    if config.latent_channels != sd.unet_config.in_channels {
        return Err(PipelineError::Model {
            path: dir.to_path_buf(),
            problem: format!("{} latent channels, the UNet takes {}", config.latent_channels, sd.unet_config.in_channels),
            fix: "use the TAESD made for this model family (taesd for SD 1.x)",
        });
    }
    let tiny = weights::load(config.init(&sd.device), &weights_file(dir, &["diffusion_pytorch_model.safetensors"])?, "TAESD", &[])?;
    sd.vae = Vae::Tiny(tiny);
    sd.vae_config = VaeConfig::Tiny(config);
    Ok(sd)
}

/// Loads a diffusers folder (unet/, vae/, text_encoder/, tokenizer/).
pub fn load(dir: &Path, device: &Device) -> Result<StableDiffusion, PipelineError> {
    let tokenizer = ClipTokenizer::from_dir(&dir.join("tokenizer"))?;
    let te_config: ClipTextConfig = read_config(&dir.join("text_encoder/config.json"))?;
    let text_encoder = weights::load(
        te_config.init(device),
        &weights_file(&dir.join("text_encoder"), &["model.safetensors", "model.fp16.safetensors"])?,
        "text encoder",
        &["text_model.embeddings.position_ids"],
    )?;
    let unet_config: UNet2DConditionConfig = read_config(&dir.join("unet/config.json"))?;
    let unet = weights::load(
        unet_config.init(device),
        &weights_file(&dir.join("unet"), &["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])?,
        "UNet",
        &[],
    )?;
    let vae_config: AutoencoderKlConfig = read_config(&dir.join("vae/config.json"))?;
    let vae = weights::load(
        vae_config.init(device),
        &weights_file(&dir.join("vae"), &["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])?,
        "VAE",
        &[],
    )?;
    Ok(StableDiffusion {
        tokenizer,
        text_encoder: TextEncoderSlot::resident(text_encoder),
        unet,
        vae: Vae::Kl(vae),
        text_encoder_config: te_config,
        unet_config,
        vae_config: VaeConfig::Kl(vae_config),
        origin: Origin { source: dir.display().to_string(), ..Default::default() },
        scheduler_config: scheduler_config(dir)?,
        vae_tiling: false,
        device: device.clone(),
    })
}

/// The folder's `scheduler/scheduler_config.json`, or SD 1.5's when it has none.
pub fn scheduler_config(dir: &Path) -> Result<SchedulerConfig, PipelineError> {
    let path = dir.join("scheduler/scheduler_config.json");
    if !path.is_file() {
        return Ok(SchedulerConfig::sd15());
    }
    SchedulerConfig::read(&path).map_err(|problem| PipelineError::Model {
        path: path.clone(),
        problem,
        fix: "fix the scheduler config (diffusers' keys), or remove it to use SD 1.5's",
    })
}

//! What a model arrives as, each loaded into the [`StableDiffusion`] pipeline: a diffusers folder,
//! an original LDM single-file checkpoint (and single-file ControlNets), or a booth file.
//! Formats build on the pipeline; the pipeline never names a format.

pub mod booth_file;
pub mod diffusers;
pub mod ldm;

use std::path::Path;

use burn::tensor::Device;

use crate::components::controlnet::{ControlNetConfig, ControlNetModel};
use crate::pipeline::{PipelineError, StableDiffusion};

/// Loads a diffusers folder, a booth file (`keepsake models bake`), or a single-file SD 1.x
/// checkpoint (original LDM layout).
pub fn load(path: &Path, device: &Device) -> Result<StableDiffusion, PipelineError> {
    if path.is_dir() {
        diffusers::load(path, device)
    } else if booth_file::is_booth_file(path) {
        booth_file::BoothFile::open(path)?.load(device)
    } else {
        ldm::load_single_file(path, device)
    }
}

/// Loads a diffusers ControlNet folder (config.json, diffusion_pytorch_model.safetensors) or a
/// single-file ControlNet in the original layout (`control_v11p_sd15_*.safetensors`), made for
/// a UNet whose text context is `context_dim` wide (768 for SD 1.5).
pub fn load_controlnet(dir: &Path, context_dim: usize, device: &Device) -> Result<ControlNetModel, PipelineError> {
    let single = dir.is_file();
    let config =
        if single { ldm::read_single_file_controlnet(dir)? } else { diffusers::read_config::<ControlNetConfig>(&dir.join("config.json"))? };
    if config.cross_attention_dim != context_dim {
        return Err(PipelineError::Model {
            path: dir.to_path_buf(),
            problem: format!(
                "a ControlNet for a {}-wide text context (SDXL: 2048, SD 2.x: 1024); this model's is {context_dim}",
                config.cross_attention_dim
            ),
            fix: "use a ControlNet made for SD 1.5 (control_v11p_sd15_* / lllyasviel's sd15 models)",
        });
    }
    if single {
        return ldm::load_single_file_controlnet(config.init(device), &config, dir);
    }
    let file = diffusers::weights_file(dir, &["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"])?;
    Ok(crate::weights::load(config.init(device), &file, "ControlNet", &[])?)
}

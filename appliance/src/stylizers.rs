//! Which stylizer makes the keepsake, decided once at start and said on the log.

use std::sync::Arc;

use keepsake_models::controlnet::ControlNetModel;
use keepsake_models::diffusion_stylizer::{BoothControl, DiffusionPreset, DiffusionStylizer};
use keepsake_models::pipeline::StableDiffusion;
use keepsake_models::preprocessors::{Annotators, Preprocessor};
use keepsake_models::shared_pipeline::SharedPipeline;
use keepsake_models::toon::{ToonStyle, ToonStylizer};
use keepsake_models::{Progress, StylizeError, Stylizer};

use crate::config::Config;

/// Where the illustration filter should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The GPU when a wgpu adapter exists, else the CPU.
    Auto,
    Cpu,
    Gpu,
}

pub fn toon(preset: &str, backend: Backend) -> Result<ToonStylizer, String> {
    let style = ToonStyle::preset(preset)
        .ok_or_else(|| format!("unknown style preset {preset:?}; use one of {}", ToonStyle::PRESETS.join(", ")))?;
    Ok(match backend {
        Backend::Auto => ToonStylizer::new(style),
        Backend::Cpu => ToonStylizer::cpu(style),
        Backend::Gpu => {
            let gpu = keepsake_models::toon::gpu::GpuToon::new()?;
            ToonStylizer::with_engine(style, keepsake_models::toon::Engine::Gpu(gpu))
        }
    })
}

/// The filter shows its picture at once, then the diffusion model paints the keepsake.
pub struct WithInstantPreview {
    pub preview: ToonStylizer,
    pub main: DiffusionStylizer,
}

impl Stylizer for WithInstantPreview {
    fn name(&self) -> String {
        self.main.name()
    }

    fn steps(&self) -> u32 {
        self.main.steps()
    }

    fn stylize(&self, photo: &image::RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<image::RgbImage, StylizeError> {
        match self.preview.stylize(photo, &mut |_| {}) {
            Ok(p) => progress(Progress { step: 0, total: self.steps(), preview: Some(p) }),
            Err(e) => tracing::warn!(%e, "no instant preview"),
        }
        self.main.stylize(photo, progress)
    }

    fn cancel(&self) {
        self.main.cancel();
    }
}

fn compute(backend: Backend) -> keepsake_models::compute::Compute {
    let gpu = match backend {
        Backend::Cpu => false,
        Backend::Gpu => true,
        Backend::Auto => !keepsake_models::toon::gpu::adapters().is_empty(),
    };
    if gpu {
        keepsake_models::compute::Compute::wgpu(true)
    } else {
        keepsake_models::compute::Compute::cpu()
    }
}

/// The configured ControlNet units that load. A unit that does not is left out, loudly: the
/// visitor still gets a keepsake, and `keepsake doctor` names the problem.
fn booth_controls(config: &Config, sd: &StableDiffusion, device: &burn::tensor::Device) -> Vec<BoothControl> {
    let annotators = Annotators { dir: config.style.annotators.clone(), device: device.clone() };
    let mut controls = Vec::new();
    for (i, unit) in config.style.controlnets.iter().enumerate() {
        // int8 in memory like the booth file's UNet (a quarter of an f32 ControlNet's 1.4 GB).
        let loaded = ControlNetModel::load(&unit.model, sd.unet_config.cross_attention_dim, device)
            .map(|model| keepsake_models::quantize::quantize_module(model, keepsake_models::quantize::Bits::Eight))
            .map_err(|e| e.to_string())
            .and_then(|model| Ok((model, Preprocessor::load(unit.module, &annotators).map_err(|e| e.to_string())?)));
        match loaded {
            Ok((model, preprocessor)) => {
                tracing::info!(unit = i, module = %unit.module, model = %unit.model.display(), weight = unit.weight, "ControlNet unit ready");
                controls.push(BoothControl {
                    model,
                    preprocessor,
                    resolution: unit.resolution,
                    weight: unit.weight,
                    start: unit.start,
                    end: unit.end,
                    mode: unit.mode,
                });
            }
            Err(e) => tracing::error!(unit = i, module = %unit.module, %e, "ControlNet unit left out: the keepsakes are made without it"),
        }
    }
    controls
}

/// The booth's stylizer: Stable Diffusion when `style.model` (a booth file, checkpoint or diffusers
/// folder) loads,
/// with the filter as instant preview; the filter alone otherwise. The log always says which,
/// and why.
pub fn for_booth(config: &Config, backend: Backend) -> Result<Arc<dyn Stylizer>, String> {
    Ok(with_model(config, backend)?.0)
}

/// [`for_booth`], and the diffusion model (when it loaded) for the A1111 API to share.
pub fn with_model(config: &Config, backend: Backend) -> Result<(Arc<dyn Stylizer>, Option<Arc<SharedPipeline>>), String> {
    let filter = toon(&config.style.preset, backend)?;
    let Some(path) = &config.style.model else {
        tracing::warn!("no diffusion model configured (style.model): the illustration filter makes the keepsakes");
        return Ok((Arc::new(filter), None));
    };
    if !path.exists() {
        tracing::warn!(model = %path.display(), "the configured diffusion model does not exist: the illustration filter makes the keepsakes (fix: put the model there or correct style.model)");
        return Ok((Arc::new(filter), None));
    }
    let started = std::time::Instant::now();
    let compute = compute(backend);
    tracing::info!(on = %compute.describe(), "diffusion compute");
    match StableDiffusion::load(path, &compute.device) {
        Ok(mut sd) => {
            // Keepsakes up to 768 px: the KL VAE decodes them in 512 px tiles to bound memory.
            sd.vae_tiling = true;
            // The style's LoRAs; one that does not fit is left out, loudly (doctor names it too).
            for lora in &config.style.loras {
                if let Err(e) = crate::models_cli::apply_extras(&mut sd, std::slice::from_ref(lora), &[]) {
                    tracing::error!(lora = %lora.0.display(), %e, "style LoRA left out: the keepsakes are made without it");
                }
            }
            tracing::info!(model = %path.display(), seconds = started.elapsed().as_secs_f32(), "diffusion model loaded: it makes the keepsakes, the filter is the instant preview");
            let preset = DiffusionPreset::for_model(&sd);
            tracing::info!(scheduler = %preset.scheduler, steps = preset.steps, cfg = preset.cfg, vae = sd.vae_config.name(), loras = ?sd.origin.loras, "diffusion preset");
            let controls = booth_controls(config, &sd, &compute.device);
            let main = DiffusionStylizer::new(sd, preset).with_controls(controls);
            let shared = main.shared();
            Ok((Arc::new(WithInstantPreview { preview: filter, main }), Some(shared)))
        }
        Err(e) => {
            tracing::error!(model = %path.display(), %e, "the diffusion model cannot be loaded: the illustration filter makes the keepsakes");
            Ok((Arc::new(filter), None))
        }
    }
}

/// The A1111-compatible API beside the booth, on the booth's model, when `api.enabled`; None
/// (said on the log) when it is off or there is no diffusion model to share.
pub fn booth_api(config: &Config, shared: Option<Arc<SharedPipeline>>, backend: Backend) -> Option<Arc<crate::api::Engine>> {
    if !config.api.enabled {
        return None;
    }
    let (Some(shared), Some(model)) = (shared, config.style.model.clone()) else {
        tracing::error!("api.enabled, but no diffusion model is loaded (style.model): the API is not started");
        return None;
    };
    let device = compute(backend).device;
    let settings = crate::api::EngineSettings {
        model_path: model,
        models_dir: None,
        switchable: false,
        lora_dir: config.api.lora_dir.clone(),
        controlnet_dir: config.api.controlnet_dir.clone(),
        annotators: Annotators { dir: config.style.annotators.clone(), device },
        limits: crate::api::Limits {
            max_side: config.api.max_side,
            max_steps: config.api.max_steps,
            max_images: config.api.max_images,
            ..Default::default()
        },
        noise_kernel: keepsake_models::torch_rng::NormalKernel::native(),
    };
    Some(Arc::new(crate::api::Engine::new(shared, settings)))
}

//! Which stylizer makes the keepsake, decided once at start and said on the log.

use std::sync::Arc;

use keepsake_models::formats;
use keepsake_models::pipeline::StableDiffusion;
use keepsake_models::preprocessors::{Annotators, Preprocessor};
use keepsake_models::stylize::diffusion_stylizer::{BoothControl, DiffusionPreset, DiffusionStylizer};
use keepsake_models::stylize::shared_pipeline::SharedPipeline;
use keepsake_models::stylize::toon::{ToonStyle, ToonStylizer};
use keepsake_models::{Progress, StylizeError, Stylizer};

use crate::backend::Backend;
use crate::config::Config;
use crate::error::Error;

pub fn toon(preset: &str, backend: Backend) -> Result<ToonStylizer, Error> {
    let style = ToonStyle::preset(preset).ok_or_else(|| {
        Error::new(format!("style preset {preset:?}"), "unknown", format!("use one of {}", ToonStyle::PRESETS.join(", ")))
    })?;
    Ok(match backend {
        Backend::Auto => ToonStylizer::new(style),
        Backend::Cpu => ToonStylizer::cpu(style),
        Backend::Gpu => {
            let gpu = keepsake_models::stylize::toon::gpu::GpuToon::new()
                .map_err(|e| Error::new("the GPU filter", e, "use --backend cpu, or check the GPU with `keepsake doctor`"))?;
            ToonStylizer::with_engine(style, keepsake_models::stylize::toon::Engine::Gpu(gpu))
        }
    })
}

/// The filter shows its picture at once, then the diffusion model paints the keepsake. When the
/// model fails on a visit (the GPU ran out of memory or went away), the filter's picture is that
/// visitor's keepsake, the log says why, and the next visit tries the model again.
pub struct WithInstantPreview<M = DiffusionStylizer> {
    pub preview: ToonStylizer,
    pub main: Arc<M>,
}

impl<M: Stylizer> Stylizer for WithInstantPreview<M> {
    fn name(&self) -> String {
        self.main.name()
    }

    fn steps(&self) -> u32 {
        self.main.steps()
    }

    fn stylize(&self, photo: &image::RgbImage, progress: &mut dyn FnMut(Progress)) -> Result<image::RgbImage, StylizeError> {
        let preview = match self.preview.stylize(photo, &mut |_| {}) {
            Ok(p) => {
                progress(Progress { step: 0, total: self.steps(), preview: Some(p.clone()) });
                Some(p)
            }
            Err(e) => {
                tracing::warn!(%e, "no instant preview");
                None
            }
        };
        // A GPU fault deep in the runtime can surface as a panic; it must cost one picture, not the booth.
        let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.main.stylize(photo, progress))) {
            Ok(Ok(picture)) => return Ok(picture),
            Ok(Err(StylizeError::Cancelled)) => return Err(StylizeError::Cancelled),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => {
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default()
            }
        };
        match preview {
            Some(picture) => {
                tracing::error!(%why, "the diffusion model failed on this visit: the filter's picture is the keepsake; the next visit tries the model again");
                Ok(picture)
            }
            None => Err(StylizeError::Model(why)),
        }
    }

    fn cancel(&self) {
        self.main.cancel();
    }
}

/// How long after the model starts loading the booth waits for the GPU warm-up before it
/// reports READY: with a warm autotune cache the warm-up is one keepsake's work (about a second on
/// a booth GPU), so it is done before the attract screen; a cold first start tunes for minutes,
/// and the rest of that goes on in the background. Leaves the 10 s systemd and the technician
/// expect a booth to take from start to READY some room for the devices.
const WARM_UP_BEFORE_READY: std::time::Duration = std::time::Duration::from_secs(8);

/// Runs the booth's own recipe once on a neutral photo of the camera's size, on its own thread:
/// shader compilation and autotuning (kept in the state folder for the next start) happen here,
/// not in front of the first visitor. Waits for it until `ready_by`; the rest goes on in the
/// background, and a visitor who comes first waits for the model's turn as for any other.
fn warm_up(main: Arc<DiffusionStylizer>, frame: (u32, u32), ready_by: std::time::Instant) {
    let (done, finished) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("gpu-warm-up".into()).spawn(move || {
        let started = std::time::Instant::now();
        let photo = image::RgbImage::from_pixel(frame.0.max(8), frame.1.max(8), image::Rgb([128, 120, 112]));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| main.warm_up(&photo))) {
            Ok(Ok(())) => tracing::info!(
                seconds = started.elapsed().as_secs_f32(),
                "GPU warm-up done: kernels compiled and tuned for the booth's recipe"
            ),
            Ok(Err(e)) => tracing::error!(%e, "GPU warm-up failed: the first visit compiles and tunes instead"),
            Err(_) => tracing::error!("GPU warm-up crashed: the first visit compiles and tunes instead"),
        }
        let _ = done.send(());
    });
    if let Err(e) = spawned {
        tracing::error!(%e, "cannot start the GPU warm-up");
        return;
    }
    if finished.recv_timeout(ready_by.saturating_duration_since(std::time::Instant::now())).is_err() {
        tracing::info!(
            "the GPU warm-up goes on in the background (a first start tunes the kernels once; later starts read them from style.gpu_cache)"
        );
    }
}

fn compute(config: &Config, backend: Backend) -> keepsake_models::compute::Compute {
    backend.compute(Some(&config.style.gpu_cache))
}

/// The configured ControlNet units that load. A unit that does not is left out, loudly: the
/// visitor still gets a keepsake, and `keepsake doctor` names the problem.
fn booth_controls(config: &Config, sd: &StableDiffusion, device: &burn::tensor::Device) -> Vec<BoothControl> {
    let annotators = Annotators { dir: config.style.annotators.clone(), device: device.clone() };
    let mut controls = Vec::new();
    for (i, unit) in config.style.controlnets.iter().enumerate() {
        // int8 in memory like the booth file's UNet (a quarter of an f32 ControlNet's 1.4 GB).
        let loaded = formats::load_controlnet(&unit.model, sd.unet_config.cross_attention_dim, device)
            .map(|model| keepsake_models::edits::quantize::quantize_module(model, keepsake_models::kernels::quantize::Bits::Eight))
            .map_err(Error::from)
            .and_then(|model| Ok((model, Preprocessor::load(unit.module, &annotators)?)));
        match loaded {
            Ok((model, preprocessor)) => {
                tracing::info!(unit = i, module = %unit.module, model = %unit.model.display(), weight = unit.settings.weight, "ControlNet unit ready");
                controls.push(BoothControl { model, preprocessor, resolution: unit.resolution, settings: unit.settings });
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
pub fn for_booth(config: &Config, backend: Backend) -> Result<Arc<dyn Stylizer>, Error> {
    Ok(with_model(config, backend)?.0)
}

/// [`for_booth`], and the diffusion model (when it loaded) for the A1111 API to share.
pub fn with_model(config: &Config, backend: Backend) -> Result<(Arc<dyn Stylizer>, Option<Arc<SharedPipeline>>), Error> {
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
    let compute = compute(config, backend);
    match formats::load(path, &compute.device) {
        Ok(mut sd) => {
            // Keepsakes up to 768 px: the KL VAE decodes them in 512 px tiles to bound memory.
            sd.vae_tiling = true;
            // The style's LoRAs; one that does not fit is left out, loudly (doctor names it too).
            for lora in &config.style.loras {
                if let Err(e) = crate::extras::apply_extras(&mut sd, std::slice::from_ref(lora), &[]) {
                    tracing::error!(lora = %lora.0.display(), %e, "style LoRA left out: the keepsakes are made without it");
                }
            }
            tracing::info!(model = %path.display(), seconds = started.elapsed().as_secs_f32(), "diffusion model loaded: it makes the keepsakes, the filter is the instant preview");
            let preset = DiffusionPreset::for_model(&sd);
            tracing::info!(scheduler = %preset.scheduler, steps = preset.steps, cfg = preset.cfg, vae = sd.vae_config.name(), loras = ?sd.origin.loras, "diffusion preset");
            let controls = booth_controls(config, &sd, &compute.device);
            let main = Arc::new(DiffusionStylizer::new(sd, preset).with_controls(controls));
            let shared = main.shared();
            if compute.gpu.is_some() {
                warm_up(main.clone(), config.devices.camera.frame_size(), started + WARM_UP_BEFORE_READY);
            }
            Ok((Arc::new(WithInstantPreview { preview: filter, main }), Some(shared)))
        }
        Err(e) => {
            tracing::error!(model = %path.display(), %e, "the diffusion model cannot be loaded: the illustration filter makes the keepsakes");
            Ok((Arc::new(filter), None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A model whose GPU fails on the first visit (as a lost device or an out-of-memory surfaces
    /// from the runtime: a panic) and works again on the next.
    struct GpuLostOnce {
        visits: AtomicU32,
    }

    impl Stylizer for GpuLostOnce {
        fn name(&self) -> String {
            "model".into()
        }
        fn steps(&self) -> u32 {
            4
        }
        fn stylize(&self, photo: &image::RgbImage, _: &mut dyn FnMut(Progress)) -> Result<image::RgbImage, StylizeError> {
            match self.visits.fetch_add(1, Ordering::SeqCst) {
                0 => panic!("wgpu: out of memory allocating 402653184 bytes"),
                1 => Err(StylizeError::Model("the GPU device was lost".into())),
                2 => Err(StylizeError::Cancelled),
                _ => Ok(image::RgbImage::from_pixel(photo.width(), photo.height(), image::Rgb([1, 2, 3]))),
            }
        }
    }

    #[test]
    fn a_gpu_fault_costs_one_picture_the_filter_stands_in_and_the_next_visit_tries_the_model_again() {
        let preview = toon("warm-animation", Backend::Cpu).unwrap();
        let photo = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let filtered = preview.stylize(&photo, &mut |_| {}).unwrap();
        let booth = WithInstantPreview { preview, main: Arc::new(GpuLostOnce { visits: AtomicU32::new(0) }) };
        let mut shown = 0;
        // The panic and the error each give the visitor the filter's picture, never a crash.
        assert_eq!(booth.stylize(&photo, &mut |p| shown += p.preview.is_some() as u32).unwrap(), filtered);
        assert_eq!(booth.stylize(&photo, &mut |_| {}).unwrap(), filtered);
        assert_eq!(shown, 1, "the instant preview is shown before the model runs");
        // A visitor who walks away is not given a keepsake.
        assert!(matches!(booth.stylize(&photo, &mut |_| {}), Err(StylizeError::Cancelled)));
        // The next visit gets the model's picture.
        assert_eq!(booth.stylize(&photo, &mut |_| {}).unwrap().get_pixel(0, 0), &image::Rgb([1, 2, 3]));
    }
}

//! Which stylizer makes the keepsake, decided once at start and said on the log.

use std::sync::Arc;

use keepsake_models::toon::{ToonStyle, ToonStylizer};
use keepsake_models::Stylizer;

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
    let style = ToonStyle::preset(preset).ok_or_else(|| format!("unknown style preset {preset:?}; use one of {}", ToonStyle::PRESETS.join(", ")))?;
    Ok(match backend {
        Backend::Auto => ToonStylizer::new(style),
        Backend::Cpu => ToonStylizer::cpu(style),
        Backend::Gpu => {
            let gpu = keepsake_models::toon::gpu::GpuToon::new()?;
            ToonStylizer::with_engine(style, keepsake_models::toon::Engine::Gpu(gpu))
        }
    })
}

/// The booth's stylizer. The diffusion pipeline is not part of this build yet, so the
/// illustration filter makes every keepsake; the log says so, with the reason.
pub fn for_booth(config: &Config, backend: Backend) -> Result<Arc<dyn Stylizer>, String> {
    match &config.style.model {
        None => tracing::warn!("no diffusion model configured (style.model): the illustration filter makes the keepsakes"),
        Some(path) if !path.exists() => tracing::warn!(
            model = %path.display(),
            "the configured diffusion model does not exist: the illustration filter makes the keepsakes (fix: put the model file there or correct style.model)"
        ),
        Some(path) => tracing::warn!(
            model = %path.display(),
            "this build has no diffusion pipeline yet: the illustration filter makes the keepsakes"
        ),
    }
    Ok(Arc::new(toon(&config.style.preset, backend)?))
}

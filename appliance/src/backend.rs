//! Where the work runs: one choice for `style.compute` and every subcommand's `--backend`.

use std::path::Path;

use keepsake_models::compute::Compute;

/// Where the booth, `generate`, `serve` and `bench` compute (`--backend`; the booth's default is
/// `style.compute` in booth.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The GPU when there is one: the filter takes any wgpu adapter, the diffusion model only a
    /// hardware GPU (never a software rasterizer, which is slower than the CPU path); the CPU
    /// otherwise.
    Auto,
    /// burn's flex backend on the CPU (f32, int8 layers on the CPU's integer kernels).
    Cpu,
    /// The best wgpu adapter, a software one included (SPIR-V with tensor cores on Vulkan GPUs
    /// that offer them, WGSL otherwise; f16 where it has shader-f16); the CPU, said on the log,
    /// where there is none. `wgpu` is its older name.
    #[value(alias = "wgpu")]
    Gpu,
}

/// The names booth.toml's `style.compute` takes, as `--backend` spells them.
impl crate::config_reader::Kind for Backend {
    const ALL: &'static [Self] = &[Backend::Auto, Backend::Cpu, Backend::Gpu];

    fn name(self) -> &'static str {
        self.name()
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }

    /// Where the diffusion model computes, said on the log. The GPU runtime keeps its autotune
    /// results in `gpu_cache` (KEEPSAKE_GPU_CACHE overrides it).
    pub fn compute(self, gpu_cache: Option<&Path>) -> Compute {
        if self != Backend::Cpu {
            use_gpu_cache(gpu_cache);
        }
        let compute = match self {
            Backend::Cpu => Compute::cpu(),
            Backend::Gpu => Compute::wgpu(true),
            Backend::Auto => Compute::best_gpu(true).unwrap_or_else(Compute::cpu),
        };
        tracing::info!(on = %compute.describe(), "diffusion compute");
        compute
    }

    /// `Cpu` or `Gpu`: what `Auto` comes to on this machine for the diffusion model.
    pub fn resolved(self) -> Backend {
        match self {
            Backend::Auto if keepsake_models::compute::gpu_adapter::adapter_reports().iter().any(|r| !r.is_software()) => Backend::Gpu,
            Backend::Auto => Backend::Cpu,
            Backend::Cpu | Backend::Gpu => self,
        }
    }
}

/// Points the GPU runtime's autotune cache at `folder` (KEEPSAKE_GPU_CACHE overrides it), before
/// the first GPU tensor; says on the log whether it starts warm. A folder that cannot be used
/// costs tuning again, never the start.
pub fn use_gpu_cache(folder: Option<&Path>) {
    let from_env = std::env::var_os("KEEPSAKE_GPU_CACHE").map(std::path::PathBuf::from);
    let Some(folder) = from_env.as_deref().or(folder) else { return };
    // The booth asks once for its model and once more for the API beside it: the runtime reads
    // its configuration once, so the second ask has nothing to do.
    static SET: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    SET.call_once(|| first = true);
    if !first {
        return;
    }
    match keepsake_models::compute::gpu_cache::use_folder(folder) {
        Ok(state) => tracing::info!(folder = %folder.display(), ?state, "GPU autotune cache"),
        Err(e) => tracing::error!(%e, "no GPU autotune cache: the GPU tunes again at every start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_backend_reads_back_by_its_name_and_wgpu_is_the_gpu() {
        use crate::config_reader::Kind;
        assert_eq!(Backend::ALL, Backend::value_variants(), "the config and --backend take the same kinds");
        for b in Backend::value_variants() {
            assert_eq!(Backend::from_str(b.name(), false), Ok(*b));
        }
        assert_eq!(Backend::from_str("wgpu", false), Ok(Backend::Gpu));
        assert_eq!(Backend::Cpu.resolved(), Backend::Cpu);
        assert_ne!(Backend::Auto.resolved(), Backend::Auto);
    }
}

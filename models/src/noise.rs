//! Where a picture's noise comes from (A1111's `randn_source`): PyTorch's CPU generator (what
//! diffusers with `torch.Generator("cpu")` and A1111's "CPU" source draw), or A1111's "NV" source,
//! which draws what a CUDA GPU's `torch.randn` draws (A1111's default "GPU" on an NVIDIA card).

use crate::nv_rng::PhiloxGenerator;
use crate::torch_rng::{NormalKernel, TorchGenerator};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseSource {
    /// torch's CPU generator, with the Box-Muller arithmetic PyTorch dispatches to.
    Cpu(NormalKernel),
    /// CUDA's torch.randn, by A1111's Philox port.
    Nv,
}

impl NoiseSource {
    /// The CPU generator with this machine's PyTorch arithmetic.
    pub fn cpu() -> Self {
        NoiseSource::Cpu(NormalKernel::native())
    }
}

/// One picture's generator, seeded.
pub enum NoiseGenerator {
    Cpu(TorchGenerator, NormalKernel),
    Nv(PhiloxGenerator),
}

impl NoiseGenerator {
    pub fn new(source: NoiseSource, seed: u64) -> Self {
        match source {
            NoiseSource::Cpu(kernel) => NoiseGenerator::Cpu(TorchGenerator::manual_seed(seed), kernel),
            NoiseSource::Nv => NoiseGenerator::Nv(PhiloxGenerator::new(seed)),
        }
    }

    /// `n` standard normals: the next tensor's worth.
    pub fn randn(&mut self, n: usize) -> Vec<f32> {
        match self {
            NoiseGenerator::Cpu(g, kernel) => g.randn(n, *kernel),
            NoiseGenerator::Nv(g) => g.randn(n),
        }
    }
}

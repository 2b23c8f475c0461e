//! The pipeline's VAE: SD's KL autoencoder, or TAESD (the booth's fast one).
//!
//! They differ in more than speed: the KL encoder gives a distribution that img2img samples (the
//! generator's first draw), TAESD gives the latents directly, so the img2img noise is the
//! generator's first draw with TAESD and its second with the KL VAE, as in diffusers.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::components::autoencoder_tiny::{AutoencoderTiny, AutoencoderTinyConfig};
use crate::components::vae::{AutoencoderKl, AutoencoderKlConfig};
use crate::noise::NoiseGenerator;

/// Tensor paths leave the variant out (`vae.decoder.conv_in.weight` for either).
#[derive(Module, Debug)]
pub enum Vae {
    Kl(AutoencoderKl),
    Tiny(AutoencoderTiny),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum VaeConfig {
    Kl(AutoencoderKlConfig),
    Tiny(AutoencoderTinyConfig),
}

impl VaeConfig {
    pub fn init(&self, device: &Device) -> Vae {
        match self {
            Self::Kl(c) => Vae::Kl(c.init(device)),
            Self::Tiny(c) => Vae::Tiny(c.init(device)),
        }
    }

    /// Latents are multiplied by this after encoding (divided before decoding).
    pub fn scaling_factor(&self) -> f32 {
        match self {
            Self::Kl(c) => c.scaling_factor,
            Self::Tiny(c) => c.scaling_factor,
        }
    }

    /// Pixels per latent along each side (8 for SD 1.5).
    pub fn scale_factor(&self) -> u32 {
        match self {
            Self::Kl(c) => 1 << (c.block_out_channels.len() - 1),
            Self::Tiny(c) => c.scale_factor(),
        }
    }

    /// Latents per tile side of a tiled decode: the training size (512 px -> 64 for SD 1.5).
    pub fn tile_latent(&self) -> usize {
        match self {
            Self::Kl(c) => c.sample_size / (1 << (c.block_out_channels.len() - 1)),
            Self::Tiny(c) => 512 / c.scale_factor() as usize,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Kl(_) => "KL VAE",
            Self::Tiny(_) => "TAESD",
        }
    }
}

impl Vae {
    /// An image in [-1, 1] to scaled latents, drawing from `generator` where the VAE samples.
    pub fn encode_latents(&self, image: Tensor<4>, scaling: f32, generator: &mut NoiseGenerator) -> Tensor<4> {
        match self {
            Self::Kl(vae) => {
                let posterior = vae.encode(image);
                let dims = posterior.mean.dims();
                let noise = generator.randn(dims.iter().product());
                let device = posterior.mean.device();
                posterior.sample(Tensor::<4>::from_data(TensorData::new(noise, dims), &device)).mul_scalar(scaling)
            }
            Self::Tiny(vae) => vae.encode(image).mul_scalar(scaling),
        }
    }

    /// Scaled latents to an image in about [-1, 1]. `tiled`: the KL VAE decodes pictures larger
    /// than it was trained at in tiles (TAESD's memory is small at any size).
    pub fn decode_latents(&self, latents: Tensor<4>, scaling: f32, tiled: Option<usize>) -> Tensor<4> {
        let latents = latents.div_scalar(scaling);
        match (self, tiled) {
            (Self::Kl(vae), Some(tile_latent)) => vae.tiled_decode(latents, tile_latent),
            (Self::Kl(vae), None) => vae.decode(latents),
            (Self::Tiny(vae), _) => vae.decode(latents),
        }
    }
}

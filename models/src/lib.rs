//! Keepsake's illustration models.
//!
//! [`Stylizer`] turns the visitor's photo into the keepsake illustration. The first implementation
//! is [`toon::ToonStylizer`], a non-diffusion illustration filter that runs as a WGSL compute shader
//! through wgpu (CPU path when there is no adapter). It is the booth's instant preview while the
//! diffusion model works, and the fallback when no diffusion model is installed.

pub mod attention;
pub mod attention_cpu;
pub mod autoencoder;
pub mod autoencoder_tiny;
pub mod booth_file;
pub mod checkpoint;
pub mod clip;
pub mod compute;
pub mod control_image;
pub mod controlnet;
pub mod conv_cpu;
pub mod cpu_layers;
pub mod diffusion_stylizer;
pub mod disjoint_out;
pub mod embeddings;
pub mod extra_networks;
pub mod flex_tensor;
pub mod gpu_adapter;
pub mod gpu_cache;
pub mod group_norm_cpu;
pub mod int8;
pub mod latent_preview;
pub mod ldm;
pub mod lora;
pub mod module_path;
pub mod pipeline;
pub mod preprocessors;
pub mod prompt;
pub mod quantize;
pub mod resnet;
pub mod schedulers;
pub mod shared_pipeline;
pub mod stylizer;
#[cfg(test)]
mod test_support;
pub mod text_encoder_slot;
pub mod textual_inversion;
pub mod tokenizer;
pub mod toon;
pub mod torch_rng;
pub mod unet_2d_blocks;
pub mod unet_2d_condition;
pub mod vae;
pub mod vector_math;
pub mod weights;

pub use stylizer::{Progress, StylizeError, Stylizer};

//! diffusers' model classes for SD 1.5, one file per class and named as diffusers names it, so a
//! parity bug is found by reading two files side by side; fields follow the state-dict keys.

pub mod attention;
pub mod autoencoder;
pub mod autoencoder_tiny;
pub mod clip;
pub mod controlnet;
pub mod embeddings;
pub mod resnet;
pub mod tokenizer;
pub mod unet_2d_blocks;
pub mod unet_2d_condition;
pub mod vae;

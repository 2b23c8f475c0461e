//! Keepsake's illustration models, by what each part is:
//!
//! - [`components`]: diffusers' model classes (UNet, VAE and TAESD, CLIP text encoder and
//!   tokenizer, ControlNet), one file each, fields named as their state-dict keys;
//! - [`pipeline`]: Stable Diffusion img2img over those components (prompt chunks, the text
//!   encoder's slot, latent previews);
//! - [`formats`]: what a model arrives as (a diffusers folder, an LDM single file, the booth file),
//!   each loaded into the pipeline; [`weights`], [`checkpoint`] and [`module_path`] are the
//!   safetensors plumbing they share;
//! - [`edits`]: what changes a loaded model (LoRA/LyCORIS, textual inversion, int8/int4);
//! - [`schedulers`], [`preprocessors`] (the ControlNet annotators and control images),
//!   [`torch_rng`] (PyTorch's noise, bit for bit);
//! - [`kernels`]: the CPU's own kernels under burn-flex (convolution, attention, GroupNorm, int8
//!   GEMM) and the block-quantised weight format they read; [`compute`]: choosing the device;
//! - [`stylize`]: the booth's [`Stylizer`]s (diffusion, and the instant illustration filter).
//!
//! Dependencies run one way, down this list's reverse: formats and edits build on the pipeline,
//! the pipeline on components, components on kernels; `scripts/check-structure.py` checks it.

pub mod checkpoint;
pub mod components;
pub mod compute;
pub mod edits;
pub mod formats;
pub mod kernels;
pub mod module_path;
pub mod noise;
pub mod nv_rng;
pub mod pipeline;
pub mod preprocessors;
pub mod schedulers;
pub mod stylize;
#[cfg(test)]
mod test_support;
pub mod torch_rng;
pub mod training;
pub mod weights;

pub use stylize::stylizer::{Progress, StylizeError, Stylizer};

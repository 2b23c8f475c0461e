//! The pieces of LoRA training (issue 22) built so far: the optimizers kohya users train with,
//! AdamW as torch has it and AdamW8bit as bitsandbytes' CUDA kernel computes it. They work on
//! the LoRA's parameters as flat float32 slices in PyTorch's layout (a Linear's `[out, in]`):
//! a LoRA is small (rank 8 on SD 1.5: 4.7 M values), and bitsandbytes' blocks run over that
//! layout, so the same blocks are quantized together.

pub mod adamw;
pub mod adamw8bit;
pub mod dynamic_map;

pub use adamw::{AdamW, AdamWConfig};
pub use adamw8bit::AdamW8bit;

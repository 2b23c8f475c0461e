//! Integer matrix products for the CPU backend: the booth file's int8 weights used as they are,
//! activations quantised to 8 bits on the fly, exact i32 sums, so a UNet step on the CPU does
//! four times the arithmetic per instruction that f32 does (AVX-512 VNNI's `vpdpbusd`: 64
//! multiply-adds).
//!
//! burn-flex's own path for an int8 weight dequantises the whole layer to f32, element by element,
//! then runs its f32 GEMM: int8 was slower than f32 there (52 s against 31 s a step). Here:
//! - weights: int8 values and one f32 scale per 64 values along the reduction axis (the booth
//!   file's convolution layout; Linear weights are re-blocked along their input axis once, at
//!   load, see [`cpu_layout`]);
//! - activations: unsigned bytes, one scale and zero point per row and 64 values (llama.cpp's
//!   q8_0 idea, asymmetric as oneDNN's u8 activations), so an outlier channel costs precision in
//!   its own block only (why asymmetric: see [`pack`]);
//! - each block's i32 dot product, less the zero point times the weights' block sum, is scaled
//!   by both scales and summed in f32.
//!
//! [`crate::kernels::cpu_layers::CpuForward::forward_cpu`] is the layers' entry: the kernels where the layer's weight is int8
//! on flex and the input is f32, burn's own op everywhere else (GPUs, f32 weights, int4).

mod conv;
mod dotprod;
mod gemm;
mod kernel;
mod layout;
mod pack;
#[cfg(target_arch = "x86_64")]
mod pack_avx512;
mod scratch;

pub use conv::conv2d;
pub use gemm::linear_rows;
pub use kernel::{Kernel, BLOCK};
pub use layout::{blocked_along_inputs, cpu_layout};
pub use pack::{quantize_row_blocks, quantize_row_blocks_portable, PackedWeights, Packer};

#[cfg(test)]
mod tests;

//! The CPU's own kernels, under burn-flex where burn's generic ones are slow for SD's shapes:
//! Winograd F(2x2, 3x3) and channels-last direct convolution, blocked attention, fused GroupNorm + SiLU, int8 x int8 GEMM (VNNI
//! where present), and the block-quantised weight format the int8 kernels read. Nothing here
//! knows a model: layers call in through [`cpu_layers`].

pub mod attention_cpu;
pub mod conv_cpu;
pub mod cpu_layers;
pub mod disjoint_out;
pub mod flex_tensor;
pub mod group_norm_cpu;
pub mod int8;
pub mod quantize;
pub mod vector_math;
pub mod winograd_cpu;

//! The weight layout the CPU kernels read. Convolutions already have it in the booth file (blocks
//! along input channels: the reduction). Linear weights `[in, out]` are blocked along `out` there
//! (the axis wgpu's packed kernels want), and a product cannot take a scale that changes along
//! the reduction out of its sum; so on the CPU they are blocked again along `in`, once, at load.
//! That rounds each weight a second time: the step is the new block's scale / 2, about what the
//! first rounding cost (the int8 picture stays within the PSNR the benchmark checks).

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType, Device, Tensor};
use half::f16;
use rayon::prelude::*;

use super::kernel::BLOCK;
use crate::kernels::flex_tensor::int8_storage;
use crate::kernels::quantize::{Bits, BlockQuantized};

/// `module` with every int8 Linear weight on flex blocked along its inputs; anything else (other
/// devices, float or int4 weights, convolutions) as it was.
pub fn cpu_layout<M: Module>(module: M) -> M {
    struct ReBlock(Vec<String>);
    impl ModuleMapper for ReBlock {
        fn enter_module(&mut self, _name: &str, container_type: &str) {
            self.0.push(container_type.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.0.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            // burn enters each field with the type of the struct that holds it.
            let in_linear = self.0.last().is_some_and(|c| c == "Struct:Linear");
            if !in_linear || D != 2 {
                return param;
            }
            let tensor = param.val();
            let shape = tensor.dims().to_vec();
            let DType::QFloat(scheme) = tensor.dtype() else {
                return param;
            };
            // The file's layout on flex (int8_storage is None elsewhere), inputs whole blocks.
            if !BlockQuantized::is_layout(&scheme, &shape, 1, Bits::Eight) || shape[0] % BLOCK != 0 {
                return param;
            }
            let Some(q) = int8_storage(&tensor) else {
                return param;
            };
            let values = q.tensor().as_slice::<i8>().expect("int8_storage checked");
            let reblocked = blocked_along_inputs(values, q.scales(), shape[0], shape[1]);
            Param::initialized(param.id, reblocked.into_tensor(&Device::flex()))
        }
    }
    module.map(&mut ReBlock(Vec::new()))
}

/// A `[k, n]` int8 weight with scales `[k, n / 64]` quantised again with scales `[k / 64, n]`,
/// as [`BlockQuantized::quantize`] would quantise its float values along axis 0.
pub fn blocked_along_inputs(values: &[i8], scales: &[f32], k: usize, n: usize) -> BlockQuantized {
    let column_blocks = n / Bits::Eight.block();
    let float = |row: usize, col: usize| values[row * n + col] as f32 * scales[row * column_blocks + col / Bits::Eight.block()];
    let mut out_values = vec![0i8; k * n];
    let mut out_scales = vec![0f32; k / BLOCK * n];
    out_values.par_chunks_mut(BLOCK * n).zip(out_scales.par_chunks_mut(n)).enumerate().for_each(|(kb, (block, block_scales))| {
        let rows = kb * BLOCK..(kb + 1) * BLOCK;
        for (col, scale) in block_scales.iter_mut().enumerate() {
            let peak = rows.clone().fold(0f32, |m, r| m.max(float(r, col).abs()));
            // Scales are f16-exact, as the booth file keeps them.
            *scale = f16::from_f32(peak / 127.0).to_f32();
            for (i, r) in rows.clone().enumerate() {
                block[i * n + col] = if *scale == 0.0 { 0 } else { (float(r, col) / *scale).round().clamp(-127.0, 127.0) as i8 };
            }
        }
    });
    BlockQuantized { shape: vec![k, n], axis: 0, bits: Bits::Eight, values: out_values, scales: out_scales }
}

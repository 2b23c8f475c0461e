//! A 2-D convolution as int8 products: the input quantised once, channels-last (one scale and
//! zero point per pixel and 64 channels), each output pixel's row of taps gathered from it per task (the unfolded
//! input never exists whole), the result written back channels-first with the bias added.

use rayon::prelude::*;

use super::gemm::{gemm, ActivationRows};
use super::kernel::{Kernel, BLOCK};
use super::pack::{quantize_row_blocks, PackedWeights};
use crate::kernels::conv_cpu::ConvShape;
use crate::kernels::disjoint_out::DisjointOut;

/// The input quantised channels-last: `[batch, h, w, c]` bytes, `[batch, h, w, c / 64]` scales
/// and zero points.
struct QuantisedInput {
    shape: ConvShape,
    values: Vec<u8>,
    scales: Vec<f32>,
    zeros: Vec<i32>,
}

impl QuantisedInput {
    fn new(x: &[f32], shape: ConvShape) -> Self {
        let [batch, c, h, w] = shape.input;
        let blocks = c / BLOCK;
        let mut values = vec![0u8; batch * h * w * c];
        let mut scales = vec![0f32; batch * h * w * blocks];
        let mut zeros = vec![0i32; batch * h * w * blocks];
        let per_row = values.par_chunks_mut(w * c).zip(scales.par_chunks_mut(w * blocks).zip(zeros.par_chunks_mut(w * blocks)));
        per_row.enumerate().for_each_init(
            || vec![0f32; w * c],
            |pixels, (row, (out, (out_scales, out_zeros)))| {
                let (b, y) = (row / h, row % h);
                for ch in 0..c {
                    let source = &x[((b * c + ch) * h + y) * w..][..w];
                    for (px, v) in source.iter().enumerate() {
                        pixels[px * c + ch] = *v;
                    }
                }
                let quantised = out_scales.chunks_exact_mut(blocks).zip(out_zeros.chunks_exact_mut(blocks));
                for ((pixel, out), (scales, zeros)) in pixels.chunks_exact(c).zip(out.chunks_exact_mut(c)).zip(quantised) {
                    quantize_row_blocks(pixel, out, scales, zeros);
                }
            },
        );
        Self { shape, values, scales, zeros }
    }
}

impl ActivationRows for QuantisedInput {
    fn rows(&self) -> usize {
        let [oh, ow] = self.shape.output();
        self.shape.input[0] * oh * ow
    }

    /// Row (b, oy, ox): for each tap (ky, kx), the input pixel's channels, or zeros (scale and
    /// zero point 0) off the edge.
    fn fill(&self, first: usize, out: &mut [u8], out_scales: &mut [f32], out_zeros: &mut [i32]) {
        let [_, c, h, w] = self.shape.input;
        let [kh, kw] = self.shape.kernel;
        let [oh, ow] = self.shape.output();
        let blocks = c / BLOCK;
        let (k, kblocks) = (kh * kw * c, kh * kw * blocks);
        let row_quantisers = out_scales.chunks_exact_mut(kblocks).zip(out_zeros.chunks_exact_mut(kblocks));
        for (i, (row, (row_scales, row_zeros))) in out.chunks_exact_mut(k).zip(row_quantisers).enumerate() {
            let m = first + i;
            let (b, oy, ox) = (m / (oh * ow), m / ow % oh, m % ow);
            for ky in 0..kh {
                for kx in 0..kw {
                    let tap = ky * kw + kx;
                    let dst = &mut row[tap * c..(tap + 1) * c];
                    let (dst_scales, dst_zeros) = (&mut row_scales[tap * blocks..(tap + 1) * blocks], &mut row_zeros[tap * blocks..(tap + 1) * blocks]);
                    let iy = (oy * self.shape.stride[0] + ky).checked_sub(self.shape.padding[0]).filter(|y| *y < h);
                    let ix = (ox * self.shape.stride[1] + kx).checked_sub(self.shape.padding[2]).filter(|x| *x < w);
                    match iy.zip(ix) {
                        Some((iy, ix)) => {
                            let pixel = (b * h + iy) * w + ix;
                            dst.copy_from_slice(&self.values[pixel * c..(pixel + 1) * c]);
                            dst_scales.copy_from_slice(&self.scales[pixel * blocks..(pixel + 1) * blocks]);
                            dst_zeros.copy_from_slice(&self.zeros[pixel * blocks..(pixel + 1) * blocks]);
                        }
                        None => {
                            dst.fill(0);
                            dst_scales.fill(0.0);
                            dst_zeros.fill(0);
                        }
                    }
                }
            }
        }
    }
}

/// `x` (NCHW, `shape.input`) convolved with `w` (packed by [`PackedWeights::conv`]) plus `bias`:
/// NCHW `[batch, w.n, oh, ow]`.
pub fn conv2d(kernel: Kernel, x: &[f32], shape: ConvShape, w: &PackedWeights, bias: Option<&[f32]>) -> Vec<f32> {
    let [batch, c, _, _] = shape.input;
    assert_eq!(w.k, shape.kernel[0] * shape.kernel[1] * c, "a {shape:?} input against a weight reducing over {}", w.k);
    let [oh, ow] = shape.output();
    let (n, pixels) = (w.n, oh * ow);
    let input = QuantisedInput::new(x, shape);
    let mut out = vec![0f32; batch * n * pixels];
    let shared = DisjointOut::new(&mut out);
    gemm(kernel, &input, w, |tile| {
        // Column by column: a channel's pixels are consecutive in NCHW (a run ends where the
        // tile's rows cross into the next picture of the batch).
        let mut r = 0;
        while r < tile.rows {
            let m = tile.first_row + r;
            let (b, pixel) = (m / pixels, m % pixels);
            let run = (pixels - pixel).min(tile.rows - r);
            for j in 0..tile.cols {
                let col = tile.first_col + j;
                let add = bias.map_or(0.0, |b| b[col]);
                // SAFETY: pixels `pixel..pixel + run` of channel `col` of picture `b`; tiles are
                // disjoint.
                let out = unsafe { shared.slice((b * n + col) * pixels + pixel, run) };
                for (i, o) in out.iter_mut().enumerate() {
                    *o = tile.values[(r + i) * tile.ld + j] + add;
                }
            }
            r += run;
        }
    });
    out
}

//! The two operands in the order the inner loop reads them.
//!
//! Weights: panels of 32 output columns; in a panel, for each 2 values of the reduction, the 32
//! columns' 2 values side by side as int16 (128 bytes: what `vpdpwssd` multiplies against one
//! broadcast pair of activations), and per 64-value block the 32 columns' scales. The file's
//! int8 values are widened as a layer is packed; they stay int8 in memory.
//! Activations: rows of int16, one scale per row and block.
//!
//! Why int16 activations, not int8: int8 activations cost 0.6-0.9% of each convolution's output
//! (rms, measured on the tiny model's layers), and through a UNet's layers and the sampler's
//! steps that took the tiny model's int8 picture from 47-49 dB of diffusers' to 35 dB, under the
//! 40 dB the parity tests ask for. int16 rounding is 256 times finer (the weights' own rounding
//! is then all that is left), at half of `vpdpbusd`'s rate: still twice f32's FMA. At full size
//! int8 activations cost less (the booth recipe's picture 50.8 dB from f32, against 53.6 with
//! int16; measured with this quantiser at 127 levels), and a `vpdpbusd` tile ran 1.8x this one;
//! the tiny model's test is what holds them back (docs/BENCHMARKS.md, third round).

use rayon::prelude::*;

use super::kernel::{BLOCK, NR, PAIR, PANEL_STEP};
use super::scratch;

/// A weight `[k, n]` (reduction x output columns) packed for [`super::Kernel::tile`].
pub struct PackedWeights {
    pub k: usize,
    pub n: usize,
    /// `panels() * k * NR` values.
    pub values: Vec<i16>,
    /// `panels() * (k / BLOCK) * NR` scales (0 in the padding columns).
    pub scales: Vec<f32>,
}

impl Drop for PackedWeights {
    fn drop(&mut self) {
        scratch::give_i16(std::mem::take(&mut self.values));
        scratch::give_f32(std::mem::take(&mut self.scales));
    }
}

impl PackedWeights {
    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Packs a `[k, n]` weight panel by panel: `fill(p, panel, tile_scales)` writes panel `p`,
    /// `[k / 2, NR, 2]` int16 values, and its `[k / 64, NR]` scales; the padding columns stay 0.
    fn build(k: usize, n: usize, fill: impl Fn(usize, &mut [i16], &mut [f32]) + Sync) -> Self {
        assert_eq!(k % BLOCK, 0, "the reduction ({k}) is not a whole number of {BLOCK}-value blocks");
        let panels = n.div_ceil(NR);
        let blocks = k / BLOCK;
        let mut values = scratch::take_i16(panels * k * NR);
        let mut scales = scratch::take_f32(panels * blocks * NR);
        values
            .par_chunks_mut(k * NR)
            .zip(scales.par_chunks_mut(blocks * NR))
            .enumerate()
            .for_each(|(p, (panel, panel_scales))| fill(p, panel, panel_scales));
        Self { k, n, values, scales }
    }

    /// A Linear weight as burn holds it, `[k, n]` row-major, blocked along `k`: scales `[k/64, n]`.
    pub fn linear(values: &[i8], scales: &[f32], k: usize, n: usize) -> Self {
        Self::linear_with(Packer::detect(), values, scales, k, n)
    }

    /// [`Self::linear`] with the given packer (both give the same panels).
    pub fn linear_with(packer: Packer, values: &[i8], scales: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(values.len(), k * n, "a [{k}, {n}] weight");
        assert_eq!(scales.len(), k / BLOCK * n, "the scales of a [{k}, {n}] weight blocked along {k}");
        Self::build(k, n, |p, panel, tile_scales| {
            let (first, width) = (p * NR, NR.min(n - p * NR));
            // Each two rows of the reduction are one step of the panel: the columns' values side
            // by side, already in the kernel's order.
            match packer {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `detect` chose it on a CPU with the features; the shapes are asserted.
                Packer::Avx512 => unsafe { super::pack_avx512::interleave_rows(values, n, first, width, panel) },
                #[cfg(not(target_arch = "x86_64"))]
                Packer::Avx512 => unreachable!("never detected off x86-64"),
                Packer::Portable => {
                    for (two_rows, step) in values.chunks_exact(PAIR * n).zip(panel.chunks_exact_mut(PANEL_STEP)) {
                        let (even, odd) = two_rows.split_at(n);
                        for (j, out) in step.chunks_exact_mut(PAIR).take(width).enumerate() {
                            out[0] = even[first + j] as i16;
                            out[1] = odd[first + j] as i16;
                        }
                    }
                }
            }
            for (row, out) in scales.chunks_exact(n).zip(tile_scales.chunks_exact_mut(NR)) {
                out[..width].copy_from_slice(&row[first..first + width]);
            }
        })
    }

    /// A convolution weight as burn holds it, `[n, cin, kh, kw]` row-major, blocked along `cin`
    /// (scales `[n, cin/64, kh, kw]`); the reduction runs kernel row, kernel column, then input
    /// channel, the order [`super::conv`] lays the activations out in, so each block of 64 input
    /// channels is 64 consecutive reduction values.
    pub fn conv(values: &[i8], scales: &[f32], dims: [usize; 4]) -> Self {
        Self::conv_with(Packer::detect(), values, scales, dims)
    }

    /// [`Self::conv`] with the given packer (both give the same panels). Each column's values are
    /// first put in the reduction's order (`[taps, cin]` from `[cin, taps]`), then the panel's
    /// columns widened and turned to the kernel's `[k / 2, NR]` pairs.
    pub fn conv_with(packer: Packer, values: &[i8], scales: &[f32], [n, cin, kh, kw]: [usize; 4]) -> Self {
        let taps = kh * kw;
        assert_eq!(values.len(), n * cin * taps, "a [{n}, {cin}, {kh}, {kw}] weight");
        assert_eq!(scales.len(), n * cin / BLOCK * taps, "the scales of a [{n}, {cin}, {kh}, {kw}] weight blocked along {cin}");
        let (cblocks, k) = (cin / BLOCK, taps * cin);
        Self::build(k, n, |p, panel, tile_scales| {
            ORDERED.with(|ordered| {
                let mut ordered = ordered.borrow_mut();
                // The panel's columns overwrite their rows; only the padding rows are zeroed.
                let width = NR.min(n - p * NR);
                ordered.resize(NR * k, 0);
                ordered[width * k..].fill(0);
                for (j, row) in ordered.chunks_exact_mut(k).take(width).enumerate() {
                    let col = p * NR + j;
                    let weight = &values[col * k..(col + 1) * k];
                    match (packer, taps) {
                        (_, 1) => row.copy_from_slice(weight),
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: as above; `weight` and `row` hold `9 * cin` values, cin a
                        // whole number of 64-channel blocks (asserted by `build`).
                        (Packer::Avx512, 9) => unsafe { super::pack_avx512::taps_first_3x3(weight, cin, row) },
                        _ => {
                            for (ci, per_tap) in weight.chunks_exact(taps).enumerate() {
                                for (tap, v) in per_tap.iter().enumerate() {
                                    row[tap * cin + ci] = *v;
                                }
                            }
                        }
                    }
                    let col_scales = &scales[col * cblocks * taps..(col + 1) * cblocks * taps];
                    for (cb, per_tap) in col_scales.chunks_exact(taps).enumerate() {
                        for (tap, s) in per_tap.iter().enumerate() {
                            tile_scales[(tap * cblocks + cb) * NR + j] = *s;
                        }
                    }
                }
                match packer {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: as above; `ordered` holds NR rows of `k` values, `panel` k * NR.
                    Packer::Avx512 => unsafe { super::pack_avx512::widen_columns(&ordered, k, panel) },
                    #[cfg(not(target_arch = "x86_64"))]
                    Packer::Avx512 => unreachable!("never detected off x86-64"),
                    Packer::Portable => {
                        for (s, step) in panel.chunks_exact_mut(PANEL_STEP).enumerate() {
                            for (j, out) in step.chunks_exact_mut(PAIR).enumerate() {
                                let row = &ordered[j * k..(j + 1) * k];
                                out[0] = row[PAIR * s] as i16;
                                out[1] = row[PAIR * s + 1] as i16;
                            }
                        }
                    }
                }
            })
        })
    }
}

/// How weights are packed: AVX-512 (BW and VL for the widening, VBMI for a 3x3 kernel's reorder) where
/// the CPU has it, plain Rust elsewhere. Both write the same panels; packing happens at every
/// forward, and the plain loops took 0.55-1.1 ns a weight, about 7% of an int8 UNet step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packer {
    Avx512,
    Portable,
}

impl Packer {
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
        {
            return Self::Avx512;
        }
        Self::Portable
    }
}

thread_local! {
    /// One panel's columns in the reduction's order ([`PackedWeights::conv_with`]), per thread.
    static ORDERED: std::cell::RefCell<Vec<i8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Quantises `row` (a whole number of blocks) to int16 and one scale per block: symmetric, the
/// block's largest magnitude at 32767, rounded to nearest (ties to even). A block holding a NaN
/// or an infinity keeps NaN as its scale, so the fault shows in the picture's checks instead of
/// as plausible numbers.
pub fn quantize_row_blocks(row: &[f32], out: &mut [i16], scales: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the features are present.
        return unsafe { quantize_row_blocks_avx512(row, out, scales) };
    }
    quantize_row_blocks_portable(row, out, scales);
}

/// [`quantize_row_blocks`] in plain Rust (every CPU without AVX-512).
pub fn quantize_row_blocks_portable(row: &[f32], out: &mut [i16], scales: &mut [f32]) {
    for ((block, out), scale) in row.chunks_exact(BLOCK).zip(out.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
        let peak = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let finite = block.iter().all(|v| v.is_finite());
        *scale = if finite { block_scale(peak) } else { f32::NAN };
        if !(*scale > 0.0) {
            out.fill(0);
            continue;
        }
        let inverse = 32767.0 / peak;
        for (q, v) in out.iter_mut().zip(block) {
            // Adding and taking away 1.5 x 2^23 rounds to nearest even in plain SSE2 arithmetic
            // (`round` and `round_ties_even` are libm calls per value on baseline x86-64).
            const MAGIC: f32 = 12_582_912.0;
            *q = ((v * inverse + MAGIC) - MAGIC) as i16;
        }
    }
}

/// The scale of a finite block whose largest magnitude is `peak` (0 for an all-zero block).
fn block_scale(peak: f32) -> f32 {
    peak / 32767.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_blocks_avx512(row: &[f32], out: &mut [i16], scales: &mut [f32]) {
    use std::arch::x86_64::*;
    for ((block, out), scale) in row.chunks_exact(BLOCK).zip(out.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
        let v: [__m512; 4] = std::array::from_fn(|i| _mm512_loadu_ps(block.as_ptr().add(16 * i)));
        // A NaN or infinity makes the sum non-finite (max would skip a NaN).
        let peak = _mm512_reduce_max_ps(_mm512_max_ps(
            _mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])),
            _mm512_max_ps(_mm512_abs_ps(v[2]), _mm512_abs_ps(v[3])),
        ));
        let finite = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]))).is_finite();
        *scale = if finite { block_scale(peak) } else { f32::NAN };
        if !(*scale > 0.0) {
            out.fill(0);
            continue;
        }
        let inverse = _mm512_set1_ps(32767.0 / peak);
        for (i, v) in v.iter().enumerate() {
            // Converted with the default rounding (nearest, ties to even), narrowed with saturation.
            let q = _mm512_cvtps_epi32(_mm512_mul_ps(*v, inverse));
            _mm256_storeu_si256(out.as_mut_ptr().add(16 * i) as *mut __m256i, _mm512_cvtsepi32_epi16(q));
        }
    }
}

//! The two operands in the order the inner loop reads them.
//!
//! Weights: panels of 32 output columns; in a panel, for each 4 values of the reduction, the 32
//! columns' 4 values side by side (128 bytes: what `vpdpbusd` multiplies against one broadcast
//! four of activations), and per 64-value block the 32 columns' scales and sums (the sums take
//! the activations' zero point back out of the products).
//! Activations: rows of unsigned bytes, one scale and zero point per row and block: the block's
//! range (with 0 in it) over 255 steps.
//!
//! Why asymmetric: `vpdpbusd` multiplies unsigned by signed bytes, so signed activations would
//! need an offset of 128 anyway; a zero point per block costs the same correction and uses all
//! 256 levels on the block's own range, where most inputs (after SiLU, bounded below by -0.28)
//! would leave half of a symmetric range empty. On the tiny model's pictures that was 2-3 dB over
//! symmetric int8 activations (docs/BENCHMARKS.md, fourth round).

use rayon::prelude::*;

use super::kernel::{BLOCK, NR, PANEL_STEP, QUAD};
use super::scratch;

/// A weight `[k, n]` (reduction x output columns) packed for [`super::Kernel::tile`].
pub struct PackedWeights {
    pub k: usize,
    pub n: usize,
    /// `panels() * k * NR` values.
    pub values: Vec<i8>,
    /// `panels() * (k / BLOCK) * NR` scales (0 in the padding columns).
    pub scales: Vec<f32>,
    /// Each column's sum of values per block, laid out as the scales.
    pub sums: Vec<i32>,
}

impl Drop for PackedWeights {
    fn drop(&mut self) {
        scratch::give(std::mem::take(&mut self.values));
        scratch::give(std::mem::take(&mut self.scales));
        scratch::give(std::mem::take(&mut self.sums));
    }
}

impl PackedWeights {
    pub fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Packs a `[k, n]` weight panel by panel: `fill(p, panel, tile_scales)` writes panel `p`,
    /// `[k / 4, NR, 4]` values, and its `[k / 64, NR]` scales; the padding columns stay 0. The
    /// column sums are then taken from the panel.
    fn build(k: usize, n: usize, fill: impl Fn(usize, &mut [i8], &mut [f32]) + Sync) -> Self {
        assert_eq!(k % BLOCK, 0, "the reduction ({k}) is not a whole number of {BLOCK}-value blocks");
        let panels = n.div_ceil(NR);
        let blocks = k / BLOCK;
        let mut values = scratch::take(panels * k * NR);
        let mut scales = scratch::take(panels * blocks * NR);
        let mut sums = scratch::take(panels * blocks * NR);
        values.par_chunks_mut(k * NR).zip(scales.par_chunks_mut(blocks * NR)).zip(sums.par_chunks_mut(blocks * NR)).enumerate().for_each(
            |(p, ((panel, panel_scales), panel_sums))| {
                fill(p, panel, panel_scales);
                for (block, sums) in panel.chunks_exact(BLOCK * NR).zip(panel_sums.chunks_exact_mut(NR)) {
                    for step in block.chunks_exact(PANEL_STEP) {
                        for (sum, four) in sums.iter_mut().zip(step.chunks_exact(QUAD)) {
                            *sum += four.iter().map(|v| *v as i32).sum::<i32>();
                        }
                    }
                }
            },
        );
        Self { k, n, values, scales, sums }
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
            // Each four rows of the reduction are one step of the panel: the columns' values side
            // by side, already in the kernel's order.
            match packer {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `detect` chose it on a CPU with the features; the shapes are asserted.
                Packer::Avx512 => unsafe { super::pack_avx512::interleave_rows(values, n, first, width, panel) },
                #[cfg(not(target_arch = "x86_64"))]
                Packer::Avx512 => unreachable!("never detected off x86-64"),
                Packer::Portable => {
                    for (four_rows, step) in values.chunks_exact(QUAD * n).zip(panel.chunks_exact_mut(PANEL_STEP)) {
                        for (j, out) in step.chunks_exact_mut(QUAD).take(width).enumerate() {
                            for (e, v) in out.iter_mut().enumerate() {
                                *v = four_rows[e * n + first + j];
                            }
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
    /// columns turned to the kernel's `[k / 4, NR]` fours.
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
                    Packer::Avx512 => unsafe { super::pack_avx512::transpose_columns(&ordered, k, panel) },
                    #[cfg(not(target_arch = "x86_64"))]
                    Packer::Avx512 => unreachable!("never detected off x86-64"),
                    Packer::Portable => {
                        for (s, step) in panel.chunks_exact_mut(PANEL_STEP).enumerate() {
                            for (j, out) in step.chunks_exact_mut(QUAD).enumerate() {
                                out.copy_from_slice(&ordered[j * k + QUAD * s..][..QUAD]);
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

/// Quantises `row` (a whole number of blocks) to unsigned bytes, one scale and zero point per
/// block: the block's range, widened to hold 0, in 255 steps, so a value stands for
/// `scale * (byte - zero)` and 0 (a convolution's padding, a ReLU's floor) is exact. Rounded to
/// nearest (ties to even). A block holding a NaN or an infinity keeps NaN as its scale, so the
/// fault shows in the picture's checks instead of as plausible numbers.
pub fn quantize_row_blocks(row: &[f32], out: &mut [u8], scales: &mut [f32], zeros: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the features are present.
        return unsafe { quantize_row_blocks_avx512(row, out, scales, zeros) };
    }
    quantize_row_blocks_portable(row, out, scales, zeros);
}

/// A block's scale, the multiplier that quantises it and its zero point, from its range
/// `lo <= 0 <= hi`; None for an all-zero block.
fn block_range(lo: f32, hi: f32) -> Option<(f32, f32, i32)> {
    let range = hi - lo;
    if !(range > 0.0) {
        return None;
    }
    let inverse = 255.0 / range;
    Some((range / 255.0, inverse, round_ties_even(-lo * inverse) as i32))
}

/// Nearest, ties to even, for |v| < 2^22: adding and taking away 1.5 x 2^23 does it in plain
/// SSE2 arithmetic (`round_ties_even` is a libm call per value on baseline x86-64).
fn round_ties_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// [`quantize_row_blocks`] in plain Rust (every CPU without AVX-512).
pub fn quantize_row_blocks_portable(row: &[f32], out: &mut [u8], scales: &mut [f32], zeros: &mut [i32]) {
    for (((block, out), scale), zero) in row.chunks_exact(BLOCK).zip(out.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()).zip(zeros.iter_mut()) {
        let (lo, hi) = block.iter().fold((0f32, 0f32), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let finite = block.iter().all(|v| v.is_finite());
        let range = if finite { block_range(lo, hi) } else { None };
        let Some((step, inverse, z)) = range else {
            *scale = if finite { 0.0 } else { f32::NAN };
            *zero = 0;
            out.fill(0);
            continue;
        };
        (*scale, *zero) = (step, z);
        for (q, v) in out.iter_mut().zip(block) {
            *q = (round_ties_even(v * inverse) as i32 + z).clamp(0, 255) as u8;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_blocks_avx512(row: &[f32], out: &mut [u8], scales: &mut [f32], zeros: &mut [i32]) {
    use std::arch::x86_64::*;
    for (((block, out), scale), zero) in row.chunks_exact(BLOCK).zip(out.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()).zip(zeros.iter_mut()) {
        let v: [__m512; 4] = std::array::from_fn(|i| _mm512_loadu_ps(block.as_ptr().add(16 * i)));
        let lo = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(v[0], v[1]), _mm512_min_ps(v[2], v[3]))).min(0.0);
        let hi = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(v[0], v[1]), _mm512_max_ps(v[2], v[3]))).max(0.0);
        // A NaN or infinity makes the sum non-finite (min and max would skip a NaN).
        let finite = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]))).is_finite();
        let range = if finite { block_range(lo, hi) } else { None };
        let Some((step, inverse, z)) = range else {
            *scale = if finite { 0.0 } else { f32::NAN };
            *zero = 0;
            out.fill(0);
            continue;
        };
        (*scale, *zero) = (step, z);
        let (inverse, z) = (_mm512_set1_ps(inverse), _mm512_set1_epi32(z));
        let (floor, ceiling) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        for (i, v) in v.iter().enumerate() {
            // Converted with the default rounding (nearest, ties to even).
            let q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(*v, inverse)), z);
            let q = _mm512_min_epi32(_mm512_max_epi32(q, floor), ceiling);
            _mm_storeu_si128(out.as_mut_ptr().add(16 * i) as *mut __m128i, _mm512_cvtepi32_epi8(q));
        }
    }
}

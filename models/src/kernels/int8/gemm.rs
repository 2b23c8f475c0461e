//! The product of quantised activation rows and packed int8 weights, tiled for the caches and
//! spread over rayon's threads (flex's pool).

use rayon::prelude::*;

use super::kernel::{Kernel, Tile as KernelTile, BLOCK, MR, NR};
use super::pack::{quantize_row_blocks, PackedWeights};
use super::scratch;
use crate::kernels::disjoint_out::DisjointOut;

/// Activation rows to multiply, quantised on demand a chunk at a time (so a convolution's
/// unfolded input never exists whole).
pub trait ActivationRows: Sync {
    fn rows(&self) -> usize;
    /// Writes rows `first..first + out_scales.len() / blocks` as bytes, scales and zero points.
    fn fill(&self, first: usize, out: &mut [u8], out_scales: &mut [f32], out_zeros: &mut [i32]);
}

/// One finished output tile: `rows` x `cols` floats from row `first_row` and column `first_col`,
/// `ld` apart. Tiles never overlap.
pub struct Tile<'a> {
    pub first_row: usize,
    pub rows: usize,
    pub first_col: usize,
    pub cols: usize,
    pub values: &'a [f32],
    pub ld: usize,
}

/// Rows per task: 8 kernel tiles, so a panel's block stays in L1 over them.
const ROWS_PER_TASK: usize = 8 * MR;
/// Reduction blocks per pass over a panel: 512 values, 32 KiB of panel.
const BLOCKS_PER_PASS: usize = 8;

/// `a x w`, each finished tile handed to `store` (which may run on any thread).
pub fn gemm(kernel: Kernel, a: &impl ActivationRows, w: &PackedWeights, store: impl Fn(Tile) + Sync) {
    let (m, k) = (a.rows(), w.k);
    let blocks = k / BLOCK;
    let panels = w.panels();
    let row_tasks = m.div_ceil(ROWS_PER_TASK);
    // Enough tasks for every thread (a time embedding has 2 rows, a mid-block convolution 128),
    // without cutting the columns finer than needed: each column group quantises its rows again.
    let wanted = 4 * rayon::current_num_threads();
    let groups = wanted.div_ceil(row_tasks.max(1)).clamp(1, panels.max(1));
    let panels_per_group = panels.div_ceil(groups);
    let groups = panels.div_ceil(panels_per_group);
    (0..row_tasks * groups).into_par_iter().for_each(|task| {
        let (mut rows_buf, mut scales_buf, mut zeros_buf, mut c) = (scratch::take::<u8>(0), scratch::take::<f32>(0), scratch::take::<i32>(0), scratch::take::<f32>(0));
        let (row_task, group) = (task / groups, task % groups);
        let first_row = row_task * ROWS_PER_TASK;
        let rows = ROWS_PER_TASK.min(m - first_row);
        let padded = rows.div_ceil(MR) * MR;
        rows_buf.clear();
        rows_buf.resize(padded * k, 0);
        scales_buf.clear();
        scales_buf.resize(padded * blocks, 0.0);
        zeros_buf.clear();
        zeros_buf.resize(padded * blocks, 0);
        a.fill(first_row, &mut rows_buf[..rows * k], &mut scales_buf[..rows * blocks], &mut zeros_buf[..rows * blocks]);
        let first_panel = group * panels_per_group;
        let last_panel = (first_panel + panels_per_group).min(panels);
        let ld = (last_panel - first_panel) * NR;
        c.clear();
        c.resize(padded * ld, 0.0);
        for first_block in (0..blocks).step_by(BLOCKS_PER_PASS) {
            let pass = BLOCKS_PER_PASS.min(blocks - first_block);
            for p in first_panel..last_panel {
                for r in (0..padded).step_by(MR) {
                    // SAFETY: the buffers hold `padded` rows of `k` values (`blocks` scales) and
                    // `ld` columns; the panel `k * NR` values and `blocks * NR` scales.
                    unsafe {
                        kernel.tile(KernelTile {
                            a: rows_buf.as_ptr().add(r * k + first_block * BLOCK),
                            lda: k,
                            a_scales: scales_buf.as_ptr().add(r * blocks + first_block),
                            a_zeros: zeros_buf.as_ptr().add(r * blocks + first_block),
                            ldas: blocks,
                            b: w.values.as_ptr().add(p * k * NR + first_block * BLOCK * NR),
                            b_scales: w.scales.as_ptr().add((p * blocks + first_block) * NR),
                            b_sums: w.sums.as_ptr().add((p * blocks + first_block) * NR),
                            blocks: pass,
                            c: c.as_mut_ptr().add(r * ld + (p - first_panel) * NR),
                            ldc: ld,
                        });
                    }
                }
            }
        }
        let first_col = first_panel * NR;
        store(Tile { first_row, rows, first_col, cols: ld.min(w.n - first_col), values: &c, ld });
        scratch::give(rows_buf);
        scratch::give(scales_buf);
        scratch::give(zeros_buf);
        scratch::give(c);
    });
}

/// Row-major f32 rows, quantised as they are read.
struct FloatRows<'a> {
    values: &'a [f32],
    k: usize,
}

impl ActivationRows for FloatRows<'_> {
    fn rows(&self) -> usize {
        self.values.len() / self.k
    }
    fn fill(&self, first: usize, out: &mut [u8], out_scales: &mut [f32], out_zeros: &mut [i32]) {
        let blocks = self.k / BLOCK;
        let source = &self.values[first * self.k..first * self.k + out.len()];
        let rows = source.chunks_exact(self.k).zip(out.chunks_exact_mut(self.k));
        for ((row, out), (scales, zeros)) in rows.zip(out_scales.chunks_exact_mut(blocks).zip(out_zeros.chunks_exact_mut(blocks))) {
            quantize_row_blocks(row, out, scales, zeros);
        }
    }
}

/// `x [m, k] x w + bias`, row-major `[m, n]`: a Linear layer's product.
pub fn linear_rows(kernel: Kernel, x: &[f32], k: usize, w: &PackedWeights, bias: Option<&[f32]>) -> Vec<f32> {
    assert_eq!(w.k, k, "a [.., {k}] input against a weight with {} inputs", w.k);
    let n = w.n;
    let m = x.len() / k;
    let mut out = vec![0f32; m * n];
    let shared = DisjointOut::new(&mut out);
    gemm(kernel, &FloatRows { values: x, k }, w, |tile| {
        for r in 0..tile.rows {
            let row = &tile.values[r * tile.ld..r * tile.ld + tile.cols];
            // SAFETY: row `first_row + r` < m, columns `first_col..first_col + cols` <= n; tiles
            // are disjoint.
            let out = unsafe { shared.slice((tile.first_row + r) * n + tile.first_col, tile.cols) };
            match bias {
                Some(bias) => {
                    for ((o, v), b) in out.iter_mut().zip(row).zip(&bias[tile.first_col..]) {
                        *o = v + b;
                    }
                }
                None => out.copy_from_slice(row),
            }
        }
    });
    out
}

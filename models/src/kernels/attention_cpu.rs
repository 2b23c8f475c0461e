//! Attention on the CPU backend: softmax(q kᵀ / √d) v per head, straight from the projections'
//! `[batch, tokens, heads * d]` layout (no head transposes), a block of queries at a time: the
//! block's scores come from the `gemm` crate (flex's own GEMM), their softmax is vectorised (an
//! AVX-512 `exp`, maximum and scaling; burn-flex calls libm's `expf` per score, 1.3 G scores a
//! UNet step at 512x512), and the weighted values from `gemm` again. Scores never exceed one block
//! per thread.

use burn::tensor::Tensor;
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use crate::kernels::disjoint_out::DisjointOut;
use crate::kernels::flex_tensor::{f32_storage, from_f32};
use crate::kernels::vector_math;

/// Queries per task. `gemm` packs the head's keys and values again for every block, so fewer,
/// larger blocks pay that less often: for a 64x64 latent's self-attention (batch 2, 8 heads of
/// 40) 256 rows took 0.23 s where 64 took 0.28 (this machine, alone). 256 rows of scores
/// against 4096 keys are 4 MiB a thread.
const QUERY_BLOCK: usize = 256;

/// `q` `[b, n, h * d]` attends to `k`, `v` `[b, m, h * d]` with `heads` heads: `[b, n, h * d]`.
/// None where the tensors are not f32 on flex (the caller runs burn's attention).
pub fn attention(q: &Tensor<3>, k: &Tensor<3>, v: &Tensor<3>, heads: usize) -> Option<Tensor<3>> {
    let [b, n, inner] = q.dims();
    let m = k.dims()[1];
    let (q, k, v) = (f32_storage(q)?, f32_storage(k)?, f32_storage(v)?);
    let (q, k, v) = (q.as_slice::<f32>()?, k.as_slice::<f32>()?, v.as_slice::<f32>()?);
    let mut out = vec![0f32; b * n * inner];
    attend(q, k, v, [b, n, m, inner], heads, &mut out);
    Some(from_f32(out, [b, n, inner]))
}

/// The arithmetic, on row-major slices: `q` `[b, n, inner]`, `k` and `v` `[b, m, inner]`.
pub fn attend(q: &[f32], k: &[f32], v: &[f32], [b, n, m, inner]: [usize; 4], heads: usize, out: &mut [f32]) {
    assert_eq!(inner % heads, 0, "{inner} channels do not split into {heads} heads");
    assert!(q.len() == b * n * inner && k.len() == b * m * inner && v.len() == k.len() && out.len() == q.len());
    let d = inner / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let blocks = n.div_ceil(QUERY_BLOCK);
    // Each task writes its own query rows of its own head.
    let shared = DisjointOut::new(out);
    let shared = &shared;
    (0..b * heads * blocks).into_par_iter().for_each_init(
        || vec![0f32; QUERY_BLOCK * m],
        |scores, task| {
            let (bh, block) = (task / blocks, task % blocks);
            let (batch, head) = (bh / heads, bh % heads);
            let first = block * QUERY_BLOCK;
            let rows = QUERY_BLOCK.min(n - first);
            let q0 = (batch * n + first) * inner + head * d;
            let kv0 = batch * m * inner + head * d;
            // SAFETY: every pointer and stride stays inside its slice (asserted shapes above);
            // the output rows `first..first + rows` of this head are this task's alone.
            unsafe {
                // scores [rows, m] = scale * q_block [rows, d] x kᵀ [d, m]
                gemm(
                    rows,
                    m,
                    d,
                    scores.as_mut_ptr(),
                    1,
                    m as isize,
                    false,
                    q.as_ptr().add(q0),
                    1,
                    inner as isize,
                    k.as_ptr().add(kv0),
                    inner as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
                for row in scores[..rows * m].chunks_exact_mut(m) {
                    softmax_in_place(row);
                }
                // out [rows, d] = probabilities [rows, m] x v [m, d]
                gemm(
                    rows,
                    d,
                    m,
                    shared.at(q0),
                    1,
                    inner as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    m as isize,
                    v.as_ptr().add(kv0),
                    1,
                    inner as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        },
    );
}

/// `row` becomes softmax(row). (Dividing the d outputs instead of the m probabilities saves a
/// pass, but rounds differently, and the tiny fixture model's int8 + LoRA picture, its 8-bit
/// activations right at their tolerance, moved past it: tried in the fifth round.)
pub fn softmax_in_place(row: &mut [f32]) {
    let max = vector_math::max_of(row);
    let inverse = 1.0 / vector_math::exp_shifted_in_place(row, max);
    vector_math::scale_in_place(row, inverse);
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::attention as burn_attention;
    use burn::tensor::ops::AttentionModuleOptions;
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::test_support::floats;

    /// Against burn's own attention: self-attention over more keys and queries than a block of
    /// queries (the last block short), and
    /// cross-attention to 77 text tokens with a head size SD uses (40, 80, 160).
    #[test]
    fn matches_burns_attention_within_1e5() {
        let device = Device::flex();
        for (b, n, m, heads, d) in [(2, 300, 300, 2, 40), (1, 70, 77, 8, 80), (2, 33, 77, 1, 160)] {
            let inner = heads * d;
            let q = Tensor::<3>::random([b, n, inner], Distribution::Normal(0.0, 1.0), &device);
            let k = Tensor::<3>::random([b, m, inner], Distribution::Normal(0.0, 1.0), &device);
            let v = Tensor::<3>::random([b, m, inner], Distribution::Normal(0.0, 1.0), &device);
            let ours = floats(super::attention(&q, &k, &v, heads).expect("f32 on flex"));
            let split = |t: Tensor<3>, len| t.reshape([b, len, heads, d]).swap_dims(1, 2);
            let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: false };
            let theirs = burn_attention(split(q, n), split(k, m), split(v, m), None, None, options);
            let theirs = floats(theirs.swap_dims(1, 2).reshape([b, n, inner]));
            let norm = |x: &[f32]| x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            let diff: Vec<f32> = ours.iter().zip(&theirs).map(|(a, b)| a - b).collect();
            let relative = norm(&diff) / norm(&theirs);
            assert!(relative <= 1e-5, "[{b}, {n}, {m}] x {heads} heads of {d}: relative error {relative:e}");
        }
    }

    #[test]
    fn softmax_handles_extremes() {
        // Far-apart scores (the smallest underflow to 0), and a row that is not a multiple of 16.
        let mut row: Vec<f32> = (0..37).map(|i| i as f32 * 7.0 - 200.0).collect();
        let exact: Vec<f64> = {
            let max = row.iter().fold(f64::MIN, |a, b| a.max(*b as f64));
            let e: Vec<f64> = row.iter().map(|x| (*x as f64 - max).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|x| x / s).collect()
        };
        let mut portable = row.clone();
        super::softmax_in_place(&mut row);
        let max = portable.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
        let sum = crate::kernels::vector_math::exp_shifted_portable(&mut portable, max);
        portable.iter_mut().for_each(|x| *x /= sum);
        for (ours, path) in [(&row, "detected"), (&portable, "portable")] {
            for (a, b) in ours.iter().zip(&exact) {
                assert!((*a as f64 - b).abs() <= 1e-6 * b.max(1e-30) + 1e-37, "{path}: {a} against {b}");
            }
            assert!((ours.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{path}");
        }
    }
}

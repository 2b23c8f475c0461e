//! GroupNorm, and GroupNorm then SiLU (every resnet block's pattern), on the CPU in two reads and
//! one write of the activations. burn's GroupNorm is seven tensor ops (mean, subtract, square,
//! mean, divide, scale, shift) and SiLU two more, each a pass over the picture into a fresh
//! buffer; at a VAE decoder's 512x512 x 128 channels that is most of a resnet block's time.
//!
//! Statistics as burn (and PyTorch) take them: the group's mean, then the mean of squared
//! differences from it (biased), summed in f64 so a million-value group loses nothing.

use rayon::prelude::*;

use crate::kernels::vector_math::silu_in_place;

/// What to normalise: `x` is `[batch, channels, spatial]` (any trailing dims flattened).
pub struct GroupNormShape {
    pub batch: usize,
    pub channels: usize,
    pub spatial: usize,
    pub groups: usize,
}

/// `(x - mean) / sqrt(var + eps) * gamma + beta` per group (gamma and beta per channel, both or
/// neither), then SiLU if `silu`.
pub fn group_norm(x: &[f32], shape: GroupNormShape, eps: f64, affine: Option<(&[f32], &[f32])>, silu: bool) -> Vec<f32> {
    let GroupNormShape { batch, channels, spatial, groups } = shape;
    assert_eq!(x.len(), batch * channels * spatial, "a [{batch}, {channels}, {spatial}] input");
    assert_eq!(channels % groups, 0, "{channels} channels in {groups} groups");
    let per_group = channels / groups;
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(per_group * spatial).zip(x.par_chunks(per_group * spatial)).enumerate().for_each(|(task, (out, x))| {
        let first_channel = task % groups * per_group;
        let mean = sum(x, |v| v) / x.len() as f64;
        let center = mean as f32;
        let var = sum(x, |v| (v - center) * (v - center)) / x.len() as f64;
        let inv_std = 1.0 / (var + eps).sqrt();
        for (c, (out, x)) in out.chunks_exact_mut(spatial).zip(x.chunks_exact(spatial)).enumerate() {
            let (gamma, beta) = affine.map_or((1.0, 0.0), |(g, b)| (g[first_channel + c] as f64, b[first_channel + c] as f64));
            // (x - mean) first: folding the mean into the shift would cancel two large numbers
            // when the values sit far from zero.
            let (scale, beta) = ((gamma * inv_std) as f32, beta as f32);
            for (o, v) in out.iter_mut().zip(x) {
                *o = (v - center) * scale + beta;
            }
            if silu {
                silu_in_place(out);
            }
        }
    });
    out
}

/// Σ f(x) in f64 over f32 partial sums of 16 lanes x 1024 values (the lanes let the compiler
/// vectorise; the chunks keep each f32 sum short).
fn sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    x.chunks(1024)
        .map(|chunk| {
            let mut lanes = [0f32; 16];
            let mut blocks = chunk.chunks_exact(16);
            for block in &mut blocks {
                for (l, v) in lanes.iter_mut().zip(block) {
                    *l += f(*v);
                }
            }
            lanes.iter().map(|v| *v as f64).chain(blocks.remainder().iter().map(|v| f(*v) as f64)).sum::<f64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::GroupNormConfig;
    use burn::tensor::activation::silu;
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::kernels::cpu_layers::GroupNormCpu;

    use crate::test_support::{assert_within_1e5, floats};

    #[test]
    fn matches_burns_group_norm_and_silu_within_1e5() {
        let device = Device::flex();
        for (case, dims, groups, affine, offset) in [
            ("a resnet's, batch 2", [2, 64, 9, 7], 32, true, 0.0),
            ("one channel a group", [1, 8, 5, 5], 8, true, 0.0),
            ("far from zero (the mean is taken out first)", [1, 16, 16, 16], 4, true, 100.0),
            ("no affine", [2, 32, 6, 6], 8, false, 0.0),
        ] {
            let mut norm = GroupNormConfig::new(groups, dims[1]).with_epsilon(1e-6).with_affine(affine).init(&device);
            if affine {
                norm.gamma = Some(Param::from_tensor(Tensor::random([dims[1]], Distribution::Normal(1.0, 0.5), &device)));
                norm.beta = Some(Param::from_tensor(Tensor::random([dims[1]], Distribution::Normal(0.0, 0.5), &device)));
            }
            let x = Tensor::<4>::random(dims, Distribution::Normal(offset, 2.0), &device);
            assert_within_1e5(case, &floats(norm.forward_cpu(x.clone())), &floats(norm.forward(x.clone())));
            assert_within_1e5(&format!("{case}, then SiLU"), &floats(norm.forward_then_silu(x.clone())), &floats(silu(norm.forward(x))));
        }
        // Three dims (a transformer's [batch, channels, tokens]).
        let norm = GroupNormConfig::new(4, 16).init(&device);
        let x = Tensor::<3>::random([2, 16, 30], Distribution::Normal(0.0, 1.0), &device);
        assert_within_1e5("three dims", &floats(norm.forward_cpu(x.clone())), &floats(norm.forward(x)));
    }
}

//! diffusers' `attention.py` / `transformer_2d.py` as SD 1.5's UNet uses them: Transformer2DModel
//! (group norm, 1x1 conv in/out) around BasicTransformerBlocks (self-attention, cross-attention to
//! the text, GEGLU feed-forward), each pre-norm with a residual.
//!
//! Attention runs through burn's fused attention op (flash-style tiling over the keys with an
//! online softmax on the CPU, a tiled kernel or its fallback on wgpu), one block of queries at a
//! time, so no backend ever holds more than [`SCORE_BUDGET`] attention scores: memory grows with
//! the image area, not with its square.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};

use crate::components::resnet::{conv, group_norm};
use crate::kernels::cpu_layers::{CpuForward, GroupNormCpu};

#[derive(Module, Debug)]
pub struct Attention {
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    pub to_out: Vec<Linear>,
    pub heads: usize,
}

impl Attention {
    pub fn new(query_dim: usize, context_dim: usize, heads: usize, dim_head: usize, device: &Device) -> Self {
        let inner = heads * dim_head;
        let nobias = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        Self {
            to_q: nobias(query_dim, inner),
            to_k: nobias(context_dim, inner),
            to_v: nobias(context_dim, inner),
            to_out: vec![LinearConfig::new(inner, query_dim).init(device)],
            heads,
        }
    }

    /// `x` [b, n, c] attends to `context` [b, m, c'] (itself when `None`).
    pub fn forward(&self, x: Tensor<3>, context: Option<Tensor<3>>) -> Tensor<3> {
        let context = context.unwrap_or_else(|| x.clone());
        let q = self.to_q.forward_cpu(x);
        let k = self.to_k.forward_cpu(context.clone());
        let v = self.to_v.forward_cpu(context);
        if let Some(out) = crate::kernels::attention_cpu::attention(&q, &k, &v, self.heads) {
            return self.to_out[0].forward_cpu(out);
        }
        let [b, n, inner] = q.dims();
        let m = k.dims()[1];
        let h = self.heads;
        let d = inner / h;
        let q = q.reshape([b, n, h, d]).swap_dims(1, 2);
        let k = k.reshape([b, m, h, d]).swap_dims(1, 2);
        let v = v.reshape([b, m, h, d]).swap_dims(1, 2);
        let out = chunked_attention(q, k, v).swap_dims(1, 2).reshape([b, n, inner]);
        self.to_out[0].forward_cpu(out)
    }
}

/// Scores one attention call may hold: 16 Mi values (64 MiB in f32). The tiled CPU kernel never
/// materialises them; the budget bounds what a fallback kernel allocates.
pub const SCORE_BUDGET: usize = 1 << 24;

/// softmax(q kᵀ / √d) v for q [b, h, n, d] and k, v [b, h, m, d], in blocks of queries that keep
/// each call's scores within [`SCORE_BUDGET`].
pub fn chunked_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    attention_within(q, k, v, SCORE_BUDGET)
}

fn attention_within(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, score_budget: usize) -> Tensor<4> {
    let [b, h, n, d] = q.dims();
    let m = k.dims()[2];
    let chunk = (score_budget / (b * h * m).max(1)).clamp(1, n);
    let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: false };
    if chunk == n {
        return attention(q, k, v, None, None, options);
    }
    let parts: Vec<Tensor<4>> = (0..n)
        .step_by(chunk)
        .map(|start| {
            let end = (start + chunk).min(n);
            attention(q.clone().slice([0..b, 0..h, start..end, 0..d]), k.clone(), v.clone(), None, None, options)
        })
        .collect();
    Tensor::cat(parts, 2)
}

/// GEGLU: a linear to twice the width, half of it gating the other half through GELU.
#[derive(Module, Debug)]
pub struct Geglu {
    pub proj: Linear,
}

/// `net.0` is the GEGLU, `net.1` dropout (no weights), `net.2` the output linear: a tuple, so
/// the keys are diffusers' `ff.net.0.proj.weight` and `ff.net.2.weight`.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub net: (Geglu, Dropout, Linear),
}

impl FeedForward {
    pub fn new(dim: usize, device: &Device) -> Self {
        let inner = dim * 4;
        Self {
            net: (
                Geglu { proj: LinearConfig::new(dim, inner * 2).init(device) },
                DropoutConfig::new(0.0).init(),
                LinearConfig::new(inner, dim).init(device),
            ),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let projected = self.net.0.proj.forward_cpu(x);
        let gated = match geglu_cpu(&projected) {
            Some(gated) => gated,
            None => {
                let [b, n, w] = projected.dims();
                let hidden = projected.clone().slice([0..b, 0..n, 0..w / 2]);
                let gate = projected.slice([0..b, 0..n, w / 2..w]);
                hidden * gelu(gate)
            }
        };
        self.net.2.forward_cpu(gated)
    }
}

/// The GEGLU's halves multiplied in one pass on flex (burn: a GELU op, then a product, each a
/// new tensor, and libm's `erff` per value); None elsewhere.
fn geglu_cpu(projected: &Tensor<3>) -> Option<Tensor<3>> {
    use rayon::prelude::*;
    let [b, n, w] = projected.dims();
    // Two equal halves (a GEGLU's projection is twice its width); anything else is burn's to
    // refuse.
    if w % 2 != 0 {
        return None;
    }
    let storage = crate::kernels::flex_tensor::f32_storage(projected)?;
    let values = storage.as_slice::<f32>()?;
    let half = w / 2;
    let mut out = vec![0f32; b * n * half];
    out.par_chunks_mut(half).zip(values.par_chunks(w)).with_min_len(16).for_each(|(out, row)| {
        let (hidden, gate) = row.split_at(half);
        crate::kernels::vector_math::gelu_gated(hidden, gate, out);
    });
    Some(crate::kernels::flex_tensor::from_f32(out, [b, n, half]))
}

#[derive(Module, Debug)]
pub struct BasicTransformerBlock {
    pub norm1: LayerNorm,
    pub attn1: Attention,
    pub norm2: LayerNorm,
    pub attn2: Attention,
    pub norm3: LayerNorm,
    pub ff: FeedForward,
}

impl BasicTransformerBlock {
    pub fn new(dim: usize, context_dim: usize, heads: usize, device: &Device) -> Self {
        let ln = || LayerNormConfig::new(dim).with_epsilon(1e-5).init(device);
        Self {
            norm1: ln(),
            attn1: Attention::new(dim, dim, heads, dim / heads, device),
            norm2: ln(),
            attn2: Attention::new(dim, context_dim, heads, dim / heads, device),
            norm3: ln(),
            ff: FeedForward::new(dim, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, context: Tensor<3>) -> Tensor<3> {
        let x = self.attn1.forward(self.norm1.forward(x.clone()), None) + x;
        let x = self.attn2.forward(self.norm2.forward(x.clone()), Some(context)) + x;
        self.ff.forward(self.norm3.forward(x.clone())) + x
    }
}

#[derive(Module, Debug)]
pub struct Transformer2DModel {
    pub norm: GroupNorm,
    pub proj_in: Conv2d,
    pub transformer_blocks: Vec<BasicTransformerBlock>,
    pub proj_out: Conv2d,
}

impl Transformer2DModel {
    pub fn new(channels: usize, context_dim: usize, heads: usize, groups: usize, device: &Device) -> Self {
        Self {
            norm: group_norm(groups, channels, 1e-6, device),
            proj_in: conv(channels, channels, 1, device),
            transformer_blocks: vec![BasicTransformerBlock::new(channels, context_dim, heads, device)],
            proj_out: conv(channels, channels, 1, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, context: Tensor<3>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let residual = x.clone();
        let mut hidden = self.proj_in.forward_cpu(self.norm.forward_cpu(x)).swap_dims(1, 2).swap_dims(2, 3).reshape([b, h * w, c]);
        for block in &self.transformer_blocks {
            hidden = block.forward(hidden, context.clone());
        }
        let hidden = hidden.reshape([b, h, w, c]).swap_dims(2, 3).swap_dims(1, 2);
        self.proj_out.forward_cpu(hidden) + residual
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    #[test]
    fn query_blocks_give_the_textbook_attention() {
        let device = Device::flex();
        let q = Tensor::<4>::random([2, 3, 37, 8], Distribution::Normal(0.0, 1.0), &device);
        let k = Tensor::<4>::random([2, 3, 29, 8], Distribution::Normal(0.0, 1.0), &device);
        let v = Tensor::<4>::random([2, 3, 29, 8], Distribution::Normal(0.0, 1.0), &device);
        let textbook = softmax(q.clone().matmul(k.clone().swap_dims(2, 3)).mul_scalar(8f64.powf(-0.5)), 3).matmul(v.clone());
        // A budget of 5 query rows' scores: 8 blocks, the last one short.
        let blocked = attention_within(q, k, v, 2 * 3 * 29 * 5);
        assert_eq!(blocked.dims(), [2, 3, 37, 8]);
        let diff = (blocked - textbook).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "blocked attention differs by {diff}");
    }

    /// The one-pass GEGLU against burn's GELU and product: gates far on both sides of zero, and
    /// rows whose half is not a multiple of 16 (the vector tail).
    #[test]
    fn geglu_matches_burns_within_1e5() {
        let device = Device::flex();
        for (b, n, half) in [(2, 37, 48), (1, 5, 21)] {
            let projected = Tensor::<3>::random([b, n, 2 * half], Distribution::Normal(0.0, 4.0), &device);
            let ours = crate::test_support::floats(geglu_cpu(&projected).expect("f32 on flex"));
            let hidden = projected.clone().slice([0..b, 0..n, 0..half]);
            let gate = projected.slice([0..b, 0..n, half..2 * half]);
            let burns = crate::test_support::floats(hidden * gelu(gate));
            crate::test_support::assert_within_1e5(&format!("[{b}, {n}, 2 x {half}]"), &ours, &burns);
        }
        // No two equal halves: left to burn, not a panic in the vector loop.
        assert!(geglu_cpu(&Tensor::<3>::zeros([1, 2, 5], &device)).is_none());
    }
}

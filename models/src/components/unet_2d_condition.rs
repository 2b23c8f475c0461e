//! diffusers' `UNet2DConditionModel` with SD 1.5's architecture: noise prediction for latents at a
//! timestep, conditioned on text embeddings by cross-attention. Names follow diffusers' state dict.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::GroupNorm;
use burn::tensor::{Device, Tensor};

use crate::components::embeddings::{timestep_features, TimestepEmbedding};
use crate::components::resnet::{conv, group_norm};
use crate::components::unet_2d_blocks::{BlockShape, DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D};
use crate::kernels::cpu_layers::{CpuForward, GroupNormCpu};

/// `unet/config.json` (the fields SD 1.5-family UNets use).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UNet2DConditionConfig {
    #[serde(default = "four")]
    pub in_channels: usize,
    #[serde(default = "four")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    pub layers_per_block: usize,
    pub cross_attention_dim: usize,
    /// SD 1.x's config calls the number of heads `attention_head_dim` (a historical misnomer
    /// diffusers keeps); `num_attention_heads` wins when given.
    #[serde(default)]
    pub attention_head_dim: Option<usize>,
    #[serde(default)]
    pub num_attention_heads: Option<usize>,
    #[serde(default = "thirty_two")]
    pub norm_num_groups: usize,
    #[serde(default = "eps")]
    pub norm_eps: f64,
}

fn four() -> usize {
    4
}
fn thirty_two() -> usize {
    32
}
fn eps() -> f64 {
    1e-5
}

impl UNet2DConditionConfig {
    pub fn sd15() -> Self {
        Self {
            in_channels: 4,
            out_channels: 4,
            block_out_channels: vec![320, 640, 1280, 1280],
            down_block_types: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
                .map(String::from)
                .to_vec(),
            up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"].map(String::from).to_vec(),
            layers_per_block: 2,
            cross_attention_dim: 768,
            attention_head_dim: Some(8),
            num_attention_heads: None,
            norm_num_groups: 32,
            norm_eps: 1e-5,
        }
    }

    pub fn heads(&self) -> usize {
        self.num_attention_heads.or(self.attention_head_dim).unwrap_or(8)
    }

    pub fn init(&self, device: &Device) -> UNet2DConditionModel {
        let ch = &self.block_out_channels;
        let temb = ch[0] * 4;
        let shape = BlockShape {
            temb,
            groups: self.norm_num_groups,
            eps: self.norm_eps,
            context_dim: self.cross_attention_dim,
            heads: self.heads(),
        };
        let n = ch.len();
        let down_blocks = (0..n)
            .map(|i| {
                let input = if i == 0 { ch[0] } else { ch[i - 1] };
                let cross = self.down_block_types[i].starts_with("CrossAttn");
                DownBlock2D::new(input, ch[i], self.layers_per_block, cross, i + 1 < n, shape, device)
            })
            .collect();
        let reversed: Vec<usize> = ch.iter().rev().cloned().collect();
        let up_blocks = (0..n)
            .map(|i| {
                let prev = if i == 0 { reversed[0] } else { reversed[i - 1] };
                let input = reversed[(i + 1).min(n - 1)];
                let cross = self.up_block_types[i].starts_with("CrossAttn");
                UpBlock2D::new(input, reversed[i], prev, self.layers_per_block + 1, cross, i + 1 < n, shape, device)
            })
            .collect();
        UNet2DConditionModel {
            conv_in: conv(self.in_channels, ch[0], 3, device),
            time_embedding: TimestepEmbedding::new(ch[0], temb, device),
            down_blocks,
            mid_block: UNetMidBlock2DCrossAttn::new(ch[n - 1], shape, device),
            up_blocks,
            conv_norm_out: group_norm(self.norm_num_groups, ch[0], self.norm_eps, device),
            conv_out: conv(ch[0], self.out_channels, 3, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct UNet2DConditionModel {
    pub conv_in: Conv2d,
    pub time_embedding: TimestepEmbedding,
    pub down_blocks: Vec<DownBlock2D>,
    pub mid_block: UNetMidBlock2DCrossAttn,
    pub up_blocks: Vec<UpBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

/// Residuals a ControlNet adds to the skip connections and the mid block.
pub struct ControlResiduals {
    pub down: Vec<Tensor<4>>,
    pub mid: Tensor<4>,
}

impl UNet2DConditionModel {
    /// Noise prediction for `latents` [b, 4, h, w] at `timestep`, attending to `context` [b, 77k, c].
    pub fn forward(&self, latents: Tensor<4>, timestep: f32, context: Tensor<3>, control: Option<ControlResiduals>) -> Tensor<4> {
        let b = latents.dims()[0];
        let device = latents.device();
        let features = timestep_features(&vec![timestep; b], self.conv_in.weight.dims()[0], &device);
        let temb = self.time_embedding.forward(features);

        let mut x = self.conv_in.forward_cpu(latents);
        let mut skips = vec![x.clone()];
        for block in &self.down_blocks {
            x = block.forward(x, &temb, &context, &mut skips);
        }
        let mut x = self.mid_block.forward(x, &temb, &context);
        if let Some(control) = control {
            skips = skips.into_iter().zip(control.down).map(|(s, r)| s + r).collect();
            x = x + control.mid;
        }
        for block in &self.up_blocks {
            x = block.forward(x, &temb, &context, &mut skips);
        }
        self.conv_out.forward_cpu(self.conv_norm_out.forward_then_silu(x))
    }
}

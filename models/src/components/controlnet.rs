//! diffusers' `ControlNetModel` (ControlNet 1.0/1.1 for SD 1.5): a copy of the UNet's encoder that
//! reads a control image (pose skeleton, depth, lines) and adds what it sees to the UNet's skip
//! connections and mid block through zero-initialised 1x1 convolutions, so the picture keeps the
//! person's pose and shape.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

use crate::components::embeddings::{timestep_features, TimestepEmbedding};
use crate::components::resnet::conv;
use crate::components::unet_2d_blocks::{BlockShape, DownBlock2D, UNetMidBlock2DCrossAttn};
use crate::components::unet_2d_condition::{ControlResiduals, UNet2DConditionConfig};
use crate::kernels::cpu_layers::CpuForward;

/// How a unit's control weighs against the prompt (A1111's control modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlMode {
    #[default]
    Balanced,
    /// "My prompt is more important": soft injection.
    Prompt,
    /// "ControlNet is more important": soft injection, on the prompt's half of CFG only.
    Control,
}

impl std::str::FromStr for ControlMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "balanced" | "0" => Ok(Self::Balanced),
            "prompt" | "my prompt is more important" | "1" => Ok(Self::Prompt),
            "controlnet" | "control" | "controlnet is more important" | "2" => Ok(Self::Control),
            other => Err(format!("control mode {other:?}: use balanced, prompt or controlnet")),
        }
    }
}

/// How strongly and when a ControlNet unit guides: A1111's control weight, guidance start and
/// end, and control mode. One type for the booth's `[[style.controlnet]]`, `generate
/// --controlnet`, the API's units and the pipeline, each of which adds what it guides with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlSettings {
    pub weight: f32,
    /// The part of the steps it guides, as fractions: 0 and 1 for all of them. f64 as Python's
    /// floats: the window's edges are compared exactly (0.2 of 5 steps includes step 1).
    pub start: f64,
    pub end: f64,
    pub mode: ControlMode,
}

impl Default for ControlSettings {
    /// A1111's defaults: full weight, every step, balanced.
    fn default() -> Self {
        Self { weight: 1.0, start: 0.0, end: 1.0, mode: ControlMode::Balanced }
    }
}

impl ControlSettings {
    /// Whether `start..end` is a guidance window: fractions of the steps with
    /// 0 <= start < end <= 1 (each front end says so in its own words).
    pub fn is_window(start: f64, end: f64) -> bool {
        (0.0..=1.0).contains(&start) && (0.0..=1.0).contains(&end) && start < end
    }

    /// Whether step `i` of `n` is in the window (diffusers' `controlnet_keep`).
    pub fn active(&self, i: usize, n: usize) -> bool {
        let (i, n) = (i as f64, n as f64);
        !(i / n < self.start || (i + 1.0) / n > self.end)
    }
}

/// `controlnet/config.json` (the fields SD 1.5 ControlNets use).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ControlNetConfig {
    #[serde(default = "four")]
    pub in_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub layers_per_block: usize,
    pub cross_attention_dim: usize,
    #[serde(default)]
    pub attention_head_dim: Option<usize>,
    #[serde(default)]
    pub num_attention_heads: Option<usize>,
    #[serde(default = "thirty_two")]
    pub norm_num_groups: usize,
    #[serde(default = "eps")]
    pub norm_eps: f64,
    #[serde(default = "cond_channels")]
    pub conditioning_embedding_out_channels: Vec<usize>,
    #[serde(default = "three")]
    pub conditioning_channels: usize,
}

fn four() -> usize {
    4
}
fn three() -> usize {
    3
}
fn thirty_two() -> usize {
    32
}
fn eps() -> f64 {
    1e-5
}
fn cond_channels() -> Vec<usize> {
    vec![16, 32, 96, 256]
}

impl ControlNetConfig {
    /// The UNet shape this ControlNet copies (its up blocks are not built).
    pub fn unet(&self) -> UNet2DConditionConfig {
        UNet2DConditionConfig {
            in_channels: self.in_channels,
            out_channels: self.in_channels,
            block_out_channels: self.block_out_channels.clone(),
            down_block_types: self.down_block_types.clone(),
            up_block_types: self.down_block_types.iter().rev().map(|t| t.replace("Down", "Up")).collect(),
            layers_per_block: self.layers_per_block,
            cross_attention_dim: self.cross_attention_dim,
            attention_head_dim: self.attention_head_dim,
            num_attention_heads: self.num_attention_heads,
            norm_num_groups: self.norm_num_groups,
            norm_eps: self.norm_eps,
        }
    }

    /// Pixels of the control image per latent: its embedding downsamples once per level but one.
    pub fn scale_factor(&self) -> usize {
        1 << (self.conditioning_embedding_out_channels.len() - 1)
    }

    pub fn init(&self, device: &Device) -> ControlNetModel {
        let unet = self.unet();
        let ch = &self.block_out_channels;
        let shape = BlockShape {
            temb: ch[0] * 4,
            groups: self.norm_num_groups,
            eps: self.norm_eps,
            context_dim: self.cross_attention_dim,
            heads: unet.heads(),
        };
        let n = ch.len();
        let one = |c: usize| conv(c, c, 1, device);
        let mut controlnet_down_blocks = vec![one(ch[0])];
        let down_blocks = (0..n)
            .map(|i| {
                let input = if i == 0 { ch[0] } else { ch[i - 1] };
                let cross = self.down_block_types[i].starts_with("CrossAttn");
                let last = i + 1 == n;
                controlnet_down_blocks.extend((0..self.layers_per_block + usize::from(!last)).map(|_| one(ch[i])));
                DownBlock2D::new(input, ch[i], self.layers_per_block, cross, !last, shape, device)
            })
            .collect();
        let c = &self.conditioning_embedding_out_channels;
        let mut blocks = Vec::new();
        for w in c.windows(2) {
            blocks.push(conv(w[0], w[0], 3, device));
            blocks.push(
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
        }
        ControlNetModel {
            conv_in: conv(self.in_channels, ch[0], 3, device),
            time_embedding: TimestepEmbedding::new(ch[0], ch[0] * 4, device),
            controlnet_cond_embedding: ControlNetConditioningEmbedding {
                conv_in: conv(self.conditioning_channels, c[0], 3, device),
                blocks,
                conv_out: conv(*c.last().expect("conditioning channels"), ch[0], 3, device),
            },
            down_blocks,
            controlnet_down_blocks,
            mid_block: UNetMidBlock2DCrossAttn::new(ch[n - 1], shape, device),
            controlnet_mid_block: one(ch[n - 1]),
        }
    }
}

/// The control image [b, 3, H, W] in [0, 1] to features at the latents' size.
#[derive(Module, Debug)]
pub struct ControlNetConditioningEmbedding {
    pub conv_in: Conv2d,
    pub blocks: Vec<Conv2d>,
    pub conv_out: Conv2d,
}

impl ControlNetConditioningEmbedding {
    pub fn forward(&self, image: Tensor<4>) -> Tensor<4> {
        let x = self.blocks.iter().fold(silu(self.conv_in.forward_cpu(image)), |x, b| silu(b.forward_cpu(x)));
        self.conv_out.forward_cpu(x)
    }
}

#[derive(Module, Debug)]
pub struct ControlNetModel {
    pub conv_in: Conv2d,
    pub time_embedding: TimestepEmbedding,
    pub controlnet_cond_embedding: ControlNetConditioningEmbedding,
    pub down_blocks: Vec<DownBlock2D>,
    pub controlnet_down_blocks: Vec<Conv2d>,
    pub mid_block: UNetMidBlock2DCrossAttn,
    pub controlnet_mid_block: Conv2d,
}

impl ControlNetModel {
    /// The residuals for the UNet, times `scale` (the unit's weight while it is in its window).
    pub fn forward(&self, latents: Tensor<4>, timestep: f32, context: Tensor<3>, control_image: Tensor<4>, scale: f32) -> ControlResiduals {
        let b = latents.dims()[0];
        let device = latents.device();
        let features = timestep_features(&vec![timestep; b], self.conv_in.weight.dims()[0], &device);
        let temb = self.time_embedding.forward(features);
        let mut x = self.conv_in.forward_cpu(latents) + self.controlnet_cond_embedding.forward(control_image);
        let mut skips = vec![x.clone()];
        for block in &self.down_blocks {
            x = block.forward(x, &temb, &context, &mut skips);
        }
        let x = self.mid_block.forward(x, &temb, &context);
        let down = skips.into_iter().zip(&self.controlnet_down_blocks).map(|(s, c)| c.forward_cpu(s).mul_scalar(scale)).collect();
        ControlResiduals { down, mid: self.controlnet_mid_block.forward_cpu(x).mul_scalar(scale) }
    }
}

impl ControlResiduals {
    /// The sum of two units' residuals (MultiControlNet).
    pub fn add(self, other: ControlResiduals) -> ControlResiduals {
        ControlResiduals { down: self.down.into_iter().zip(other.down).map(|(a, b)| a + b).collect(), mid: self.mid + other.mid }
    }

    /// A1111's soft injection ("My prompt is more important", "ControlNet is more important"):
    /// the residual `k` levels below the middle block is scaled by 0.825^k (SD 1.5's first skip
    /// by 0.825^12, about 0.1; the middle block's by 1).
    pub fn soft(self) -> ControlResiduals {
        let n = self.down.len() as i32;
        let down = self.down.into_iter().enumerate().map(|(k, r)| r.mul_scalar(0.825f64.powi(n - k as i32) as f32)).collect();
        ControlResiduals { down, mid: self.mid }
    }

    /// A1111's CFG injection ("ControlNet is more important"): the residuals reach only the
    /// prompt's half of the classifier-free-guidance batch (the first half is the negative
    /// prompt's), so the control counts cfg times as much.
    pub fn prompt_half_only(self) -> ControlResiduals {
        let only = |r: Tensor<4>| {
            let [b, c, h, w] = r.dims();
            let half = r.clone().slice([b / 2..b, 0..c, 0..h, 0..w]);
            Tensor::cat(vec![half.zeros_like(), half], 0)
        };
        ControlResiduals { down: self.down.into_iter().map(only).collect(), mid: only(self.mid) }
    }
}

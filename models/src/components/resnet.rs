//! diffusers' `resnet.py`: ResnetBlock2D, Downsample2D, Upsample2D (shared by the VAE and UNet).

use crate::kernels::cpu_layers::{CpuForward, GroupNormCpu};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::silu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

pub fn conv(i: usize, o: usize, k: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [k, k]).with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2)).init(device)
}

pub fn group_norm(groups: usize, channels: usize, eps: f64, device: &Device) -> GroupNorm {
    GroupNormConfig::new(groups, channels).with_epsilon(eps).init(device)
}

/// GroupNorm, SiLU, conv; twice; plus the (1x1-projected) input. With a time embedding in the UNet.
#[derive(Module, Debug)]
pub struct ResnetBlock2D {
    pub norm1: GroupNorm,
    pub conv1: Conv2d,
    pub time_emb_proj: Option<Linear>,
    pub norm2: GroupNorm,
    pub conv2: Conv2d,
    pub conv_shortcut: Option<Conv2d>,
}

impl ResnetBlock2D {
    pub fn new(i: usize, o: usize, temb: Option<usize>, groups: usize, eps: f64, device: &Device) -> Self {
        Self {
            norm1: group_norm(groups, i, eps, device),
            conv1: conv(i, o, 3, device),
            time_emb_proj: temb.map(|t| LinearConfig::new(t, o).init(device)),
            norm2: group_norm(groups, o, eps, device),
            conv2: conv(o, o, 3, device),
            conv_shortcut: (i != o).then(|| conv(i, o, 1, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>, temb: Option<&Tensor<2>>) -> Tensor<4> {
        let mut h = self.conv1.forward_cpu(self.norm1.forward_then_silu(x.clone()));
        if let (Some(proj), Some(t)) = (&self.time_emb_proj, temb) {
            let [b, c] = [h.dims()[0], h.dims()[1]];
            h = h + proj.forward_cpu(silu(t.clone())).reshape([b, c, 1, 1]);
        }
        let h = self.conv2.forward_cpu(self.norm2.forward_then_silu(h));
        let shortcut = match &self.conv_shortcut {
            Some(c) => c.forward_cpu(x),
            None => x,
        };
        shortcut + h
    }
}

/// Stride-2 3x3 conv. The VAE pads only bottom/right (padding 0 + explicit pad (0, 1, 0, 1));
/// the UNet pads 1 all round.
#[derive(Module, Debug)]
pub struct Downsample2D {
    pub conv: Conv2d,
}

impl Downsample2D {
    pub fn new(channels: usize, asymmetric: bool, device: &Device) -> Self {
        let padding = if asymmetric { PaddingConfig2d::Explicit(0, 0, 1, 1) } else { PaddingConfig2d::Explicit(1, 1, 1, 1) };
        Self { conv: Conv2dConfig::new([channels, channels], [3, 3]).with_stride([2, 2]).with_padding(padding).init(device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward_cpu(x)
    }
}

/// Nearest-neighbour 2x, then a 3x3 conv.
#[derive(Module, Debug)]
pub struct Upsample2D {
    pub conv: Conv2d,
}

impl Upsample2D {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self { conv: conv(channels, channels, 3, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        self.forward_to(x, [h * 2, w * 2])
    }

    /// Nearest-neighbour resize to `size` (the UNet passes the skip's size for odd latents).
    pub fn forward_to(&self, x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
        let up = interpolate(x, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size(size));
        self.conv.forward_cpu(up)
    }
}

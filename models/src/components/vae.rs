//! diffusers' `AutoencoderKL` (SD 1.5's VAE): encoder to a diagonal Gaussian over 4-channel
//! latents at 1/8 size, decoder back to RGB. Names follow diffusers' state dict.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::components::resnet::{conv, group_norm, Downsample2D, ResnetBlock2D, Upsample2D};
use crate::kernels::cpu_layers::{CpuForward, GroupNormCpu};

/// `vae/config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AutoencoderKlConfig {
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    #[serde(default = "four")]
    pub latent_channels: usize,
    #[serde(default = "thirty_two")]
    pub norm_num_groups: usize,
    #[serde(default = "sd_scaling")]
    pub scaling_factor: f32,
    /// The image size the VAE was trained at: the tile size of a tiled decode.
    #[serde(default = "five_twelve")]
    pub sample_size: usize,
}

fn five_twelve() -> usize {
    512
}

fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn thirty_two() -> usize {
    32
}
fn sd_scaling() -> f32 {
    0.18215
}

const EPS: f64 = 1e-6;

impl AutoencoderKlConfig {
    pub fn sd15() -> Self {
        Self {
            in_channels: 3,
            out_channels: 3,
            block_out_channels: vec![128, 256, 512, 512],
            layers_per_block: 2,
            latent_channels: 4,
            norm_num_groups: 32,
            scaling_factor: 0.18215,
            sample_size: 512,
        }
    }

    pub fn init(&self, device: &Device) -> AutoencoderKl {
        let g = self.norm_num_groups;
        let ch = &self.block_out_channels;
        let top = *ch.last().expect("at least one block");
        let mid = || VaeMidBlock {
            resnets: vec![ResnetBlock2D::new(top, top, None, g, EPS, device), ResnetBlock2D::new(top, top, None, g, EPS, device)],
            attentions: vec![VaeAttention::new(top, g, device)],
        };
        let down_blocks = (0..ch.len())
            .map(|i| {
                let input = if i == 0 { ch[0] } else { ch[i - 1] };
                DownEncoderBlock2D {
                    resnets: (0..self.layers_per_block)
                        .map(|j| ResnetBlock2D::new(if j == 0 { input } else { ch[i] }, ch[i], None, g, EPS, device))
                        .collect(),
                    downsamplers: if i + 1 < ch.len() { vec![Downsample2D::new(ch[i], true, device)] } else { vec![] },
                }
            })
            .collect();
        let reversed: Vec<usize> = ch.iter().rev().cloned().collect();
        let up_blocks = (0..reversed.len())
            .map(|i| {
                let input = if i == 0 { reversed[0] } else { reversed[i - 1] };
                UpDecoderBlock2D {
                    resnets: (0..=self.layers_per_block)
                        .map(|j| ResnetBlock2D::new(if j == 0 { input } else { reversed[i] }, reversed[i], None, g, EPS, device))
                        .collect(),
                    upsamplers: if i + 1 < reversed.len() { vec![Upsample2D::new(reversed[i], device)] } else { vec![] },
                }
            })
            .collect();
        let l = self.latent_channels;
        AutoencoderKl {
            encoder: Encoder {
                conv_in: conv(self.in_channels, ch[0], 3, device),
                down_blocks,
                mid_block: mid(),
                conv_norm_out: group_norm(g, top, EPS, device),
                conv_out: conv(top, 2 * l, 3, device),
            },
            quant_conv: conv(2 * l, 2 * l, 1, device),
            post_quant_conv: conv(l, l, 1, device),
            decoder: Decoder {
                conv_in: conv(l, top, 3, device),
                mid_block: mid(),
                up_blocks,
                conv_norm_out: group_norm(g, ch[0], EPS, device),
                conv_out: conv(ch[0], self.out_channels, 3, device),
            },
        }
    }
}

#[derive(Module, Debug)]
pub struct AutoencoderKl {
    pub encoder: Encoder,
    pub quant_conv: Conv2d,
    pub post_quant_conv: Conv2d,
    pub decoder: Decoder,
}

#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv2d,
    pub down_blocks: Vec<DownEncoderBlock2D>,
    pub mid_block: VaeMidBlock,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv2d,
    pub mid_block: VaeMidBlock,
    pub up_blocks: Vec<UpDecoderBlock2D>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
}

#[derive(Module, Debug)]
pub struct DownEncoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub downsamplers: Vec<Downsample2D>,
}

#[derive(Module, Debug)]
pub struct UpDecoderBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub upsamplers: Vec<Upsample2D>,
}

/// `UNetMidBlock2D` of the VAE: resnet, self-attention, resnet.
#[derive(Module, Debug)]
pub struct VaeMidBlock {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<VaeAttention>,
}

/// Single-head spatial self-attention with a residual (diffusers' `Attention` with group norm).
#[derive(Module, Debug)]
pub struct VaeAttention {
    pub group_norm: GroupNorm,
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    pub to_out: Vec<Linear>,
}

impl VaeAttention {
    fn new(c: usize, groups: usize, device: &Device) -> Self {
        let l = || LinearConfig::new(c, c).init(device);
        Self { group_norm: group_norm(groups, c, EPS, device), to_q: l(), to_k: l(), to_v: l(), to_out: vec![l()] }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let n = self.group_norm.forward_cpu(x.clone()).reshape([b, c, h * w]).swap_dims(1, 2);
        let q = self.to_q.forward_cpu(n.clone());
        let k = self.to_k.forward_cpu(n.clone());
        let v = self.to_v.forward_cpu(n);
        // One head of all c channels; on the CPU never the whole [h*w, h*w] score matrix at once.
        let attended = match crate::kernels::attention_cpu::attention(&q, &k, &v, 1) {
            Some(attended) => attended,
            None => softmax(q.matmul(k.swap_dims(1, 2)).mul_scalar((c as f64).powf(-0.5)), 2).matmul(v),
        };
        let out = self.to_out[0].forward_cpu(attended);
        out.swap_dims(1, 2).reshape([b, c, h, w]) + x
    }
}

impl VaeMidBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.resnets[0].forward(x, None);
        let x = self.attentions[0].forward(x);
        self.resnets[1].forward(x, None)
    }
}

/// The encoder's output: a diagonal Gaussian over latents.
pub struct DiagonalGaussian {
    pub mean: Tensor<4>,
    pub std: Tensor<4>,
}

impl DiagonalGaussian {
    /// `mean + std * noise` (diffusers' `sample(generator)` with the noise drawn by the caller).
    pub fn sample(&self, noise: Tensor<4>) -> Tensor<4> {
        self.mean.clone() + self.std.clone() * noise
    }
}

impl AutoencoderKl {
    /// Image in [-1, 1], [batch, 3, H, W] with H, W multiples of 8.
    pub fn encode(&self, image: Tensor<4>) -> DiagonalGaussian {
        let e = &self.encoder;
        let mut x = e.conv_in.forward_cpu(image);
        for block in &e.down_blocks {
            for r in &block.resnets {
                x = r.forward(x, None);
            }
            for d in &block.downsamplers {
                x = d.forward(x);
            }
        }
        x = e.mid_block.forward(x);
        x = e.conv_out.forward_cpu(e.conv_norm_out.forward_then_silu(x));
        let moments = self.quant_conv.forward_cpu(x);
        let [b, c2, h, w] = moments.dims();
        let c = c2 / 2;
        let mean = moments.clone().slice([0..b, 0..c, 0..h, 0..w]);
        let logvar = moments.slice([0..b, c..c2, 0..h, 0..w]).clamp(-30.0, 20.0);
        let std = logvar.mul_scalar(0.5).exp();
        DiagonalGaussian { mean, std }
    }

    /// [`Self::decode`] in overlapping tiles of `tile_latent` latents (the training size) when the
    /// latents are larger, as diffusers' `enable_tiling()`: memory stays that of one tile however
    /// large the picture. Tiles overlap by a quarter and are blended linearly into the tiles above
    /// and to the left, which are blended already (diffusers blends in place, in this order).
    pub fn tiled_decode(&self, latents: Tensor<4>, tile_latent: usize) -> Tensor<4> {
        let [b, c, h, w] = latents.dims();
        if h <= tile_latent && w <= tile_latent {
            return self.decode(latents);
        }
        let scale = 1 << (self.decoder.up_blocks.len() - 1);
        let tile_sample = tile_latent * scale;
        let overlap = (tile_latent as f64 * 0.75) as usize;
        let blend = (tile_sample as f64 * 0.25) as usize;
        let keep = tile_sample - blend;
        let mut rows: Vec<Vec<Tensor<4>>> = (0..h)
            .step_by(overlap)
            .map(|i| {
                (0..w)
                    .step_by(overlap)
                    .map(|j| self.decode(latents.clone().slice([0..b, 0..c, i..(i + tile_latent).min(h), j..(j + tile_latent).min(w)])))
                    .collect()
            })
            .collect();
        for i in 0..rows.len() {
            for j in 0..rows[i].len() {
                let mut tile = rows[i][j].clone();
                if i > 0 {
                    tile = blend_into(&rows[i - 1][j], tile, blend, 2);
                }
                if j > 0 {
                    tile = blend_into(&rows[i][j - 1], tile, blend, 3);
                }
                rows[i][j] = tile;
            }
        }
        let image_rows: Vec<Tensor<4>> = rows
            .into_iter()
            .map(|row| {
                let cropped = row
                    .into_iter()
                    .map(|t| {
                        let [b, c, th, tw] = t.dims();
                        t.slice([0..b, 0..c, 0..th.min(keep), 0..tw.min(keep)])
                    })
                    .collect();
                Tensor::cat(cropped, 3)
            })
            .collect();
        Tensor::cat(image_rows, 2)
    }

    /// Latents (unscaled) to an image in about [-1, 1].
    pub fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        let d = &self.decoder;
        let mut x = d.conv_in.forward_cpu(self.post_quant_conv.forward_cpu(latents));
        x = d.mid_block.forward(x);
        for block in &d.up_blocks {
            for r in &block.resnets {
                x = r.forward(x, None);
            }
            for u in &block.upsamplers {
                x = u.forward(x);
            }
        }
        d.conv_out.forward_cpu(d.conv_norm_out.forward_then_silu(x))
    }
}

/// The first `extent` rows (axis 2) or columns (axis 3) of `b` faded in from the last ones of `a`:
/// `a[-e + k] * (1 - k/e) + b[k] * (k/e)`.
fn blend_into(a: &Tensor<4>, b: Tensor<4>, extent: usize, axis: usize) -> Tensor<4> {
    let extent = extent.min(a.dims()[axis]).min(b.dims()[axis]);
    if extent == 0 {
        return b;
    }
    let device = b.device();
    let mut shape = [1usize; 4];
    shape[axis] = extent;
    let fade_in: Vec<f32> = (0..extent).map(|k| (k as f64 / extent as f64) as f32).collect();
    let fade_out: Vec<f32> = (0..extent).map(|k| (1.0 - k as f64 / extent as f64) as f32).collect();
    let weight = |v: Vec<f32>| Tensor::<4>::from_data(burn::tensor::TensorData::new(v, shape), &device);
    let a_len = a.dims()[axis];
    let b_len = b.dims()[axis];
    let a_tail = a.clone().narrow(axis, a_len - extent, extent);
    let b_head = b.clone().narrow(axis, 0, extent);
    let blended = a_tail * weight(fade_out) + b_head * weight(fade_in);
    if extent == b_len {
        blended
    } else {
        Tensor::cat(vec![blended, b.narrow(axis, extent, b_len - extent)], axis)
    }
}

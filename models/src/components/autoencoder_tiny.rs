//! diffusers' `AutoencoderTiny` (TAESD, madebyollin): a 2.4M-parameter encoder and decoder that
//! stand in for the 84M-parameter KL VAE, tens of times cheaper to run, at a small cost in detail.
//! Its latents are deterministic (no posterior sample) and unscaled (`scaling_factor` 1).
//!
//! Like diffusers, each side is one `layers` sequence; the sequence's entries are an enum whose
//! variant names are left out of tensor paths, so `encoder.layers.1.conv.2.weight` loads as is.

use crate::kernels::cpu_layers::CpuForward;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::{PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor};

/// `vae/config.json` of an AutoencoderTiny (e.g. madebyollin/taesd).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AutoencoderTinyConfig {
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_channels: usize,
    #[serde(default = "sixty_four")]
    pub encoder_block_out_channels: Vec<usize>,
    #[serde(default = "sixty_four")]
    pub decoder_block_out_channels: Vec<usize>,
    #[serde(default = "encoder_blocks")]
    pub num_encoder_blocks: Vec<usize>,
    #[serde(default = "decoder_blocks")]
    pub num_decoder_blocks: Vec<usize>,
    #[serde(default = "four")]
    pub latent_channels: usize,
    #[serde(default = "two")]
    pub upsampling_scaling_factor: usize,
    #[serde(default = "relu")]
    pub act_fn: String,
    #[serde(default = "one")]
    pub scaling_factor: f32,
}

fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn two() -> usize {
    2
}
fn one() -> f32 {
    1.0
}
fn sixty_four() -> Vec<usize> {
    vec![64; 4]
}
fn encoder_blocks() -> Vec<usize> {
    vec![1, 3, 3, 3]
}
fn decoder_blocks() -> Vec<usize> {
    vec![3, 3, 3, 1]
}
fn relu() -> String {
    "relu".into()
}

impl AutoencoderTinyConfig {
    /// TAESD for SD 1.x.
    pub fn taesd() -> Self {
        serde_json::from_str("{}").expect("all fields have defaults")
    }

    /// Why this config cannot be built, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.act_fn != "relu" {
            return Some(format!("act_fn {:?} (only TAESD's \"relu\" is supported)", self.act_fn));
        }
        let channels_change = |c: &[usize]| c.windows(2).any(|w| w[0] != w[1]);
        if self.encoder_block_out_channels.len() != self.num_encoder_blocks.len()
            || self.decoder_block_out_channels.len() != self.num_decoder_blocks.len()
            || channels_change(&self.encoder_block_out_channels)
            || channels_change(&self.decoder_block_out_channels)
            || self.encoder_block_out_channels.is_empty()
            || self.decoder_block_out_channels.is_empty()
        {
            return Some("block lists of different lengths or changing widths (TAESD keeps one width)".into());
        }
        None
    }

    /// Pixels per latent along each side: 2^(encoder levels - 1).
    pub fn scale_factor(&self) -> u32 {
        1 << (self.num_encoder_blocks.len() - 1)
    }

    pub fn init(&self, device: &Device) -> AutoencoderTiny {
        let conv = |i: usize, o: usize, k: usize, stride: usize, bias: bool| -> Conv2d {
            Conv2dConfig::new([i, o], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .with_bias(bias)
                .init(device)
        };
        let block = |c: usize| {
            TinyLayer::Block(AutoencoderTinyBlock {
                conv: (conv(c, c, 3, 1, true), Relu::new(), conv(c, c, 3, 1, true), Relu::new(), conv(c, c, 3, 1, true)),
            })
        };

        let mut encoder = Vec::new();
        for (i, (&c, &n)) in self.encoder_block_out_channels.iter().zip(&self.num_encoder_blocks).enumerate() {
            encoder.push(TinyLayer::Conv(if i == 0 { conv(self.in_channels, c, 3, 1, true) } else { conv(c, c, 3, 2, false) }));
            encoder.extend((0..n).map(|_| block(c)));
        }
        encoder.push(TinyLayer::Conv(conv(*self.encoder_block_out_channels.last().unwrap(), self.latent_channels, 3, 1, true)));

        let mut decoder =
            vec![TinyLayer::Conv(conv(self.latent_channels, self.decoder_block_out_channels[0], 3, 1, true)), TinyLayer::Relu(Relu::new())];
        let levels = self.num_decoder_blocks.len();
        for (i, (&c, &n)) in self.decoder_block_out_channels.iter().zip(&self.num_decoder_blocks).enumerate() {
            let last = i == levels - 1;
            decoder.extend((0..n).map(|_| block(c)));
            if !last {
                let factor = self.upsampling_scaling_factor as f32;
                decoder.push(TinyLayer::Upsample(
                    Interpolate2dConfig::new().with_scale_factor(Some([factor, factor])).with_mode(InterpolateMode::Nearest).init(),
                ));
            }
            decoder.push(TinyLayer::Conv(conv(c, if last { self.out_channels } else { c }, 3, 1, last)));
        }
        AutoencoderTiny { encoder: EncoderTiny { layers: encoder }, decoder: DecoderTiny { layers: decoder } }
    }
}

/// Three 3x3 convs with ReLUs between, plus the input, through a ReLU (`fuse`). TAESD's blocks
/// keep their width, so diffusers' `skip` is always the identity.
#[derive(Module, Debug)]
pub struct AutoencoderTinyBlock {
    pub conv: (Conv2d, Relu, Conv2d, Relu, Conv2d),
}

impl AutoencoderTinyBlock {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (c0, r1, c2, r3, c4) = &self.conv;
        let y = c4.forward_cpu(r3.forward(c2.forward_cpu(r1.forward(c0.forward_cpu(x.clone())))));
        burn::tensor::activation::relu(y + x)
    }
}

#[derive(Module, Debug)]
pub enum TinyLayer {
    Conv(Conv2d),
    Block(AutoencoderTinyBlock),
    Relu(Relu),
    Upsample(Interpolate2d),
}

impl TinyLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Conv(c) => c.forward_cpu(x),
            Self::Block(b) => b.forward(x),
            Self::Relu(r) => r.forward(x),
            Self::Upsample(u) => u.forward(x),
        }
    }
}

#[derive(Module, Debug)]
pub struct EncoderTiny {
    pub layers: Vec<TinyLayer>,
}

#[derive(Module, Debug)]
pub struct DecoderTiny {
    pub layers: Vec<TinyLayer>,
}

#[derive(Module, Debug)]
pub struct AutoencoderTiny {
    pub encoder: EncoderTiny,
    pub decoder: DecoderTiny,
}

impl AutoencoderTiny {
    /// Image in [-1, 1] to latents.
    pub fn encode(&self, image: Tensor<4>) -> Tensor<4> {
        // TAESD works on [0, 1] images.
        self.encoder.layers.iter().fold(image.add_scalar(1.0).div_scalar(2.0), |x, l| l.forward(x))
    }

    /// Latents to an image in about [-1, 1].
    pub fn decode(&self, latents: Tensor<4>) -> Tensor<4> {
        // Soft-clamps the latents to ±3 as TAESD was trained.
        let x = latents.div_scalar(3.0).tanh().mul_scalar(3.0);
        self.decoder.layers.iter().fold(x, |x, l| l.forward(x)).mul_scalar(2.0).sub_scalar(1.0)
    }
}

//! diffusers' `unet_2d_blocks.py` for SD 1.5: down blocks (with or without cross-attention), the
//! cross-attention mid block, and up blocks that consume the skip connections.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::components::attention::Transformer2DModel;
use crate::components::resnet::{Downsample2D, ResnetBlock2D, Upsample2D};

/// What blocks share: time embedding width, groups, eps, text width, heads.
#[derive(Debug, Clone, Copy)]
pub struct BlockShape {
    pub temb: usize,
    pub groups: usize,
    pub eps: f64,
    pub context_dim: usize,
    pub heads: usize,
}

/// `CrossAttnDownBlock2D` when it has attentions, `DownBlock2D` when not.
#[derive(Module, Debug)]
pub struct DownBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    pub downsamplers: Vec<Downsample2D>,
}

impl DownBlock2D {
    pub fn new(i: usize, o: usize, layers: usize, cross_attention: bool, downsample: bool, s: BlockShape, device: &Device) -> Self {
        Self {
            resnets: (0..layers)
                .map(|j| ResnetBlock2D::new(if j == 0 { i } else { o }, o, Some(s.temb), s.groups, s.eps, device))
                .collect(),
            attentions: if cross_attention {
                (0..layers).map(|_| Transformer2DModel::new(o, s.context_dim, s.heads, s.groups, device)).collect()
            } else {
                vec![]
            },
            downsamplers: if downsample { vec![Downsample2D::new(o, false, device)] } else { vec![] },
        }
    }

    /// Returns the output and every intermediate state (the skip connections).
    pub fn forward(&self, mut x: Tensor<4>, temb: &Tensor<2>, context: &Tensor<3>, skips: &mut Vec<Tensor<4>>) -> Tensor<4> {
        for (j, resnet) in self.resnets.iter().enumerate() {
            x = resnet.forward(x, Some(temb));
            if let Some(attn) = self.attentions.get(j) {
                x = attn.forward(x, context.clone());
            }
            skips.push(x.clone());
        }
        for d in &self.downsamplers {
            x = d.forward(x);
            skips.push(x.clone());
        }
        x
    }
}

/// `CrossAttnUpBlock2D` when it has attentions, `UpBlock2D` when not.
#[derive(Module, Debug)]
pub struct UpBlock2D {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
    pub upsamplers: Vec<Upsample2D>,
}

impl UpBlock2D {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        i: usize,
        o: usize,
        prev: usize,
        layers: usize,
        cross_attention: bool,
        upsample: bool,
        s: BlockShape,
        device: &Device,
    ) -> Self {
        Self {
            resnets: (0..layers)
                .map(|j| {
                    let skip = if j == layers - 1 { i } else { o };
                    let input = if j == 0 { prev } else { o };
                    ResnetBlock2D::new(input + skip, o, Some(s.temb), s.groups, s.eps, device)
                })
                .collect(),
            attentions: if cross_attention {
                (0..layers).map(|_| Transformer2DModel::new(o, s.context_dim, s.heads, s.groups, device)).collect()
            } else {
                vec![]
            },
            upsamplers: if upsample { vec![Upsample2D::new(o, device)] } else { vec![] },
        }
    }

    /// Consumes skip connections from the end of `skips`; the upsampler scales to the size of
    /// the next block's skips (odd latent sizes do not double exactly).
    pub fn forward(&self, mut x: Tensor<4>, temb: &Tensor<2>, context: &Tensor<3>, skips: &mut Vec<Tensor<4>>) -> Tensor<4> {
        for (j, resnet) in self.resnets.iter().enumerate() {
            let skip = skips.pop().expect("a skip connection per resnet");
            x = resnet.forward(Tensor::cat(vec![x, skip], 1), Some(temb));
            if let Some(attn) = self.attentions.get(j) {
                x = attn.forward(x, context.clone());
            }
        }
        for u in &self.upsamplers {
            let [_, _, h, w] = skips.last().map(|s| s.dims()).unwrap_or_else(|| {
                let d = x.dims();
                [d[0], d[1], d[2] * 2, d[3] * 2]
            });
            x = u.forward_to(x, [h, w]);
        }
        x
    }
}

/// `UNetMidBlock2DCrossAttn`: resnet, transformer, resnet.
#[derive(Module, Debug)]
pub struct UNetMidBlock2DCrossAttn {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Transformer2DModel>,
}

impl UNetMidBlock2DCrossAttn {
    pub fn new(c: usize, s: BlockShape, device: &Device) -> Self {
        Self {
            resnets: vec![
                ResnetBlock2D::new(c, c, Some(s.temb), s.groups, s.eps, device),
                ResnetBlock2D::new(c, c, Some(s.temb), s.groups, s.eps, device),
            ],
            attentions: vec![Transformer2DModel::new(c, s.context_dim, s.heads, s.groups, device)],
        }
    }

    pub fn forward(&self, x: Tensor<4>, temb: &Tensor<2>, context: &Tensor<3>) -> Tensor<4> {
        let x = self.resnets[0].forward(x, Some(temb));
        let x = self.attentions[0].forward(x, context.clone());
        self.resnets[1].forward(x, Some(temb))
    }
}

//! The `mlsd` preprocessor: M-LSD (Mobile Line Segment Detection, the "large" model A1111 and
//! controlnet_aux use) finds straight line segments, drawn one pixel wide in white on black.
//!
//! The network is a MobileNetV2 front (its first 14 blocks, five feature levels) and a small
//! top-down decoder that gives, at half the picture's size, a line-centre score map and each
//! centre's two end-point displacements. Decoding is controlnet_aux's `pred_lines`: centres kept
//! where the sigmoid score is a 3x3 local maximum, the best 200, those above the score threshold
//! whose segment is longer than the distance threshold. Layer names are the public
//! `mlsd_large_512_fp32.pth`'s; batch norms are folded into scale and shift at load.

use burn::tensor::{Device, Tensor, TensorData};
use image::{Rgb, RgbImage};

use super::layers::{cbr, relu6, upsample2, Conv, Loader, Norm};
use super::opencv_draw::line;
use crate::checkpoint::{Checkpoint, CheckpointError};

/// The public weight file's name (lllyasviel/Annotators).
pub const WEIGHTS: &str = "mlsd_large_512_fp32.pth";

/// A1111's defaults (threshold_a: value, threshold_b: distance).
pub const DEFAULT_SCORE: f32 = 0.1;
pub const DEFAULT_DISTANCE: f32 = 0.1;

const TOP_K: usize = 200;

/// One MobileNetV2 inverted residual block (expand 1x1, depthwise 3x3, project 1x1).
struct InvertedResidual {
    expand: Option<(Conv, Norm)>,
    depthwise: (Conv, Norm),
    project: (Conv, Norm),
    residual: bool,
}

impl InvertedResidual {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        if let Some((c, n)) = &self.expand {
            y = relu6(n.forward(c.forward(y)));
        }
        y = relu6(self.depthwise.1.forward(self.depthwise.0.forward(y)));
        y = self.project.1.forward(self.project.0.forward(y));
        if self.residual {
            x + y
        } else {
            y
        }
    }
}

/// `a` and `b` each through a 1x1 convolution + norm + ReLU, `b` doubled in size, joined.
struct BlockA {
    conv_b: (Conv, Norm),
    conv_a: (Conv, Norm),
    upscale: bool,
}

/// Two 3x3 convolutions + norm + ReLU, the first with a skip connection.
struct BlockB {
    conv1: (Conv, Norm),
    conv2: (Conv, Norm),
}

/// A dilated 3x3, a 3x3 (each + norm + ReLU) and a 1x1 to the output channels.
struct BlockC {
    conv1: (Conv, Norm),
    conv2: (Conv, Norm),
    conv3: Conv,
}

pub struct MlsdModel {
    stem: (Conv, Norm),
    blocks: Vec<InvertedResidual>,
    block15: BlockA,
    block16: BlockB,
    block17: BlockA,
    block18: BlockB,
    block19: BlockA,
    block20: BlockB,
    block21: BlockA,
    block22: BlockB,
    block23: BlockC,
}

/// MobileNetV2's (expansion, channels, repeats, first stride) for the blocks M-LSD uses.
const SETTINGS: [(usize, usize, usize, usize); 5] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)];

/// The blocks whose outputs feed the decoder (c1..c5).
const FPN: [usize; 5] = [1, 3, 6, 10, 13];

impl MlsdModel {
    pub fn load(file: &Checkpoint, device: &Device) -> Result<Self, CheckpointError> {
        let l = Loader {
            file,
            device,
            prefix: String::new(),
            what: "M-LSD (large)",
            fix: "use mlsd_large_512_fp32.pth from lllyasviel/Annotators",
        };
        let stem = l.conv_bn_relu6("backbone.features.0", 4, 32, 3, 2, 1)?;
        let mut blocks = Vec::new();
        let mut inp = 32;
        for (t, c, n, s) in SETTINGS {
            for i in 0..n {
                let stride = if i == 0 { s } else { 1 };
                let prefix = format!("backbone.features.{}.conv", blocks.len() + 1);
                let hidden = inp * t;
                let mut at = 0;
                let expand = if t != 1 {
                    at = 1;
                    Some(l.conv_bn_relu6(&format!("{prefix}.0"), inp, hidden, 1, 1, 1)?)
                } else {
                    None
                };
                let depthwise = l.conv_bn_relu6(&format!("{prefix}.{at}"), hidden, hidden, 3, stride, hidden)?;
                let project = (
                    l.conv(&format!("{prefix}.{}", at + 1), hidden, c, 1, 1, 0, 1, 1, false)?,
                    l.norm(&format!("{prefix}.{}", at + 2), c)?,
                );
                blocks.push(InvertedResidual { expand, depthwise, project, residual: stride == 1 && inp == c });
                inp = c;
            }
        }
        let block_a = |name: &str, in_a: usize, in_b: usize, upscale: bool| -> Result<BlockA, CheckpointError> {
            let c = |n: &str, cin: usize| -> Result<(Conv, Norm), CheckpointError> {
                Ok((l.conv(&format!("{name}.{n}.0"), cin, 64, 1, 1, 0, 1, 1, true)?, l.norm(&format!("{name}.{n}.1"), 64)?))
            };
            Ok(BlockA { conv_b: c("conv1", in_b)?, conv_a: c("conv2", in_a)?, upscale })
        };
        let block_b = |name: &str| -> Result<BlockB, CheckpointError> {
            let c = |n: &str, cout: usize| -> Result<(Conv, Norm), CheckpointError> {
                Ok((l.conv(&format!("{name}.{n}.0"), 128, cout, 3, 1, 1, 1, 1, true)?, l.norm(&format!("{name}.{n}.1"), cout)?))
            };
            Ok(BlockB { conv1: c("conv1", 128)?, conv2: c("conv2", 64)? })
        };
        let block23 = BlockC {
            conv1: (l.conv("block23.conv1.0", 64, 64, 3, 1, 5, 5, 1, true)?, l.norm("block23.conv1.1", 64)?),
            conv2: (l.conv("block23.conv2.0", 64, 64, 3, 1, 1, 1, 1, true)?, l.norm("block23.conv2.1", 64)?),
            conv3: l.conv("block23.conv3", 64, 16, 1, 1, 0, 1, 1, true)?,
        };
        Ok(Self {
            stem,
            blocks,
            block15: block_a("block15", 64, 96, false)?,
            block16: block_b("block16")?,
            block17: block_a("block17", 32, 64, true)?,
            block18: block_b("block18")?,
            block19: block_a("block19", 24, 64, true)?,
            block20: block_b("block20")?,
            block21: block_a("block21", 16, 64, true)?,
            block22: block_b("block22")?,
            block23,
        })
    }

    fn a(block: &BlockA, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
        let mut b = cbr(&block.conv_b, b);
        let a = cbr(&block.conv_a, a);
        if block.upscale {
            b = upsample2(b);
        }
        Tensor::cat(vec![a, b], 1)
    }

    fn b(block: &BlockB, x: Tensor<4>) -> Tensor<4> {
        let x = cbr(&block.conv1, x.clone()) + x;
        cbr(&block.conv2, x)
    }

    /// `x` [1, 4, H, W] (RGB and a channel of ones, scaled to [-1, 1]) to the 9-channel map at
    /// H/2 x W/2 (channel 0: centre score logits, 1-4: end-point displacements).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = relu6(self.stem.1.forward(self.stem.0.forward(x)));
        let mut levels = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if FPN.contains(&(i + 1)) {
                levels.push(x.clone());
            }
        }
        let [c1, c2, c3, c4, c5] = <[Tensor<4>; 5]>::try_from(levels).ok().expect("five levels");
        let x = Self::a(&self.block15, c4, c5);
        let x = Self::b(&self.block16, x);
        let x = Self::a(&self.block17, c3, x);
        let x = Self::b(&self.block18, x);
        let x = Self::a(&self.block19, c2, x);
        let x = Self::b(&self.block20, x);
        let x = Self::a(&self.block21, c1, x);
        let x = Self::b(&self.block22, x);
        let c = &self.block23;
        let x = c.conv3.forward(cbr(&c.conv2, cbr(&c.conv1, x)));
        let [n, ch, h, w] = x.dims();
        x.slice([0..n, 7..ch, 0..h, 0..w])
    }
}

/// Line segments (x0, y0, x1, y1) in the picture's pixels from the network's map `[9][h][w]`
/// for a `width` x `height` picture, as `pred_lines` decodes them.
pub fn decode_lines(
    map: &[f32],
    h: usize,
    w: usize,
    width: usize,
    height: usize,
    score_threshold: f32,
    distance_threshold: f32,
) -> Vec<[f64; 4]> {
    let plane = |c: usize, y: usize, x: usize| map[(c * h + y) * w + x];
    let heat: Vec<f32> = (0..h * w).map(|i| 1.0 / (1.0 + (-map[i]).exp())).collect();
    // Kept where it is the maximum of its 3x3 neighbourhood.
    let kept: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as i64, (i % w) as i64);
            let mut m = f32::NEG_INFINITY;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (ny, nx) = (y + dy, x + dx);
                    if ny >= 0 && nx >= 0 && ny < h as i64 && nx < w as i64 {
                        m = m.max(heat[ny as usize * w + nx as usize]);
                    }
                }
            }
            if m == heat[i] {
                heat[i]
            } else {
                0.0
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..h * w).collect();
    order.sort_by(|a, b| kept[*b].partial_cmp(&kept[*a]).unwrap_or(std::cmp::Ordering::Equal));
    let (ratio_h, ratio_w) = (height as f64 / (h * 2) as f64 * 2.0, width as f64 / (w * 2) as f64 * 2.0);
    let mut lines = Vec::new();
    for &i in order.iter().take(TOP_K) {
        let (y, x) = (i / w, i % w);
        let d: [f32; 4] = std::array::from_fn(|c| plane(c + 1, y, x));
        let (dx, dy) = (d[0] - d[2], d[1] - d[3]);
        let distance = (dx * dx + dy * dy).sqrt();
        if kept[i] > score_threshold && distance > distance_threshold {
            let (x, y) = (x as f64, y as f64);
            lines.push([
                (x + d[0] as f64) * ratio_w,
                (y + d[1] as f64) * ratio_h,
                (x + d[2] as f64) * ratio_w,
                (y + d[3] as f64) * ratio_h,
            ]);
        }
    }
    lines
}

/// The segments drawn as MLSDdetector draws them: one pixel wide, white, on black.
pub fn draw_lines(lines: &[[f64; 4]], width: u32, height: u32) -> RgbImage {
    let mut img = RgbImage::new(width, height);
    for l in lines {
        let [x0, y0, x1, y1] = l.map(|v| v as i64);
        line(&mut img, (x0, y0), (x1, y1), Rgb([255, 255, 255]));
    }
    img
}

pub struct MlsdDetector {
    model: MlsdModel,
    device: Device,
}

impl MlsdDetector {
    pub fn load(dir: &std::path::Path, device: &Device) -> Result<Self, CheckpointError> {
        let file = Checkpoint::open(&dir.join(WEIGHTS))?;
        Ok(Self { model: MlsdModel::load(&file, device)?, device: device.clone() })
    }

    /// The control image for `photo` (at detection size; sides multiples of 64).
    pub fn control_image(&self, photo: &RgbImage, score_threshold: f32, distance_threshold: f32) -> RgbImage {
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let mut input = vec![0f32; 4 * h * w];
        for (i, p) in photo.pixels().enumerate() {
            for c in 0..3 {
                input[c * h * w + i] = p[c] as f32 / 127.5 - 1.0;
            }
            input[3 * h * w + i] = 1.0 / 127.5 - 1.0;
        }
        let out = self.model.forward(Tensor::from_data(TensorData::new(input, [1, 4, h, w]), &self.device));
        let [_, _, mh, mw] = out.dims();
        let map: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().expect("f32 map");
        draw_lines(&decode_lines(&map, mh, mw, w, h, score_threshold, distance_threshold), w as u32, h as u32)
    }
}

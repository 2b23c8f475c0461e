//! The `depth` preprocessor: LeReS (the thesis' `depth_leres`), relative depth from one photo.
//!
//! The network is a ResNeXt-101 32x8d encoder (four feature levels) and LeReS' decoder: feature
//! transfer blocks, fusion modules that add each coarser level in on the way up, and an output
//! head, at the photo's size. Like controlnet_aux (and A1111) the photo goes in with its channels
//! reversed and normalised with ImageNet's mean and deviation without first being scaled to
//! [0, 1] (a quirk of the reference, kept: the published weights see that). The depth picture is
//! the map stretched to 16 bits, brought to 8 (`cv2.convertScaleAbs`), optionally thresholded
//! ("remove near" / "remove background", A1111's threshold_a / threshold_b, in percent), and
//! inverted so that near is bright. Block counts, widths and group counts come from the file.

use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use image::{GrayImage, Luma, RgbImage};

use super::layers::{cbr, upsample2, Conv, Loader, Norm};
use crate::checkpoint::{Checkpoint, CheckpointError};

/// The public weight file's name (lllyasviel/Annotators).
pub const WEIGHTS: &str = "res101.pth";

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

struct Bottleneck {
    conv1: (Conv, Norm),
    conv2: (Conv, Norm),
    conv3: (Conv, Norm),
    downsample: Option<(Conv, Norm)>,
}

impl Bottleneck {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some((c, n)) => n.forward(c.forward(x.clone())),
            None => x.clone(),
        };
        let out = cbr(&self.conv2, cbr(&self.conv1, x));
        let out = self.conv3.1.forward(self.conv3.0.forward(out));
        relu(out + identity)
    }
}

/// Feature transfer block: a 3x3 convolution, then a residual branch (ReLU, conv, norm, ReLU,
/// conv) added, then a ReLU. The branch's first ReLU is in-place in the reference, so the
/// convolution's output is rectified before the branch is added to it too; kept.
struct Ftb {
    conv1: Conv,
    branch_conv1: Conv,
    branch_norm: Norm,
    branch_conv2: Conv,
}

impl Ftb {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.conv1.forward(x));
        let b = self.branch_conv1.forward(x.clone());
        let b = self.branch_conv2.forward(relu(self.branch_norm.forward(b)));
        relu(x + b)
    }
}

/// Feature fusion: the finer level through a transfer block, the coarser one added, another
/// transfer block, then twice the size.
struct Ffm {
    ftb1: Ftb,
    ftb2: Ftb,
}

impl Ffm {
    fn forward(&self, low: Tensor<4>, high: Tensor<4>) -> Tensor<4> {
        upsample2(self.ftb2.forward(self.ftb1.forward(low) + high))
    }
}

pub struct LeresModel {
    stem: (Conv, Norm),
    layers: [Vec<Bottleneck>; 4],
    top: Ftb,
    top_conv: Conv,
    ffm: [Ffm; 3],
    out_conv1: (Conv, Norm),
    out_conv2: Conv,
}

/// The names' common start in the file: the public file nests the model as
/// `depth_model` → (DataParallel's `module.`) → `depth_model.`.
fn find_prefix(file: &Checkpoint) -> Option<String> {
    const FIRST: &str = "encoder_modules.encoder.conv1.weight";
    file.names().into_iter().find(|n| n.ends_with(FIRST)).map(|n| n[..n.len() - FIRST.len()].to_string())
}

impl LeresModel {
    pub fn load(file: &Checkpoint, device: &Device) -> Result<Self, CheckpointError> {
        let mut l =
            Loader { file, device, prefix: String::new(), what: "LeReS depth (res101)", fix: "use res101.pth from lllyasviel/Annotators" };
        l.prefix = find_prefix(file).ok_or_else(|| l.unfit("it has no encoder_modules.encoder.conv1.weight".into()))?;
        let shape =
            |name: &str| -> Result<Vec<usize>, CheckpointError> { l.shape(name)?.ok_or_else(|| l.unfit(format!("it has no {name}"))) };
        // The widths and group counts are read from the shapes, so narrower test networks load too.
        let conv_from = |name: &str, stride: usize, padding: usize, bias: bool, cin: usize| -> Result<Conv, CheckpointError> {
            let s = shape(&format!("{name}.weight"))?;
            if s.len() != 4 || s[1] == 0 || cin % s[1] != 0 {
                return Err(l.unfit(format!("{name}.weight has shape {s:?}, not a convolution of {cin} channels")));
            }
            l.conv(name, cin, s[0], s[2], stride, padding, 1, cin / s[1], bias)
        };
        let e = "encoder_modules.encoder";
        let stem_w = shape(&format!("{e}.conv1.weight"))?;
        let stem = (conv_from(&format!("{e}.conv1"), 2, 3, false, 3)?, l.norm(&format!("{e}.bn1"), stem_w[0])?);
        let mut channels = stem_w[0];
        let mut layers: [Vec<Bottleneck>; 4] = Default::default();
        for (li, layer) in layers.iter_mut().enumerate() {
            let stride = if li == 0 { 1 } else { 2 };
            let mut i = 0;
            while l.shape(&format!("{e}.layer{}.{i}.conv1.weight", li + 1))?.is_some() {
                let p = format!("{e}.layer{}.{i}", li + 1);
                let s = if i == 0 { stride } else { 1 };
                let c1 = conv_from(&format!("{p}.conv1"), 1, 0, false, channels)?;
                let width = c1.weight.dims()[0];
                let c2 = conv_from(&format!("{p}.conv2"), s, 1, false, width)?;
                let c3 = conv_from(&format!("{p}.conv3"), 1, 0, false, width)?;
                let out = c3.weight.dims()[0];
                let downsample = if l.shape(&format!("{p}.downsample.0.weight"))?.is_some() {
                    Some((conv_from(&format!("{p}.downsample.0"), s, 0, false, channels)?, l.norm(&format!("{p}.downsample.1"), out)?))
                } else {
                    None
                };
                if downsample.is_none() && (out != channels || s != 1) {
                    return Err(l.unfit(format!("{p} changes the size but has no downsample")));
                }
                layer.push(Bottleneck {
                    conv1: (c1, l.norm(&format!("{p}.bn1"), width)?),
                    conv2: (c2, l.norm(&format!("{p}.bn2"), width)?),
                    conv3: (c3, l.norm(&format!("{p}.bn3"), out)?),
                    downsample,
                });
                channels = out;
                i += 1;
            }
            if layer.is_empty() {
                return Err(l.unfit(format!("it has no {e}.layer{}.0", li + 1)));
            }
        }
        let level = |li: usize| layers[li].last().map(|b| b.conv3.0.weight.dims()[0]).unwrap_or(0);
        let ftb = |p: &str, cin: usize| -> Result<Ftb, CheckpointError> {
            let conv1 = conv_from(&format!("{p}.conv1"), 1, 1, true, cin)?;
            let mid = conv1.weight.dims()[0];
            Ok(Ftb {
                conv1,
                branch_conv1: conv_from(&format!("{p}.conv_branch.1"), 1, 1, true, mid)?,
                branch_norm: l.norm(&format!("{p}.conv_branch.2"), mid)?,
                branch_conv2: conv_from(&format!("{p}.conv_branch.4"), 1, 1, true, mid)?,
            })
        };
        let d = "decoder_modules";
        let top = ftb(&format!("{d}.conv"), level(3))?;
        let top_conv = conv_from(&format!("{d}.conv1"), 1, 1, true, top.conv1.weight.dims()[0])?;
        let ffm = |name: &str, li: usize| -> Result<Ffm, CheckpointError> {
            let ftb1 = ftb(&format!("{d}.{name}.ftb1"), level(li))?;
            let ftb2 = ftb(&format!("{d}.{name}.ftb2"), ftb1.conv1.weight.dims()[0])?;
            Ok(Ffm { ftb1, ftb2 })
        };
        let ffm = [ffm("ffm0", 0)?, ffm("ffm1", 1)?, ffm("ffm2", 2)?];
        let out_in = ffm[0].ftb2.conv1.weight.dims()[0];
        let out_conv1 = conv_from(&format!("{d}.outconv.adapt_conv.0"), 1, 1, true, out_in)?;
        let half = out_conv1.weight.dims()[0];
        let out_conv1 = (out_conv1, l.norm(&format!("{d}.outconv.adapt_conv.1"), half)?);
        let out_conv2 = conv_from(&format!("{d}.outconv.adapt_conv.3"), 1, 1, true, half)?;
        if out_conv2.weight.dims()[0] != 1 {
            return Err(l.unfit(format!("the output head gives {} channels, LeReS 1 (depth)", out_conv2.weight.dims()[0])));
        }
        Ok(Self { stem, layers, top, top_conv, ffm, out_conv1, out_conv2 })
    }

    /// `x` [1, 3, H, W] (H and W multiples of 32) to depth [1, 1, H, W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = cbr(&self.stem, x);
        let mut x = max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]).with_padding([1, 1]));
        let mut features = Vec::with_capacity(4);
        for layer in &self.layers {
            for block in layer {
                x = block.forward(x);
            }
            features.push(x.clone());
        }
        let x = upsample2(self.top_conv.forward(self.top.forward(features[3].clone())));
        let x = self.ffm[2].forward(features[2].clone(), x);
        let x = self.ffm[1].forward(features[1].clone(), x);
        let x = self.ffm[0].forward(features[0].clone(), x);
        upsample2(self.out_conv2.forward(cbr(&self.out_conv1, x)))
    }
}

/// cv2.threshold(..., THRESH_TOZERO) of an 8-bit picture at `percent` of 255 (OpenCV floors the
/// threshold of 8-bit pictures).
fn to_zero_below(img: &mut GrayImage, percent: f64) {
    let t = (percent / 100.0 * 255.0).floor();
    for p in img.pixels_mut() {
        if p[0] as f64 <= t {
            p[0] = 0;
        }
    }
}

/// The depth picture LeresDetector makes from a depth map (`w` x `h`, row-major): stretched to
/// 16 bits, brought to 8, near removed (`remove_near` %, then inverted) and background removed
/// (`remove_background` %); near is bright.
pub fn depth_picture(depth: &[f32], w: u32, h: u32, remove_near: f64, remove_background: f64) -> GrayImage {
    let (min, max) = depth.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = max - min;
    let scale = (255.0f64 / 65535.0) as f32;
    let mut img = GrayImage::from_fn(w, h, |x, y| {
        let v = depth[(y * w + x) as usize];
        let sixteen = if (span as f64) > f64::EPSILON { (65535.0f32 * (v - min) / span) as u16 } else { 0 };
        Luma([(sixteen as f32 * scale).abs().round_ties_even().clamp(0.0, 255.0) as u8])
    });
    if remove_near != 0.0 {
        to_zero_below(&mut img, remove_near);
    }
    for p in img.pixels_mut() {
        p[0] = 255 - p[0];
    }
    if remove_background != 0.0 {
        to_zero_below(&mut img, remove_background);
    }
    img
}

pub struct LeresDetector {
    model: LeresModel,
    device: Device,
}

impl LeresDetector {
    pub fn load(dir: &std::path::Path, device: &Device) -> Result<Self, CheckpointError> {
        let file = Checkpoint::open(&dir.join(WEIGHTS))?;
        Ok(Self { model: LeresModel::load(&file, device)?, device: device.clone() })
    }

    /// The depth control image for `photo` (at detection size; sides multiples of 64).
    pub fn control_image(&self, photo: &RgbImage, remove_near: f64, remove_background: f64) -> RgbImage {
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let mut input = vec![0f32; 3 * h * w];
        for (i, p) in photo.pixels().enumerate() {
            for c in 0..3 {
                // Channels reversed, 0-255 values normalised as the reference does.
                input[c * h * w + i] = (p[2 - c] as f32 - MEAN[c]) / STD[c];
            }
        }
        let depth = self.model.forward(Tensor::from_data(TensorData::new(input, [1, 3, h, w]), &self.device));
        let depth: Vec<f32> = depth.into_data().convert::<f32>().try_to_vec().expect("f32 depth");
        image::DynamicImage::ImageLuma8(depth_picture(&depth, w as u32, h as u32, remove_near, remove_background)).to_rgb8()
    }
}

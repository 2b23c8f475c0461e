//! The `depth_anything_v2` preprocessor: Depth Anything V2 (Small), relative depth from one
//! photo, as transformers' `DepthAnythingForDepthEstimation` computes it from the public
//! `depth-anything/Depth-Anything-V2-Small-hf` folder (config.json and model.safetensors).
//!
//! A DINOv2 vision transformer (patches of 14, a class token, learned position embeddings
//! interpolated bicubically when the grid is not the trained one, layer scale) gives four levels
//! of tokens; the DPT neck turns them into maps at four scales (projections, transposed or strided
//! convolutions) and fuses them top-down with pre-activation residual units; the head upsamples to
//! the photo's size. The control image is the depth stretched to 0-255, near bright, as A1111's
//! depth preprocessors give it.

use std::path::Path;

use burn::tensor::activation::{gelu, relu, softmax};
use burn::tensor::module::{conv_transpose2d, interpolate};
use burn::tensor::ops::{ConvTransposeOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor, TensorData};
use image::{GrayImage, Luma, RgbImage};

use super::layers::{Conv, Loader};
use crate::checkpoint::{Checkpoint, CheckpointError};

/// The folder under the annotators' folder, and what it holds.
pub const FOLDER: &str = "depth_anything_v2_small";
pub const WEIGHTS: &str = "depth_anything_v2_small/model.safetensors";

/// ImageNet's mean and deviation, which the processor normalises with.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The processor's input size: the short side scaled to about this, sides multiples of 14.
pub const INPUT_SIZE: u32 = 518;

#[derive(Debug, Clone, serde::Deserialize)]
struct BackboneConfig {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    patch_size: usize,
    layer_norm_eps: f64,
    out_indices: Vec<usize>,
    #[serde(default = "yes")]
    apply_layernorm: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, serde::Deserialize)]
struct DepthAnythingConfig {
    backbone_config: BackboneConfig,
    neck_hidden_sizes: Vec<usize>,
    fusion_hidden_size: usize,
    reassemble_factors: Vec<f64>,
    #[serde(default)]
    depth_estimation_type: Option<String>,
}

struct Linear {
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Linear {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, i] = x.dims();
        let out = self.weight.dims()[1];
        (x.reshape([b * n, i]).matmul(self.weight.clone()) + self.bias.clone().reshape([1, out])).reshape([b, n, out])
    }
}

struct LayerNorm {
    weight: Tensor<1>,
    bias: Tensor<1>,
    eps: f64,
}

impl LayerNorm {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let d = x.dims()[2];
        let mean = x.clone().mean_dim(2);
        let centred = x - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(2);
        centred / (var + self.eps).sqrt() * self.weight.clone().reshape([1, 1, d]) + self.bias.clone().reshape([1, 1, d])
    }
}

struct Block {
    norm1: LayerNorm,
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    scale1: Tensor<1>,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    scale2: Tensor<1>,
    heads: usize,
}

impl Block {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let h = self.norm1.forward(x.clone());
        let split = |t: Tensor<3>| t.reshape([b, n, self.heads, d / self.heads]).swap_dims(1, 2);
        let (q, k, v) = (split(self.query.forward(h.clone())), split(self.key.forward(h.clone())), split(self.value.forward(h)));
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / ((d / self.heads) as f64).sqrt());
        let attended = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([b, n, d]);
        let x = x + self.output.forward(attended) * self.scale1.clone().reshape([1, 1, d]);
        let m = self.fc2.forward(gelu(self.fc1.forward(self.norm2.forward(x.clone()))));
        x + m * self.scale2.clone().reshape([1, 1, d])
    }
}

/// A neck level's size change: ×f by a transposed convolution, none, or ½ by a strided one.
enum Resize {
    Up { weight: Tensor<4>, bias: Tensor<1>, factor: usize },
    Same,
    Down(Conv),
}

struct ResidualUnit {
    conv1: Conv,
    conv2: Conv,
}

impl ResidualUnit {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv2.forward(relu(self.conv1.forward(relu(x.clone())))) + x
    }
}

struct Fusion {
    residual1: ResidualUnit,
    residual2: ResidualUnit,
    projection: Conv,
}

fn resize_bilinear(x: Tensor<4>, size: [usize; 2], align_corners: bool) -> Tensor<4> {
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size(size);
    options.align_corners = align_corners;
    interpolate(x, options)
}

pub struct DepthAnythingModel {
    patch_embed: Conv,
    cls_token: Tensor<3>,
    position_embeddings: Tensor<3>,
    patch_size: usize,
    blocks: Vec<Block>,
    final_norm: Option<LayerNorm>,
    out_indices: Vec<usize>,
    projections: Vec<Conv>,
    resizes: Vec<Resize>,
    convs: Vec<Conv>,
    fusions: Vec<Fusion>,
    head: [Conv; 3],
    relative: bool,
}

impl DepthAnythingModel {
    /// Loads a Depth Anything (V2) folder in transformers' layout.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, CheckpointError> {
        let config_path = dir.join("config.json");
        let unfit = |problem: String| CheckpointError::Unfit {
            path: config_path.clone(),
            what: "Depth Anything V2",
            problem,
            fix: "use the depth-anything/Depth-Anything-V2-Small-hf folder (config.json and model.safetensors)",
        };
        let text = std::fs::read_to_string(&config_path).map_err(|e| CheckpointError::Unreadable {
            path: config_path.clone(),
            reason: e.to_string(),
            fix: "put config.json and model.safetensors of Depth-Anything-V2-Small-hf in the folder",
        })?;
        let c: DepthAnythingConfig = serde_json::from_str(&text).map_err(|e| unfit(format!("not a Depth Anything config: {e}")))?;
        let b = &c.backbone_config;
        if c.neck_hidden_sizes.len() != b.out_indices.len() || c.reassemble_factors.len() != b.out_indices.len() {
            return Err(unfit("the neck's sizes do not match the backbone's outputs".into()));
        }
        let file = Checkpoint::open(&dir.join("model.safetensors"))?;
        let l = Loader {
            file: &file,
            device,
            prefix: String::new(),
            what: "Depth Anything V2",
            fix: "use model.safetensors of Depth-Anything-V2-Small-hf",
        };
        let d = b.hidden_size;
        let vector = |name: &str, n: usize| -> Result<Tensor<1>, CheckpointError> {
            Ok(Tensor::from_data(TensorData::new(l.tensor(name, &[n])?, [n]), device))
        };
        let linear = |name: &str, inp: usize, out: usize| -> Result<Linear, CheckpointError> {
            // PyTorch [out, in], used as [in, out].
            let w =
                Tensor::<2>::from_data(TensorData::new(l.tensor(&format!("{name}.weight"), &[out, inp])?, [out, inp]), device).transpose();
            Ok(Linear { weight: w, bias: vector(&format!("{name}.bias"), out)? })
        };
        let norm = |name: &str| -> Result<LayerNorm, CheckpointError> {
            Ok(LayerNorm {
                weight: vector(&format!("{name}.weight"), d)?,
                bias: vector(&format!("{name}.bias"), d)?,
                eps: b.layer_norm_eps,
            })
        };
        let e = "backbone.embeddings";
        let patch_embed = l.conv(&format!("{e}.patch_embeddings.projection"), 3, d, b.patch_size, b.patch_size, 0, 1, 1, true)?;
        let cls_token = Tensor::from_data(TensorData::new(l.tensor(&format!("{e}.cls_token"), &[1, 1, d])?, [1, 1, d]), device);
        let positions =
            l.shape(&format!("{e}.position_embeddings"))?.ok_or_else(|| l.unfit(format!("it has no {e}.position_embeddings")))?;
        let n_pos = positions.get(1).copied().unwrap_or(0);
        let position_embeddings =
            Tensor::from_data(TensorData::new(l.tensor(&format!("{e}.position_embeddings"), &[1, n_pos, d])?, [1, n_pos, d]), device);
        let hidden = l.shape("backbone.encoder.layer.0.mlp.fc1.weight")?.map(|s| s[0]).unwrap_or(4 * d);
        let mut blocks = Vec::new();
        for i in 0..b.num_hidden_layers {
            let p = format!("backbone.encoder.layer.{i}");
            blocks.push(Block {
                norm1: norm(&format!("{p}.norm1"))?,
                query: linear(&format!("{p}.attention.attention.query"), d, d)?,
                key: linear(&format!("{p}.attention.attention.key"), d, d)?,
                value: linear(&format!("{p}.attention.attention.value"), d, d)?,
                output: linear(&format!("{p}.attention.output.dense"), d, d)?,
                scale1: vector(&format!("{p}.layer_scale1.lambda1"), d)?,
                norm2: norm(&format!("{p}.norm2"))?,
                fc1: linear(&format!("{p}.mlp.fc1"), d, hidden)?,
                fc2: linear(&format!("{p}.mlp.fc2"), hidden, d)?,
                scale2: vector(&format!("{p}.layer_scale2.lambda1"), d)?,
                heads: b.num_attention_heads,
            });
        }
        let final_norm = if b.apply_layernorm { Some(norm("backbone.layernorm")?) } else { None };
        let f = c.fusion_hidden_size;
        let mut projections = Vec::new();
        let mut resizes = Vec::new();
        let mut convs = Vec::new();
        for (i, (&ch, &factor)) in c.neck_hidden_sizes.iter().zip(&c.reassemble_factors).enumerate() {
            let p = format!("neck.reassemble_stage.layers.{i}");
            projections.push(l.conv(&format!("{p}.projection"), d, ch, 1, 1, 0, 1, 1, true)?);
            resizes.push(if factor > 1.0 {
                let k = factor as usize;
                let w =
                    Tensor::from_data(TensorData::new(l.tensor(&format!("{p}.resize.weight"), &[ch, ch, k, k])?, [ch, ch, k, k]), device);
                Resize::Up { weight: w, bias: vector(&format!("{p}.resize.bias"), ch)?, factor: k }
            } else if factor == 1.0 {
                Resize::Same
            } else {
                Resize::Down(l.conv(&format!("{p}.resize"), ch, ch, 3, (1.0 / factor) as usize, 1, 1, 1, true)?)
            });
            convs.push(l.conv(&format!("neck.convs.{i}"), ch, f, 3, 1, 1, 1, 1, false)?);
        }
        let unit = |p: &str| -> Result<ResidualUnit, CheckpointError> {
            Ok(ResidualUnit {
                conv1: l.conv(&format!("{p}.convolution1"), f, f, 3, 1, 1, 1, 1, true)?,
                conv2: l.conv(&format!("{p}.convolution2"), f, f, 3, 1, 1, 1, 1, true)?,
            })
        };
        let mut fusions = Vec::new();
        for i in 0..c.neck_hidden_sizes.len() {
            let p = format!("neck.fusion_stage.layers.{i}");
            fusions.push(Fusion {
                residual1: unit(&format!("{p}.residual_layer1"))?,
                residual2: unit(&format!("{p}.residual_layer2"))?,
                projection: l.conv(&format!("{p}.projection"), f, f, 1, 1, 0, 1, 1, true)?,
            });
        }
        let head_hidden = l.shape("head.conv2.weight")?.map(|s| s[0]).unwrap_or(32);
        let head = [
            l.conv("head.conv1", f, f / 2, 3, 1, 1, 1, 1, true)?,
            l.conv("head.conv2", f / 2, head_hidden, 3, 1, 1, 1, 1, true)?,
            l.conv("head.conv3", head_hidden, 1, 1, 1, 0, 1, 1, true)?,
        ];
        let relative = c.depth_estimation_type.as_deref().unwrap_or("relative") == "relative";
        Ok(Self {
            patch_embed,
            cls_token,
            position_embeddings,
            patch_size: b.patch_size,
            blocks,
            final_norm,
            out_indices: b.out_indices.clone(),
            projections,
            resizes,
            convs,
            fusions,
            head,
            relative,
        })
    }

    /// Position embeddings for a `ph` x `pw` grid: as trained, or bicubically resized.
    fn positions(&self, ph: usize, pw: usize, square: bool) -> Tensor<3> {
        let [_, n, d] = self.position_embeddings.dims();
        let trained = ((n - 1) as f64).sqrt() as usize;
        if ph * pw == n - 1 && square {
            return self.position_embeddings.clone();
        }
        let cls = self.position_embeddings.clone().slice([0..1, 0..1, 0..d]);
        let grid = self.position_embeddings.clone().slice([0..1, 1..n, 0..d]).reshape([1, trained, trained, d]).permute([0, 3, 1, 2]);
        let mut options = InterpolateOptions::new(InterpolateMode::Bicubic).with_output_size([ph, pw]);
        options.align_corners = false;
        let grid = interpolate(grid, options).permute([0, 2, 3, 1]).reshape([1, ph * pw, d]);
        Tensor::cat(vec![cls, grid], 1)
    }

    /// `x` [1, 3, H, W] (normalised; H and W multiples of the patch size) to depth [1, H, W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let [bsz, _, h, w] = x.dims();
        let (ph, pw) = (h / self.patch_size, w / self.patch_size);
        let d = self.cls_token.dims()[2];
        let patches = self.patch_embed.forward(x).reshape([bsz, d, ph * pw]).swap_dims(1, 2);
        let mut tokens = Tensor::cat(vec![self.cls_token.clone().expand([bsz, 1, d]), patches], 1) + self.positions(ph, pw, h == w);
        let mut levels = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            tokens = block.forward(tokens);
            if self.out_indices.contains(&(i + 1)) {
                levels.push(tokens.clone());
            }
        }
        // The neck: tokens (without the class token) as maps at four scales.
        let mut features = Vec::new();
        for (i, level) in levels.into_iter().enumerate() {
            let level = match &self.final_norm {
                Some(n) => n.forward(level),
                None => level,
            };
            let n = level.dims()[1];
            let map = level.slice([0..bsz, 1..n, 0..d]).reshape([bsz, ph, pw, d]).permute([0, 3, 1, 2]);
            let map = self.projections[i].forward(map);
            let map = match &self.resizes[i] {
                Resize::Up { weight, bias, factor } => conv_transpose2d(
                    map,
                    weight.clone(),
                    Some(bias.clone()),
                    ConvTransposeOptions::new([*factor, *factor], [0, 0], [0, 0], [1, 1], 1),
                ),
                Resize::Same => map,
                Resize::Down(conv) => conv.forward(map),
            };
            features.push(self.convs[i].forward(map));
        }
        // Fused from the coarsest up, each step brought to the next level's size.
        features.reverse();
        let mut fused: Option<Tensor<4>> = None;
        for (i, (feature, fusion)) in features.iter().zip(&self.fusions).enumerate() {
            let mut x = match fused.take() {
                None => feature.clone(),
                Some(prev) => {
                    let [_, _, fh, fw] = prev.dims();
                    let residual =
                        if feature.dims() != prev.dims() { resize_bilinear(feature.clone(), [fh, fw], false) } else { feature.clone() };
                    prev + fusion.residual1.forward(residual)
                }
            };
            x = fusion.residual2.forward(x);
            let [_, _, xh, xw] = x.dims();
            let size = features.get(i + 1).map(|f| [f.dims()[2], f.dims()[3]]).unwrap_or([xh * 2, xw * 2]);
            fused = Some(fusion.projection.forward(resize_bilinear(x, size, true)));
        }
        let x = self.head[0].forward(fused.expect("four levels"));
        let x = resize_bilinear(x, [ph * self.patch_size, pw * self.patch_size], true);
        let x = self.head[2].forward(relu(self.head[1].forward(x)));
        let x = if self.relative { relu(x) } else { burn::tensor::activation::sigmoid(x) };
        let [b, _, oh, ow] = x.dims();
        x.reshape([b, oh, ow])
    }
}

/// Depth stretched to 0-255 as Depth Anything V2's own tools and A1111 do it
/// (`((d - min) / (max - min) * 255).astype(uint8)`: f32, truncated); the largest relative depth,
/// i.e. the nearest, is brightest.
pub fn depth_picture(depth: &[f32], w: u32, h: u32) -> GrayImage {
    let (min, max) = depth.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = max - min;
    GrayImage::from_fn(w, h, |x, y| {
        let v = depth[(y * w + x) as usize];
        Luma([if span > 0.0 { ((v - min) / span * 255.0) as u8 } else { 0 }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stretch_truncates_as_numpy_astype_does() {
        let picture = depth_picture(&[1.0, 1.5, 2.0, 1.999], 4, 1);
        let v: Vec<u8> = picture.pixels().map(|p| p[0]).collect();
        // 127.5 -> 127, 254.745 -> 254.
        assert_eq!(v, [0, 127, 255, 254]);
        assert!(depth_picture(&[3.0; 4], 2, 2).pixels().all(|p| p[0] == 0));
    }
}

pub struct DepthAnythingDetector {
    model: DepthAnythingModel,
    device: Device,
}

impl DepthAnythingDetector {
    pub fn load(annotators: &Path, device: &Device) -> Result<Self, CheckpointError> {
        Ok(Self { model: DepthAnythingModel::load(&annotators.join(FOLDER), device)?, device: device.clone() })
    }

    /// The depth control image for `photo`, at its size.
    pub fn control_image(&self, photo: &RgbImage) -> RgbImage {
        let (w, h) = photo.dimensions();
        // The processor's size: the short side to about 518, both sides multiples of 14.
        let k = INPUT_SIZE as f64 / w.min(h) as f64;
        let side = |v: u32| (((v as f64 * k) / 14.0).round() as u32).max(1) * 14;
        let (iw, ih) = (side(w), side(h));
        let resized = image::imageops::resize(photo, iw, ih, image::imageops::FilterType::CatmullRom);
        let mut input = vec![0f32; (3 * iw * ih) as usize];
        for (i, p) in resized.pixels().enumerate() {
            for c in 0..3 {
                input[c * (iw * ih) as usize + i] = (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
            }
        }
        let depth = self.model.forward(Tensor::from_data(TensorData::new(input, [1, 3, ih as usize, iw as usize]), &self.device));
        let depth = interpolate(
            depth.unsqueeze_dim::<4>(1),
            InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([h as usize, w as usize]),
        );
        let values: Vec<f32> = depth.into_data().convert::<f32>().try_to_vec().expect("f32 depth");
        image::DynamicImage::ImageLuma8(depth_picture(&values, w, h)).to_rgb8()
    }
}

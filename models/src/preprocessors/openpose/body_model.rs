//! OpenPose's body network (CMU's 6-stage VGG model, `bodypose_model` in controlnet_aux and
//! A1111): a VGG-19 front, then six stages of two branches each, part affinity fields (38
//! channels, branch L1) and part heatmaps (19, branch L2), each stage seeing the previous
//! stage's maps next to the front's features.
//!
//! Layers are named as in `body_pose_model.pth` (`conv1_1`, `Mconv3_stage4_L2`, ...); widths come
//! from the file. As in the reference, every convolution but each stage's last is followed by a
//! ReLU, except that the last stage's heatmap branch keeps its ReLU (the reference lists
//! `Mconv7_stage6_L1` twice and `Mconv7_stage6_L2` not at all; the published weights were used
//! that way).

use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{activation::relu, Device, Tensor, TensorData};

use crate::checkpoint::{Checkpoint, CheckpointError};

enum Layer {
    Conv { weight: Tensor<4>, bias: Tensor<1>, padding: usize, relu: bool },
    Pool,
}

fn run(layers: &[Layer], mut x: Tensor<4>) -> Tensor<4> {
    for layer in layers {
        x = match layer {
            Layer::Conv { weight, bias, padding, relu: r } => {
                let y = conv2d(x, weight.clone(), Some(bias.clone()), ConvOptions::new([1, 1], [*padding, *padding], [1, 1], 1));
                if *r {
                    relu(y)
                } else {
                    y
                }
            }
            Layer::Pool => max_pool2d(x, MaxPoolOptions::new([2, 2])),
        };
    }
    x
}

/// The front's layers in order (`None` is a 2x2 max pool).
const FRONT: [Option<&str>; 15] = [
    Some("conv1_1"),
    Some("conv1_2"),
    None,
    Some("conv2_1"),
    Some("conv2_2"),
    None,
    Some("conv3_1"),
    Some("conv3_2"),
    Some("conv3_3"),
    Some("conv3_4"),
    None,
    Some("conv4_1"),
    Some("conv4_2"),
    Some("conv4_3_CPM"),
    Some("conv4_4_CPM"),
];

/// The layer names of stage `stage` (1-6), branch `branch` (1: PAFs, 2: heatmaps).
fn stage_layers(stage: usize, branch: usize) -> Vec<String> {
    if stage == 1 {
        (1..=5).map(|i| format!("conv5_{i}_CPM_L{branch}")).collect()
    } else {
        (1..=7).map(|i| format!("Mconv{i}_stage{stage}_L{branch}")).collect()
    }
}

pub struct BodyPoseModel {
    front: Vec<Layer>,
    /// [stage][branch] for stages 1-6, branches L1 (PAFs) and L2 (heatmaps).
    stages: Vec<[Vec<Layer>; 2]>,
}

impl BodyPoseModel {
    /// Reads `body_pose_model.pth` (or a safetensors file with the same names).
    pub fn load(file: &Checkpoint, device: &Device) -> Result<Self, CheckpointError> {
        let unfit = |problem: String| CheckpointError::Unfit {
            path: file.path().to_path_buf(),
            what: "the OpenPose body model",
            problem,
            fix: "use body_pose_model.pth from lllyasviel/Annotators",
        };
        let conv = |name: &str, relu: bool| -> Result<Layer, CheckpointError> {
            let (wshape, w) = file.get(&format!("{name}.weight"))?.ok_or_else(|| unfit(format!("it has no {name}.weight")))?;
            let (bshape, b) = file.get(&format!("{name}.bias"))?.ok_or_else(|| unfit(format!("it has no {name}.bias")))?;
            let [out, inp, kh, kw] = wshape[..] else {
                return Err(unfit(format!("{name}.weight has shape {wshape:?}, not a convolution's")));
            };
            if kh != kw || kh % 2 == 0 || bshape != [out] {
                return Err(unfit(format!("{name}: weight {wshape:?} and bias {bshape:?} are not an odd square convolution's")));
            }
            let weight = Tensor::from_data(TensorData::new(w, [out, inp, kh, kw]), device);
            let bias = Tensor::from_data(TensorData::new(b, [out]), device);
            Ok(Layer::Conv { weight, bias, padding: kh / 2, relu })
        };
        let mut front = Vec::new();
        for layer in FRONT {
            front.push(match layer {
                Some(name) => conv(name, true)?,
                None => Layer::Pool,
            });
        }
        let mut stages = Vec::new();
        for stage in 1..=6 {
            let branch = |b: usize| -> Result<Vec<Layer>, CheckpointError> {
                let names = stage_layers(stage, b);
                let last = names.len() - 1;
                names.iter().enumerate().map(|(i, n)| conv(n, i != last || (stage == 6 && b == 2))).collect()
            };
            stages.push([branch(1)?, branch(2)?]);
        }
        let model = Self { front, stages };
        model.check_channels().map_err(unfit)?;
        Ok(model)
    }

    /// The maps must be 38 PAF and 19 heatmap channels, and each stage must take the previous
    /// maps plus the front's features.
    fn check_channels(&self) -> Result<(), String> {
        let out = |layers: &[Layer]| {
            layers.iter().rev().find_map(|l| if let Layer::Conv { weight, .. } = l { Some(weight.dims()[0]) } else { None })
        };
        let inp =
            |layers: &[Layer]| layers.iter().find_map(|l| if let Layer::Conv { weight, .. } = l { Some(weight.dims()[1]) } else { None });
        let features = out(&self.front).unwrap_or(0);
        for (i, [paf, heat]) in self.stages.iter().enumerate() {
            let (p, h) = (out(paf).unwrap_or(0), out(heat).unwrap_or(0));
            if (p, h) != (38, 19) {
                return Err(format!("stage {} gives {p} PAF and {h} heatmap channels, OpenPose's body model 38 and 19", i + 1));
            }
            let expected = if i == 0 { features } else { 38 + 19 + features };
            for branch in [paf, heat] {
                if inp(branch) != Some(expected) {
                    return Err(format!("stage {} takes {:?} channels, expected {expected}", i + 1, inp(branch)));
                }
            }
        }
        if inp(&self.front) != Some(3) {
            return Err(format!("the first convolution takes {:?} channels, not an RGB picture's 3", inp(&self.front)));
        }
        Ok(())
    }

    /// `x` [1, 3, H, W] (BGR / 256 - 0.5, as the reference feeds it) to (PAFs [1, 38, H/8, W/8],
    /// heatmaps [1, 19, H/8, W/8]).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let features = run(&self.front, x);
        let mut input = features.clone();
        let mut maps = None;
        for [paf_layers, heat_layers] in &self.stages {
            let paf = run(paf_layers, input.clone());
            let heat = run(heat_layers, input);
            input = Tensor::cat(vec![paf.clone(), heat.clone(), features.clone()], 1);
            maps = Some((paf, heat));
        }
        maps.expect("six stages")
    }
}

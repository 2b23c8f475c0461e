//! The few layer kinds the annotator networks are made of, built from a checkpoint by name:
//! convolutions (any stride, padding, dilation, groups), inference batch norms folded into a
//! scale and shift, and the activations and resampling around them.

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

use crate::checkpoint::{Checkpoint, CheckpointError};

const BN_EPS: f32 = 1e-5;

pub struct Conv {
    pub weight: Tensor<4>,
    pub bias: Option<Tensor<1>>,
    pub options: ConvOptions<2>,
    /// MobileNet's stride-2 convolutions pad only right and bottom (by one).
    pub pad_end: bool,
}

impl Conv {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.pad_end { x.pad((0, 1, 0, 1), PadMode::Constant(0.0)) } else { x };
        conv2d(x, self.weight.clone(), self.bias.clone(), self.options.clone())
    }
}

/// An inference batch norm as y = x * scale + shift.
pub struct Norm {
    scale: Tensor<4>,
    shift: Tensor<4>,
}

impl Norm {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x * self.scale.clone() + self.shift.clone()
    }
}

pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

pub struct Loader<'a> {
    pub file: &'a Checkpoint,
    pub device: &'a Device,
    /// Put before every name (the file's nesting, e.g. `depth_model.module.`).
    pub prefix: String,
    pub what: &'static str,
    pub fix: &'static str,
}

impl Loader<'_> {
    pub fn unfit(&self, problem: String) -> CheckpointError {
        CheckpointError::Unfit { path: self.file.path().to_path_buf(), what: self.what, problem, fix: self.fix }
    }

    /// The shape of `name`, if the file has it (from the file's index; no data is read).
    pub fn shape(&self, name: &str) -> Result<Option<Vec<usize>>, CheckpointError> {
        Ok(self.file.shape(&format!("{}{name}", self.prefix)))
    }

    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, CheckpointError> {
        let (found, values) = self.file.get(&format!("{}{name}", self.prefix))?.ok_or_else(|| self.unfit(format!("it has no {name}")))?;
        if found != shape {
            return Err(self.unfit(format!("{name} has shape {found:?}, expected {shape:?}")));
        }
        Ok(values)
    }

    /// Convolution `name` from `cin` to `cout` channels (`groups` of them), `k` x `k`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &self,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
        bias: bool,
    ) -> Result<Conv, CheckpointError> {
        let shape = [cout, cin / groups, k, k];
        let weight = Tensor::from_data(TensorData::new(self.tensor(&format!("{name}.weight"), &shape)?, shape), self.device);
        let bias = if bias {
            Some(Tensor::from_data(TensorData::new(self.tensor(&format!("{name}.bias"), &[cout])?, [cout]), self.device))
        } else {
            None
        };
        let options = ConvOptions::new([stride, stride], [padding, padding], [dilation, dilation], groups);
        Ok(Conv { weight, bias, options, pad_end: false })
    }

    pub fn norm(&self, name: &str, c: usize) -> Result<Norm, CheckpointError> {
        let get = |p: &str| self.tensor(&format!("{name}.{p}"), &[c]);
        let (gamma, beta, mean, var) = (get("weight")?, get("bias")?, get("running_mean")?, get("running_var")?);
        let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + BN_EPS).sqrt()).collect();
        let shift: Vec<f32> = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        let t = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, c, 1, 1]), self.device);
        Ok(Norm { scale: t(scale), shift: t(shift) })
    }

    /// MobileNet's ConvBNReLU (ReLU6): `prefix.0` the convolution, `prefix.1` its norm.
    pub fn conv_bn_relu6(
        &self,
        prefix: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> Result<(Conv, Norm), CheckpointError> {
        let padding = if stride == 2 { 0 } else { (k - 1) / 2 };
        let mut conv = self.conv(&format!("{prefix}.0"), cin, cout, k, stride, padding, 1, groups, false)?;
        conv.pad_end = stride == 2;
        Ok((conv, self.norm(&format!("{prefix}.1"), cout)?))
    }
}

/// A convolution, its norm and a ReLU.
pub fn cbr(p: &(Conv, Norm), x: Tensor<4>) -> Tensor<4> {
    relu(p.1.forward(p.0.forward(x)))
}

/// Twice the size, bilinear with corners aligned (PyTorch's `align_corners=True`).
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(x, InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([h * 2, w * 2]))
}

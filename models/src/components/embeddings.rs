//! diffusers' `embeddings.py`: sinusoidal timestep features and the time-embedding MLP.

use crate::kernels::cpu_layers::CpuForward;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor, TensorData};

/// `get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)`: [cos | sin].
pub fn timestep_features(timesteps: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    let half = dim / 2;
    // exponent = -ln(10000) * arange(half) / (half - shift), in float32 as diffusers computes it.
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f32.ln()) * i as f32 / half as f32).exp()).collect();
    let mut data = Vec::with_capacity(timesteps.len() * dim);
    for t in timesteps {
        let args: Vec<f32> = freqs.iter().map(|f| t * f).collect();
        data.extend(args.iter().map(|a| a.cos()));
        data.extend(args.iter().map(|a| a.sin()));
    }
    Tensor::from_data(TensorData::new(data, [timesteps.len(), dim]), device)
}

#[derive(Module, Debug)]
pub struct TimestepEmbedding {
    pub linear_1: Linear,
    pub linear_2: Linear,
}

impl TimestepEmbedding {
    pub fn new(input: usize, dim: usize, device: &Device) -> Self {
        Self { linear_1: LinearConfig::new(input, dim).init(device), linear_2: LinearConfig::new(dim, dim).init(device) }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear_2.forward_cpu(silu(self.linear_1.forward_cpu(x)))
    }
}

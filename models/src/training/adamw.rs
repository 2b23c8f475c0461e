//! `torch.optim.AdamW` with torch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay
//! 1e-2), as its single-tensor CPU path computes each step on an AVX2 or AVX-512 machine: decay
//! first, `m.lerp_(g, 1 - beta1)` and `v = v * beta2 + (1 - beta2) g^2` as fused multiply-adds,
//! bias corrections in double, `p += (-step_size * m) / (sqrt(v) / sqrt(bc2) + eps)`.

/// AdamW's settings (the learning rate is given per step, for schedules), as the Python floats
/// torch takes: its arithmetic on them (`1 - beta2`, `1 - lr * weight_decay`) is in double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// torch's (burn's AdamW defaults differ: eps 1e-5, weight decay 1e-4).
    fn default() -> Self {
        Self { betas: (0.9, 0.999), eps: 1e-8, weight_decay: 1e-2 }
    }
}

/// One parameter's moments.
#[derive(Debug, Clone)]
pub struct Moments {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

pub struct AdamW {
    pub config: AdamWConfig,
    /// Steps taken (torch's `state["step"]`, the same for every parameter here).
    pub step: u32,
    pub moments: Vec<Moments>,
}

impl AdamW {
    /// An optimizer for parameters of these lengths.
    pub fn new(config: AdamWConfig, sizes: &[usize]) -> Self {
        Self { config, step: 0, moments: sizes.iter().map(|n| Moments { m: vec![0.0; *n], v: vec![0.0; *n] }).collect() }
    }

    /// One step over every parameter with its gradient, at learning rate `lr`.
    pub fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f64) {
        self.step += 1;
        let AdamWConfig { betas: (beta1, beta2), eps, weight_decay } = self.config;
        // `beta ** step` in Python: the C library's pow.
        let t = self.step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - beta2.powf(t)).sqrt();
        // Python floats until they meet a float32 tensor.
        let step_size = (lr / bias_correction1) as f32;
        let decay = (1.0 - lr * weight_decay) as f32;
        let (lerp_weight, one_minus_beta2) = ((1.0 - beta1) as f32, (1.0 - beta2) as f32);
        let (beta2, bc2, eps) = (beta2 as f32, bias_correction2_sqrt as f32, eps as f32);
        for ((p, g), s) in params.iter_mut().zip(grads).zip(&mut self.moments) {
            for j in 0..p.len() {
                p[j] *= decay;
                // torch's AVX2/AVX-512 kernels fuse these multiply-adds (lerp_, addcmul_).
                s.m[j] = lerp_weight.mul_add(g[j] - s.m[j], s.m[j]);
                s.v[j] = (one_minus_beta2 * g[j]).mul_add(g[j], s.v[j] * beta2);
                let denom = s.v[j].sqrt() / bc2 + eps;
                p[j] += -step_size * s.m[j] / denom;
            }
        }
    }
}

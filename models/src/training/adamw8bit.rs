//! bitsandbytes' `AdamW8bit` as its CUDA kernels compute a step, in float32, one operation at a
//! time (`kOptimizerStatic8bit2StateBlockwise`; `kOptimizer32bit2State` for tensors under
//! `min_8bit_size`): both Adam moments kept as one byte per value, a code of the dynamic maps
//! ([`dynamic_map`]: signed for m, unsigned for v) times the absolute maximum of its block; the
//! step dequantizes, updates, takes the block's new maxima, moves the parameter, applies weight
//! decay after the step (torch's AdamW decays before), and quantizes back by the kernel's
//! 7-step search with its midpoint rule, keeping m's sign.
//!
//! Blocks are 256 values (bitsandbytes 0.44 on) or 2048 (up to 0.43: what a 2023 kohya install
//! ran). bitsandbytes' CPU optimizer (0.50) is close to this, not equal: it quantizes through a
//! lookup table, decays before the step and has no sign fix.

use super::adamw::AdamWConfig;
use super::dynamic_map::dynamic_map;

/// bitsandbytes' `min_8bit_size`: smaller tensors keep float32 moments.
pub const MIN_8BIT_SIZE: usize = 4096;

/// One parameter's state.
#[derive(Debug, Clone)]
pub enum State {
    /// float32 moments (`kOptimizer32bit2State`).
    Full { m: Vec<f32>, v: Vec<f32> },
    /// Codes and per-block maxima.
    Quantized { m_codes: Vec<u8>, v_codes: Vec<u8>, m_absmax: Vec<f32>, v_absmax: Vec<f32> },
}

pub struct AdamW8bit {
    pub config: AdamWConfig,
    pub blocksize: usize,
    pub step: u32,
    pub states: Vec<State>,
    signed: [f32; 256],
    unsigned: [f32; 256],
}

/// The kernel's `quantize_2D`: from the middle code, seven halvings (the first lands on the
/// quarter codes 63 and 191), then the nearer neighbour by the midpoint rule. `x` is NaN for an
/// all-zero block (0 / 0): it then takes the lowest codes, harmless as the block's maximum is 0.
fn quantize(code: &[f32; 256], x: f32, signed: bool) -> u8 {
    let (mut pivot, mut upper_pivot, mut lower_pivot) = (127usize, 255usize, 0usize);
    let (mut lower, mut upper) = (if signed { -1.0f32 } else { 0.0 }, 1.0f32);
    let mut val = code[127];
    for i in [64, 32, 16, 8, 4, 2, 1] {
        if x > val {
            lower_pivot = pivot;
            lower = val;
            pivot += i;
        } else {
            upper_pivot = pivot;
            upper = val;
            pivot -= i;
        }
        val = code[pivot];
    }
    let chosen = if x > val {
        if x > (upper + val) * 0.5 {
            upper_pivot
        } else {
            pivot
        }
    } else if x < (lower + val) * 0.5 {
        lower_pivot
    } else {
        pivot
    };
    chosen as u8
}

impl AdamW8bit {
    pub fn new(config: AdamWConfig, blocksize: usize, sizes: &[usize]) -> Self {
        let states = sizes
            .iter()
            .map(|&n| {
                if n < MIN_8BIT_SIZE {
                    State::Full { m: vec![0.0; n], v: vec![0.0; n] }
                } else {
                    let blocks = n.div_ceil(blocksize);
                    State::Quantized { m_codes: vec![0; n], v_codes: vec![0; n], m_absmax: vec![0.0; blocks], v_absmax: vec![0.0; blocks] }
                }
            })
            .collect();
        Self { config, blocksize, step: 0, states, signed: dynamic_map(true), unsigned: dynamic_map(false) }
    }

    /// One step over every parameter with its gradient, at learning rate `lr`. A gradient that
    /// is not finite leaves its value and zeroes its moments, as the kernel does.
    pub fn step(&mut self, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        self.step += 1;
        // The kernel takes float arguments.
        let AdamWConfig { betas: (beta1, beta2), eps, weight_decay } = self.config;
        let (beta1, beta2, eps, weight_decay) = (beta1 as f32, beta2 as f32, eps as f32, weight_decay as f32);
        // beta^t: the kernel's __powf is CUDA's fast approximation; the nearest float32 here.
        let power = |beta: f32| (beta as f64).powi(self.step as i32) as f32;
        let correction1 = 1.0 - power(beta1);
        let correction2 = (1.0 - power(beta2)).sqrt();
        let step_size = (-lr * correction2) / correction1;
        let decay = 1.0 - lr * weight_decay;
        for ((p, g), state) in params.iter_mut().zip(grads).zip(&mut self.states) {
            match state {
                State::Full { m, v } => {
                    for j in 0..p.len() {
                        m[j] = m[j] * beta1 + (1.0 - beta1) * g[j];
                        v[j] = v[j] * beta2 + (1.0 - beta2) * (g[j] * g[j]);
                        p[j] += step_size * (m[j] / (v[j].sqrt() + eps * correction2));
                        if weight_decay > 0.0 {
                            p[j] *= decay;
                        }
                    }
                }
                State::Quantized { m_codes, v_codes, m_absmax, v_absmax } => {
                    let (mut m, mut v) = (vec![0.0f32; self.blocksize], vec![0.0f32; self.blocksize]);
                    for (b, start) in (0..p.len()).step_by(self.blocksize).enumerate() {
                        let end = (start + self.blocksize).min(p.len());
                        let (m, v) = (&mut m[..end - start], &mut v[..end - start]);
                        for (k, j) in (start..end).enumerate() {
                            let gj = g[j];
                            (m[k], v[k]) = if gj.is_finite() {
                                let old_v = self.unsigned[v_codes[j] as usize] * v_absmax[b];
                                let old_m = self.signed[m_codes[j] as usize] * m_absmax[b];
                                (old_m * beta1 + (1.0 - beta1) * gj, old_v * beta2 + (1.0 - beta2) * gj * gj)
                            } else {
                                (0.0, 0.0)
                            };
                        }
                        let a1 = m.iter().fold(0.0f32, |a, x| a.max(x.abs()));
                        let a2 = v.iter().fold(0.0f32, |a, x| a.max(x.abs()));
                        (m_absmax[b], v_absmax[b]) = (a1, a2);
                        for (k, j) in (start..end).enumerate() {
                            if g[j].is_finite() {
                                p[j] += step_size * (m[k] / (v[k].sqrt() + correction2 * eps));
                                if weight_decay > 0.0 {
                                    p[j] *= decay;
                                }
                            }
                            let mut code = quantize(&self.signed, m[k] / a1, true);
                            // Keep m's sign (an unsigned char in the kernel: it wraps).
                            if self.signed[code as usize].is_sign_negative() != m[k].is_sign_negative() {
                                code = if m[k] > 0.0 { code.wrapping_add(1) } else { code.wrapping_sub(1) };
                            }
                            m_codes[j] = code;
                            v_codes[j] = quantize(&self.unsigned, v[k] / a2, false);
                        }
                    }
                }
            }
        }
    }
}

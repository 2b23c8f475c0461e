//! bitsandbytes' dynamic quantization maps (`create_dynamic_map`, 8 bits, up to 7 exponent
//! bits): 256 sorted float32 codes, dense near 0 (down to ~1e-7) and sparse near 1. The signed
//! map holds 127 negative and 127 positive values with 0 and 1; the unsigned one 254 positive.

pub fn dynamic_map(signed: bool) -> [f32; 256] {
    let mut data: Vec<f32> = Vec::with_capacity(256);
    for i in 0..7 {
        let items = if signed { (1 << i) + 1 } else { (1 << (i + 1)) + 1 };
        let bounds = linspace_fma(0.1, 1.0, items);
        let scale = 10f64.powi(i - 6) as f32;
        let means: Vec<f32> = bounds.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        data.extend(means.iter().map(|m| scale * m));
        if signed {
            data.extend(means.iter().map(|m| -scale * m));
        }
    }
    data.push(0.0);
    data.push(1.0);
    data.sort_by(|a, b| a.total_cmp(b));
    data.try_into().expect("256 codes")
}

/// `torch.linspace(start, end, steps, dtype=float32)` as PyTorch's AVX2 and AVX-512 CPU kernels
/// compute it (compiled with FMA: each value one fused multiply-add, from the start for the first
/// half, from the end for the second). bitsandbytes builds its maps at run time on the CPU, which
/// has AVX2 wherever it runs, so these are the maps its optimizers use.
fn linspace_fma(start: f32, end: f32, steps: usize) -> Vec<f32> {
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps).map(|i| if i < halfway { step.mul_add(i as f32, start) } else { (-step).mul_add((steps - i - 1) as f32, end) }).collect()
}

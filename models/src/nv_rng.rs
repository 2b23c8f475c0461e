//! A1111's "NV" noise source: the normals `torch.randn(..., device="cuda")` draws for a seed,
//! computed on the CPU as A1111's `modules/rng_philox.py` computes them, so a seed found with a
//! GPU A1111 draws the same noise here.
//!
//! Each call of [`PhiloxGenerator::randn`] runs Philox 4x32 with 10 rounds once per value:
//! counter (call number, 0, value index, 0), key the seed's two 32-bit halves; the first two
//! outputs become one normal by Box-Muller (the sine half), in float64 as numpy evaluates that
//! file (a uint32 array times a float32 array is float64 there), rounded to float32 at the end.

const MULTIPLIERS: [u64; 2] = [0xD251_1F53, 0xCD9E_8D57];
const KEY_STEPS: [u32; 2] = [0x9E37_79B9, 0xBB67_AE85];
/// The file's float32 constants: 2^-32 (as 2.3283064e-10) and 2^-32 * 2 pi.
const TWO_POW32_INV: f32 = 2.328_306_4e-10;
const TWO_POW32_INV_2PI: f32 = (2.328_306_4e-10_f64 * 6.283_185_5_f64) as f32;

/// Philox 4x32-10 of one counter under one key.
fn philox(mut counter: [u32; 4], mut key: [u32; 2]) -> [u32; 4] {
    for round in 0..10 {
        let v1 = counter[0] as u64 * MULTIPLIERS[0];
        let v2 = counter[2] as u64 * MULTIPLIERS[1];
        counter = [(v2 >> 32) as u32 ^ counter[1] ^ key[0], v2 as u32, (v1 >> 32) as u32 ^ counter[3] ^ key[1], v1 as u32];
        if round < 9 {
            key = [key[0].wrapping_add(KEY_STEPS[0]), key[1].wrapping_add(KEY_STEPS[1])];
        }
    }
    counter
}

/// The sine half of Box-Muller on two uniform 32-bit integers.
fn box_muller(x: u32, y: u32) -> f32 {
    let u = x as f64 * TWO_POW32_INV as f64 + (TWO_POW32_INV / 2.0) as f64;
    let v = y as f64 * TWO_POW32_INV_2PI as f64 + (TWO_POW32_INV_2PI / 2.0) as f64;
    ((-2.0 * u.ln()).sqrt() * v.sin()) as f32
}

/// A1111's NV generator for one seed.
#[derive(Debug, Clone)]
pub struct PhiloxGenerator {
    key: [u32; 2],
    /// Calls so far: each call is its own counter stream.
    offset: u32,
}

impl PhiloxGenerator {
    pub fn new(seed: u64) -> Self {
        Self { key: [seed as u32, (seed >> 32) as u32], offset: 0 }
    }

    /// `n` standard normals (one tensor's worth; the next call draws fresh ones).
    pub fn randn(&mut self, n: usize) -> Vec<f32> {
        let offset = self.offset;
        self.offset = self.offset.wrapping_add(1);
        (0..n)
            .map(|i| {
                let [a, b, _, _] = philox([offset, 0, i as u32, 0], self.key);
                box_muller(a, b)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_zero_gives_cudas_first_normals() {
        // torch.randn(3, 4, device="cuda") after torch.manual_seed(0), as A1111's file documents.
        let expected = [-0.924_662_4, -0.425_343_96, -2.643_845_8, 0.145_183_88, -0.120_866_51, -0.579_725_7];
        let ours = PhiloxGenerator::new(0).randn(12);
        for (a, b) in ours.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{ours:?}");
        }
        let mut g = PhiloxGenerator::new(0);
        assert_ne!(g.randn(4), g.randn(4), "each call draws fresh numbers");
    }
}

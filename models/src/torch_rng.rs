//! PyTorch's CPU random numbers, bit for bit: `torch.Generator("cpu").manual_seed(seed)` and
//! `torch.randn(..., generator=g)` as diffusers draws its noise with them.
//!
//! The generator is MT19937 seeded with the low 32 bits of the seed. `randn` of a float32 tensor
//! with at least 16 elements fills it with 24-bit uniforms and turns each block of 16 into normals
//! with Box-Muller (the first 8 as `u1`, the last 8 as `u2`); when the size is not a multiple of
//! 16 the last 16 values are drawn again. Which Box-Muller arithmetic runs depends on the CPU build
//! PyTorch dispatches to: [`NormalKernel::Scalar`] (ARM, e.g. Jetson, and x86 with AVX-512) uses the
//! C library's `logf`/`cosf`/`sinf`; [`NormalKernel::Avx2`] (x86 with AVX2 but not AVX-512) uses
//! the polynomial `log256_ps`/`sincos256_ps` of avx_mathfun. Smaller tensors draw one double
//! normal at a time, caching the second value of each pair, as `at::normal_distribution<double>`.

/// The Box-Muller arithmetic of PyTorch's `normal_fill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalKernel {
    Scalar,
    Avx2,
}

impl NormalKernel {
    /// What PyTorch on this machine would use.
    pub fn native() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && !std::arch::is_x86_feature_detected!("avx512f") {
                return NormalKernel::Avx2;
            }
        }
        NormalKernel::Scalar
    }
}

const N: usize = 624;
const M: usize = 397;

/// PyTorch's CPU generator state.
#[derive(Clone)]
pub struct TorchGenerator {
    state: [u32; N],
    next: usize,
    next_double_normal: Option<f64>,
}

impl TorchGenerator {
    /// `torch.Generator("cpu").manual_seed(seed)`.
    pub fn manual_seed(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for i in 1..N {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Self { state, next: N, next_double_normal: None }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.next = 0;
    }

    /// 32 random bits (`generator->random()`).
    pub fn random(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// 64 random bits (`generator->random64()`): two draws, the first as the high half.
    pub fn random64(&mut self) -> u64 {
        let hi = self.random() as u64;
        let lo = self.random() as u64;
        (hi << 32) | lo
    }

    /// A float uniform in [0, 1) with 24 random bits.
    fn uniform_f32(&mut self) -> f32 {
        ((self.random() & 0x00ff_ffff) as f64 * (1.0 / (1u64 << 24) as f64)) as f32
    }

    /// A double uniform in [0, 1) with 53 random bits.
    fn uniform_f64(&mut self) -> f64 {
        (self.random64() & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// One standard normal from `at::normal_distribution<double>`.
    fn normal_f64(&mut self) -> f64 {
        if let Some(v) = self.next_double_normal.take() {
            return v;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_double_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `torch.randn(n, generator=self)` in float32 (any shape with `n` elements, contiguous).
    pub fn randn(&mut self, n: usize, kernel: NormalKernel) -> Vec<f32> {
        if n < 16 {
            return (0..n).map(|_| self.normal_f64() as f32).collect();
        }
        let mut data: Vec<f32> = (0..n).map(|_| self.uniform_f32()).collect();
        let mut i = 0;
        while i + 16 <= n {
            box_muller_16(&mut data[i..i + 16], kernel);
            i += 16;
        }
        if n % 16 != 0 {
            let tail = &mut data[n - 16..];
            for v in tail.iter_mut() {
                *v = self.uniform_f32();
            }
            box_muller_16(tail, kernel);
        }
        data
    }
}

fn box_muller_16(data: &mut [f32], kernel: NormalKernel) {
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let (radius, sin, cos) = match kernel {
            NormalKernel::Scalar => {
                let radius = (-2.0 * u1.ln()).sqrt();
                // theta is computed in double (2.0f * pi<double> * u2) and stored as float.
                let theta = (2.0f64 * std::f64::consts::PI * u2 as f64) as f32;
                (radius, theta.sin(), theta.cos())
            }
            NormalKernel::Avx2 => {
                let radius = (-2.0 * avx_mathfun::log(u1)).sqrt();
                let theta = (2.0 * std::f32::consts::PI) * u2;
                let (s, c) = avx_mathfun::sincos(theta);
                (radius, s, c)
            }
        };
        data[j] = radius * cos;
        data[j + 8] = radius * sin;
    }
}

/// One lane of avx_mathfun's `log256_ps` and `sincos256_ps` (Cephes polynomials in float), as
/// PyTorch's AVX2 `normal_fill` uses them.
mod avx_mathfun {
    //! PyTorch's wheels build this with GCC's default -ffp-contract=fast and FMA enabled: a
    //! multiply whose only use is an add is fused, so the port fuses the same pairs.

    pub fn log(x: f32) -> f32 {
        let x = x.max(f32::from_bits(0x0080_0000));
        let bits = x.to_bits();
        let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
        let mut x = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
        let mask = x < std::f32::consts::FRAC_1_SQRT_2;
        let tmp = if mask { x } else { 0.0 };
        x -= 1.0;
        if mask {
            e -= 1.0;
        }
        x += tmp;
        let z = x * x;
        let mut y = 7.037_683_6e-2f32;
        for p in [
            -1.151_461_03e-1f32,
            1.167_699_87e-1,
            -1.242_014_08e-1,
            1.424_932_28e-1,
            -1.666_805_77e-1,
            2.000_071_48e-1,
            -2.499_999_4e-1,
            3.333_333_1e-1,
        ] {
            y = y.mul_add(x, p);
        }
        // GCC fuses the first multiply (in program order) whose only use is an add.
        y = (y * x).mul_add(z, e * -2.121_944_4e-4);
        y = (-z).mul_add(0.5, y);
        x += y;
        e.mul_add(0.693_359_4, x)
    }

    pub fn sincos(x: f32) -> (f32, f32) {
        let sign_sin = x.to_bits() & 0x8000_0000;
        let x = x.abs();
        let y = x * 1.273_239_5; // 4/pi
        let mut j = y as i32;
        j = (j + 1) & !1;
        let y = j as f32;
        let swap_sin = ((j & 4) as u32) << 29;
        let poly_sin = (j & 2) == 0;
        // Extended-precision reduction: x - y*pi/4 in three parts.
        let x = y.mul_add(-0.785_156_25, x);
        let x = y.mul_add(-2.418_756_5e-4, x);
        let x = y.mul_add(-3.774_895e-8, x);
        let sign_cos = ((!(j - 2) & 4) as u32) << 29;
        let sign_sin = sign_sin ^ swap_sin;
        let z = x * x;
        let mut c = 2.443_315_7e-5f32;
        c = c.mul_add(z, -1.388_731_6e-3);
        c = c.mul_add(z, 4.166_664_6e-2);
        c *= z;
        c = c.mul_add(z, -(z * 0.5));
        c += 1.0;
        let mut s = -1.951_529_6e-4f32;
        s = s.mul_add(z, 8.332_161e-3);
        s = s.mul_add(z, -1.666_665_5e-1);
        s *= z;
        s = s.mul_add(x, x);
        let (sin, cos) = if poly_sin { (s, c) } else { (c, s) };
        (f32::from_bits(sin.to_bits() ^ sign_sin), f32::from_bits(cos.to_bits() ^ sign_cos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // The 10000th output of MT19937 seeded with 5489 is 4123659995 (C++ [rand.predef]).
        let mut g = TorchGenerator::manual_seed(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = g.random();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn polynomial_log_and_sincos_are_accurate() {
        for i in 1..1000 {
            let x = i as f32 / 1000.0;
            assert!((avx_mathfun::log(x) - x.ln()).abs() < 2e-6, "{x}");
            let t = x * 6.283;
            let (s, c) = avx_mathfun::sincos(t);
            assert!((s - t.sin()).abs() < 2e-6 && (c - t.cos()).abs() < 2e-6, "{t}");
        }
    }
}

//! exp over whole slices for the CPU kernels (softmax, SiLU, GELU): libm's `expf` and `erff` one
//! value at a time are what burn-flex calls, and at a UNet's sizes they are a visible part of a
//! step. AVX-512 where the CPU has it, the standard library's `exp` (libm's `erff`) elsewhere.

/// `row[i] = exp(row[i] - shift)`, returning their sum (a softmax's shifted exponentials).
pub fn exp_shifted_in_place(row: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { avx512::exp_shifted(row, shift) };
    }
    exp_shifted_portable(row, shift)
}

/// [`exp_shifted_in_place`] on every CPU without AVX-512.
pub fn exp_shifted_portable(row: &mut [f32], shift: f32) -> f32 {
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - shift).exp();
        sum += *x;
    }
    sum
}

/// The largest value of `row` (NaNs skipped, as `f32::max` does; -inf for an empty row): a
/// softmax's shift, one pass over every attention score.
pub fn max_of(row: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { avx512::max_of(row) };
    }
    max_of_portable(row)
}

/// [`max_of`] on every CPU without AVX-512.
pub fn max_of_portable(row: &[f32]) -> f32 {
    row.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b))
}

/// `row[i] *= factor` (a softmax's division by its sum), 16 values at a time where the CPU has
/// AVX-512: the baseline build's loop is SSE's 4.
pub fn scale_in_place(row: &mut [f32], factor: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { avx512::scale(row, factor) };
    }
    row.iter_mut().for_each(|x| *x *= factor);
}

/// `row[i] = silu(row[i]) = row[i] / (1 + exp(-row[i]))`.
pub fn silu_in_place(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { avx512::silu(row) };
    }
    silu_portable(row)
}

/// [`silu_in_place`] on every CPU without AVX-512.
pub fn silu_portable(row: &mut [f32]) {
    for x in row.iter_mut() {
        *x /= 1.0 + (-*x).exp();
    }
}

/// `out[i] = value[i] * gelu(gate[i])`, GELU the exact (erf) one: a GEGLU's output.
pub fn gelu_gated(value: &[f32], gate: &[f32], out: &mut [f32]) {
    assert!(
        value.len() == gate.len() && out.len() == gate.len(),
        "GEGLU halves of {}, {} and {} values",
        value.len(),
        gate.len(),
        out.len()
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F is present.
        return unsafe { avx512::gelu_gated(value, gate, out) };
    }
    gelu_gated_portable(value, gate, out)
}

/// [`gelu_gated`] on every CPU without AVX-512, as burn computes GELU.
pub fn gelu_gated_portable(value: &[f32], gate: &[f32], out: &mut [f32]) {
    for ((o, v), g) in out.iter_mut().zip(value).zip(gate) {
        *o = v * (0.5 * g * (1.0 + libm::erff(g * std::f32::consts::FRAC_1_SQRT_2)));
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// exp(x) as 2^n e^r, n = round(x / ln 2), r = x - n ln 2 (in two parts, so r is exact to
    /// f32), e^r by its Taylor series to r^6 (|r| <= ln 2 / 2: error < 1.3e-7 relative), 2^n by
    /// `vscalefps`. Below -87.3 the result is flushed to 0 (e^-87.3 is f32's smallest normal);
    /// above 88.7 it is infinite, as f32's own.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp(x: __m512) -> __m512 {
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        const TAYLOR: [f32; 7] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0];
        let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(-87.3));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
            x,
            _mm512_set1_ps(std::f32::consts::LOG2_E),
        ));
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x));
        let mut p = _mm512_set1_ps(TAYLOR[6]);
        for coefficient in TAYLOR[..6].iter().rev() {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(*coefficient));
        }
        _mm512_maskz_mov_ps(!tiny, _mm512_scalef_ps(p, n))
    }

    /// Applies `f` to `row` 16 values at a time (the tail masked; its missing lanes read as
    /// `fill`), returning the sum of the results.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn map(row: &mut [f32], fill: f32, f: impl Fn(__m512) -> __m512) -> f32 {
        let mut sum = _mm512_setzero_ps();
        let mut chunks = row.chunks_exact_mut(16);
        for chunk in &mut chunks {
            let y = f(_mm512_loadu_ps(chunk.as_ptr()));
            _mm512_storeu_ps(chunk.as_mut_ptr(), y);
            sum = _mm512_add_ps(sum, y);
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mask: __mmask16 = (1u32 << rest.len()).wrapping_sub(1) as __mmask16;
            let y = f(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask, rest.as_ptr()));
            _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, y);
            sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(mask, y));
        }
        _mm512_reduce_add_ps(sum)
    }

    /// gelu(x) = x Φ(x) = x erfc(-x / √2) / 2. erfc(z) for z >= 0 by Abramowitz and Stegun's
    /// 7.1.26 (a polynomial in t = 1 / (1 + p z) times e^(-z²), absolute error under 1.5e-7),
    /// so the negative side, where Φ is small, is computed as itself and not as 1 - erf;
    /// Φ(x) = 1 - erfc(z) / 2 on the positive side.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gelu(x: __m512) -> __m512 {
        const P: f32 = 0.327_591_1;
        const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152_1, 1.061_405_4];
        let z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        let t = _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_fmadd_ps(z, _mm512_set1_ps(P), _mm512_set1_ps(1.0)));
        let mut poly = _mm512_set1_ps(A[4]);
        for a in A[..4].iter().rev() {
            poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(*a));
        }
        let half_erfc = _mm512_mul_ps(
            _mm512_mul_ps(_mm512_set1_ps(0.5), _mm512_mul_ps(poly, t)),
            exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(z, z))),
        );
        let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps());
        let phi = _mm512_mask_mov_ps(_mm512_sub_ps(_mm512_set1_ps(1.0), half_erfc), negative, half_erfc);
        _mm512_mul_ps(x, phi)
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn gelu_gated(value: &[f32], gate: &[f32], out: &mut [f32]) {
        let whole = gate.len() / 16 * 16;
        for i in (0..whole).step_by(16) {
            let y = _mm512_mul_ps(_mm512_loadu_ps(value.as_ptr().add(i)), gelu(_mm512_loadu_ps(gate.as_ptr().add(i))));
            _mm512_storeu_ps(out.as_mut_ptr().add(i), y);
        }
        let rest = gate.len() - whole;
        if rest > 0 {
            let mask: __mmask16 = (1u32 << rest).wrapping_sub(1) as __mmask16;
            let v = _mm512_maskz_loadu_ps(mask, value.as_ptr().add(whole));
            let g = _mm512_maskz_loadu_ps(mask, gate.as_ptr().add(whole));
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(whole), mask, _mm512_mul_ps(v, gelu(g)));
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn exp_shifted(row: &mut [f32], shift: f32) -> f32 {
        let s = _mm512_set1_ps(shift);
        map(row, shift, |x| exp(_mm512_sub_ps(x, s)))
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn scale(row: &mut [f32], factor: f32) {
        let f = _mm512_set1_ps(factor);
        map(row, 0.0, |x| _mm512_mul_ps(x, f));
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_of(row: &[f32]) -> f32 {
        // `vmaxps` answers its second operand when either is NaN: a NaN value leaves the running
        // maximum as it was. Four accumulators, so the loop is not one long dependency chain.
        let mut best = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
        let mut chunks = row.chunks_exact(64);
        for chunk in &mut chunks {
            for (i, b) in best.iter_mut().enumerate() {
                *b = _mm512_max_ps(_mm512_loadu_ps(chunk.as_ptr().add(16 * i)), *b);
            }
        }
        let mut best = _mm512_max_ps(_mm512_max_ps(best[0], best[1]), _mm512_max_ps(best[2], best[3]));
        for chunk in chunks.remainder().chunks(16) {
            let mask: __mmask16 = (1u32 << chunk.len()).wrapping_sub(1) as __mmask16;
            let x = _mm512_mask_loadu_ps(_mm512_set1_ps(f32::NEG_INFINITY), mask, chunk.as_ptr());
            best = _mm512_max_ps(x, best);
        }
        _mm512_reduce_max_ps(best)
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn silu(row: &mut [f32]) {
        let one = _mm512_set1_ps(1.0);
        map(row, 0.0, |x| _mm512_div_ps(x, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), x)))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<f32> {
        // Both signs over exp's whole range, past where it flushes or overflows, and a tail.
        let mut v: Vec<f32> = (0..4001).map(|i| (i as f32 - 2000.0) * 0.05).collect();
        v.extend([-200.0, -88.0, -87.0, 87.0, 88.5, 100.0, 0.0, -0.0, 1e-30]);
        v
    }

    #[test]
    fn exp_matches_f64_within_2e7_relative() {
        for shift in [0.0f32, 3.5, -2.0] {
            let mut row: Vec<f32> = values().into_iter().filter(|x| x - shift <= 80.0).collect();
            let expected: Vec<f64> = row.iter().map(|x| ((*x - shift) as f64).exp()).collect();
            let sum = exp_shifted_in_place(&mut row, shift);
            for (x, e) in row.iter().zip(&expected) {
                let tolerance = 2e-7 * e + if *e < 1.2e-38 { 1.2e-38 } else { 0.0 };
                assert!((*x as f64 - e).abs() <= tolerance, "exp: {x} for {e}");
            }
            let total: f64 = expected.iter().sum();
            assert!((sum as f64 - total).abs() <= 1e-6 * total, "the sum: {sum} for {total}");
            let mut portable: Vec<f32> = values().into_iter().filter(|x| x - shift <= 80.0).collect();
            exp_shifted_portable(&mut portable, shift);
            for (x, e) in portable.iter().zip(&expected) {
                assert!((*x as f64 - e).abs() <= 2e-7 * e + 1.2e-38, "portable exp: {x} for {e}");
            }
        }
    }

    #[test]
    fn gelu_gated_matches_f64_within_the_formulas_error() {
        let gates = values();
        let value: Vec<f32> = (0..gates.len()).map(|i| 1.0 + (i % 7) as f32 * 0.5).collect();
        let expected: Vec<f64> = gates
            .iter()
            .zip(&value)
            .map(|(g, v)| *v as f64 * 0.5 * *g as f64 * (1.0 + libm::erf(*g as f64 / std::f64::consts::SQRT_2)))
            .collect();
        for (name, f) in [("vectorised", gelu_gated as fn(&[f32], &[f32], &mut [f32])), ("portable", gelu_gated_portable)] {
            let mut out = vec![f32::NAN; gates.len()];
            f(&value, &gates, &mut out);
            for (((o, e), g), v) in out.iter().zip(&expected).zip(&gates).zip(&value) {
                // The formula's 1.5e-7 on Φ, times the gate and the value; f32's own rounding.
                let tolerance = 1e-7 * (g.abs() * v) as f64 + 3e-7 * e.abs() + 1e-37;
                assert!((*o as f64 - e).abs() <= tolerance, "{name}: {v} * gelu({g}) = {o}, not {e}");
            }
        }
    }

    #[test]
    fn silu_matches_f64_within_1e6_relative() {
        let inputs = values();
        let expected: Vec<f64> = inputs.iter().map(|x| *x as f64 / (1.0 + (-*x as f64).exp())).collect();
        for (name, f) in [("vectorised", silu_in_place as fn(&mut [f32])), ("portable", silu_portable)] {
            let mut row = inputs.clone();
            f(&mut row);
            for ((x, e), input) in row.iter().zip(&expected).zip(&inputs) {
                // Past -88.7, exp(-x) is infinite and the result -0 (the true one is under 1e-36).
                assert!((*x as f64 - e).abs() <= 1e-6 * e.abs() + 1e-36, "{name} silu({input}) = {x}, not {e}");
                assert!(x.is_finite(), "{name} silu({input}) = {x}");
            }
        }
    }

    #[test]
    fn scale_multiplies_every_value_exactly_as_a_plain_loop() {
        for len in [0usize, 5, 16, 37, 4010] {
            let row: Vec<f32> = values().into_iter().take(len).collect();
            let mut ours = row.clone();
            scale_in_place(&mut ours, 0.3);
            let plain: Vec<f32> = row.iter().map(|x| x * 0.3).collect();
            assert_eq!(
                ours.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                plain.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{len} values"
            );
        }
    }

    #[test]
    fn max_of_finds_the_largest_value_wherever_it_is_and_skips_nans() {
        let base = values();
        // Lengths around the 64-value loop and the 16-value tail; the maximum in each position
        // class (unrolled body, tail vector, last lane).
        for len in [0usize, 1, 15, 16, 17, 63, 64, 65, 130, 4009] {
            for at in [0, len / 2, len.saturating_sub(1)] {
                let mut row: Vec<f32> = base.iter().take(len).map(|x| x - 1000.0).collect();
                if len > 0 {
                    row[at] = 7.5;
                }
                let expected = if len == 0 { f32::NEG_INFINITY } else { 7.5 };
                assert_eq!(max_of(&row), expected, "{len} values, the largest at {at}");
                assert_eq!(max_of_portable(&row), expected, "portable: {len} values, the largest at {at}");
                if len > 1 {
                    let nan_at = (at + 1) % len;
                    row[nan_at] = f32::NAN;
                    assert_eq!(max_of(&row), max_of_portable(&row), "{len} values with a NaN at {nan_at}");
                }
            }
        }
    }
}

//! The weight packing's AVX-512 loops ([`super::pack::Packer::Avx512`]): the same panels as the
//! plain loops in `pack.rs`, which the tests hold them to.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::kernel::{NR, PANEL_STEP};

/// A Linear panel: for each two rows of `values` (`[k, n]`), columns `first..first + width`
/// widened to int16 and interleaved (row 2s, row 2s + 1), NR columns a step.
///
/// # Safety
/// AVX-512 F, BW and VL; `values` holds whole pairs of rows of `n` values, `first + width <= n`,
/// `width <= NR`, and `panel` a step for each pair of rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn interleave_rows(values: &[i8], n: usize, first: usize, width: usize, panel: &mut [i16]) {
    let mask: __mmask32 = if width == NR { !0 } else { (1u32 << width) - 1 };
    // unpacklo/hi interleave within 128-bit lanes: pairs 0-3, 8-11, ... and 4-7, 12-15, ...;
    // these put the lanes back in column order.
    let first_half = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    let second_half = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (s, step) in panel.chunks_exact_mut(PANEL_STEP).enumerate() {
        let even = values.as_ptr().add(2 * s * n + first);
        let odd = even.add(n);
        let a = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, even));
        let b = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, odd));
        let (lo, hi) = (_mm512_unpacklo_epi16(a, b), _mm512_unpackhi_epi16(a, b));
        _mm512_storeu_si512(step.as_mut_ptr() as *mut _, _mm512_permutex2var_epi64(lo, first_half, hi));
        _mm512_storeu_si512(step.as_mut_ptr().add(32) as *mut _, _mm512_permutex2var_epi64(lo, second_half, hi));
    }
}

/// A 3x3 convolution column's `[cin, 9]` values as `[9, cin]`: 64 channels (576 bytes, nine
/// registers) at a time, each tap's 64 bytes picked out of them by five two-register byte
/// permutations.
///
/// # Safety
/// AVX-512 F, BW and VBMI; `weight` and `row` hold `9 * cin` values, `cin` a multiple of 64.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub unsafe fn taps_first_3x3(weight: &[i8], cin: usize, row: &mut [i8]) {
    let (indices, masks) = tap_tables();
    for c0 in (0..cin).step_by(64) {
        let source = weight.as_ptr().add(c0 * TAPS);
        let mut r = [_mm512_setzero_si512(); 2 * WINDOWS];
        for (m, r) in r.iter_mut().enumerate().take(TAPS) {
            *r = _mm512_loadu_si512(source.add(64 * m) as *const _);
        }
        for tap in 0..TAPS {
            let mut out = _mm512_setzero_si512();
            for w in 0..WINDOWS {
                let index = _mm512_loadu_si512(indices[tap][w].as_ptr() as *const _);
                out = _mm512_or_si512(out, _mm512_maskz_permutex2var_epi8(masks[tap][w], r[2 * w], index, r[2 * w + 1]));
            }
            _mm512_storeu_si512(row.as_mut_ptr().add(tap * cin + c0) as *mut _, out);
        }
    }
}

const TAPS: usize = 9;
/// 128-byte windows over 576 bytes.
const WINDOWS: usize = 5;

type TapTables = ([[[u8; 64]; WINDOWS]; TAPS], [[u64; WINDOWS]; TAPS]);

/// For each tap and window: where in the window channel i's value is (byte 9 i + tap of the
/// 576), and which channels the window holds.
fn tap_tables() -> &'static TapTables {
    static TABLES: OnceLock<TapTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut indices = [[[0u8; 64]; WINDOWS]; TAPS];
        let mut masks = [[0u64; WINDOWS]; TAPS];
        for tap in 0..TAPS {
            for i in 0..64 {
                let byte = TAPS * i + tap;
                indices[tap][byte / 128][i] = (byte % 128) as u8;
                masks[tap][byte / 128] |= 1 << i;
            }
        }
        (indices, masks)
    })
}

/// NR rows of `k` int8 values (`ordered`, one per column) into the panel's `[k / 2, NR]` int16
/// pairs: 16 columns x 16 pairs at a time widened (a 32-bit word is a pair) and transposed.
///
/// # Safety
/// AVX-512 F and BW; `ordered` holds NR rows of `k` values, `k` a multiple of 32; `panel` k * NR.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn widen_columns(ordered: &[i8], k: usize, panel: &mut [i16]) {
    for half in 0..NR / 16 {
        for first_step in (0..k / 2).step_by(16) {
            let mut r: [__m512i; 16] = std::array::from_fn(|j| {
                let source = ordered.as_ptr().add((half * 16 + j) * k + 2 * first_step);
                _mm512_cvtepi8_epi16(_mm256_loadu_si256(source as *const __m256i))
            });
            transpose_16x16(&mut r);
            for (i, step) in r.iter().enumerate() {
                let out = panel.as_mut_ptr().add((first_step + i) * PANEL_STEP + half * 32);
                _mm512_storeu_si512(out as *mut _, *step);
            }
        }
    }
}

/// Transposes 16 rows of 16 32-bit words in registers.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_16x16(r: &mut [__m512i; 16]) {
    let mut t = [_mm512_setzero_si512(); 16];
    for i in (0..16).step_by(2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for i in (0..16).step_by(4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for i in 0..4 {
        t[i] = _mm512_shuffle_i32x4::<0x88>(r[i], r[i + 4]);
        t[i + 4] = _mm512_shuffle_i32x4::<0xdd>(r[i], r[i + 4]);
        t[i + 8] = _mm512_shuffle_i32x4::<0x88>(r[i + 8], r[i + 12]);
        t[i + 12] = _mm512_shuffle_i32x4::<0xdd>(r[i + 8], r[i + 12]);
    }
    for i in 0..8 {
        r[i] = _mm512_shuffle_i32x4::<0x88>(t[i], t[i + 8]);
        r[i + 8] = _mm512_shuffle_i32x4::<0xdd>(t[i], t[i + 8]);
    }
}

//! The weight packing's AVX-512 loops ([`super::pack::Packer::Avx512`]): the same panels as the
//! plain loops in `pack.rs`, which the tests hold them to.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::kernel::{NR, PANEL_STEP, QUAD};

/// A Linear panel: for each four rows of `values` (`[k, n]`), columns `first..first + width`
/// interleaved (rows 4s .. 4s + 3 of a column side by side), NR columns a step.
///
/// # Safety
/// AVX-512 F, BW and VL; `values` holds whole fours of rows of `n` values, `first + width <= n`,
/// `width <= NR`, and `panel` a step for each four rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn interleave_rows(values: &[i8], n: usize, first: usize, width: usize, panel: &mut [i8]) {
    let mask: __mmask32 = if width == NR { !0 } else { (1u32 << width) - 1 };
    for (s, step) in panel.chunks_exact_mut(PANEL_STEP).enumerate() {
        let row = |e: usize| _mm256_maskz_loadu_epi8(mask, values.as_ptr().add((QUAD * s + e) * n + first));
        // Bytes, then byte pairs, interleaved within 128-bit lanes: each register holds columns
        // 4i..4i+3 in its low lane and 16+4i.. in its high one.
        let (ab_lo, ab_hi) = (_mm256_unpacklo_epi8(row(0), row(1)), _mm256_unpackhi_epi8(row(0), row(1)));
        let (cd_lo, cd_hi) = (_mm256_unpacklo_epi8(row(2), row(3)), _mm256_unpackhi_epi8(row(2), row(3)));
        let fours = [
            _mm256_unpacklo_epi16(ab_lo, cd_lo),
            _mm256_unpackhi_epi16(ab_lo, cd_lo),
            _mm256_unpacklo_epi16(ab_hi, cd_hi),
            _mm256_unpackhi_epi16(ab_hi, cd_hi),
        ];
        let out = step.as_mut_ptr() as *mut __m256i;
        _mm256_storeu_si256(out, _mm256_permute2x128_si256::<0x20>(fours[0], fours[1]));
        _mm256_storeu_si256(out.add(1), _mm256_permute2x128_si256::<0x20>(fours[2], fours[3]));
        _mm256_storeu_si256(out.add(2), _mm256_permute2x128_si256::<0x31>(fours[0], fours[1]));
        _mm256_storeu_si256(out.add(3), _mm256_permute2x128_si256::<0x31>(fours[2], fours[3]));
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

/// NR rows of `k` int8 values (`ordered`, one per column) into the panel's `[k / 4, NR]` fours:
/// 16 columns x 16 fours at a time (a 32-bit word is a four) transposed.
///
/// # Safety
/// AVX-512 F; `ordered` holds NR rows of `k` values, `k` a multiple of 64; `panel` k * NR.
#[target_feature(enable = "avx512f")]
pub unsafe fn transpose_columns(ordered: &[i8], k: usize, panel: &mut [i8]) {
    for half in 0..NR / 16 {
        for first_step in (0..k / QUAD).step_by(16) {
            let mut r: [__m512i; 16] = std::array::from_fn(|j| {
                let source = ordered.as_ptr().add((half * 16 + j) * k + QUAD * first_step);
                _mm512_loadu_si512(source as *const _)
            });
            transpose_16x16(&mut r);
            for (i, step) in r.iter().enumerate() {
                let out = panel.as_mut_ptr().add((first_step + i) * PANEL_STEP + half * 64);
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

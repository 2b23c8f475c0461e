//! The inner loop: a 6x32 tile of the output, one 64-value block of the reduction at a time.
//! The same packed operands go through AVX-512 VNNI where the CPU has it and through plain Rust
//! elsewhere (older x86, Jetson's ARM cores), so both paths give the same picture.

use std::sync::OnceLock;

use super::pack::BLOCK;

/// Rows of the output tile (activation rows per call).
pub const MR: usize = 6;
/// Columns of the output tile (one packed weight panel: two 16-lane vectors).
pub const NR: usize = 32;
/// Bytes of one packed panel per 4 reduction values: 32 columns x 4 values.
pub const PANEL_STEP: usize = NR * 4;

/// Which inner loop runs the int8 products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 VNNI (`vpdpbusd`): Intel since Cascade Lake / Ice Lake, AMD since Zen 4.
    Vnni,
    /// Plain Rust, vectorised by the compiler for whatever the CPU has.
    Portable,
}

impl Kernel {
    /// The fastest this CPU runs; `KEEPSAKE_INT8_KERNEL=portable` forces the plain-Rust loop (to
    /// compare, or on a CPU that misreports its features).
    pub fn detect() -> Self {
        static CHOSEN: OnceLock<Kernel> = OnceLock::new();
        *CHOSEN.get_or_init(|| match std::env::var("KEEPSAKE_INT8_KERNEL").as_deref() {
            Ok("portable") => Self::Portable,
            _ if Self::Vnni.available() => Self::Vnni,
            _ => Self::Portable,
        })
    }

    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        match self {
            Self::Vnni => vnni_available(),
            Self::Portable => true,
        }
    }

    /// For `keepsake doctor` and the bench.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Vnni => "int8 AVX-512 VNNI (vpdpbusd)",
            Self::Portable => "int8 portable (plain Rust; no AVX-512 VNNI on this CPU)",
        }
    }

    /// Adds one tile's products over `blocks` blocks of the reduction to `c` (MR rows of NR
    /// floats, `ldc` apart).
    ///
    /// `a`: MR rows of unsigned activations (int8 + 128), `lda` bytes apart; `a_scales`: one per
    /// row and block, `ldas` apart. `b`: the panel's values from this block on; `b_scales` and
    /// `b_offsets` (128 x the block's column sums, which undo the +128) likewise.
    ///
    /// # Safety
    /// Every pointer must cover what the shapes above say.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile(
        self,
        a: *const u8,
        lda: usize,
        a_scales: *const f32,
        ldas: usize,
        b: *const i8,
        b_scales: *const f32,
        b_offsets: *const i32,
        blocks: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Vnni => tile_vnni(a, lda, a_scales, ldas, b, b_scales, b_offsets, blocks, c, ldc),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Vnni => unreachable!("VNNI is never detected off x86-64"),
            Self::Portable => tile_portable(a, lda, a_scales, ldas, b, b_scales, b_offsets, blocks, c, ldc),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn vnni_available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
fn vnni_available() -> bool {
    false
}

#[allow(clippy::too_many_arguments)]
unsafe fn tile_portable(
    a: *const u8,
    lda: usize,
    a_scales: *const f32,
    ldas: usize,
    b: *const i8,
    b_scales: *const f32,
    b_offsets: *const i32,
    blocks: usize,
    c: *mut f32,
    ldc: usize,
) {
    let steps = BLOCK / 4;
    for blk in 0..blocks {
        let panel = std::slice::from_raw_parts(b.add(blk * steps * PANEL_STEP), steps * PANEL_STEP);
        let sw = std::slice::from_raw_parts(b_scales.add(blk * NR), NR);
        let offsets = std::slice::from_raw_parts(b_offsets.add(blk * NR), NR);
        for r in 0..MR {
            let row = std::slice::from_raw_parts(a.add(r * lda + blk * BLOCK), BLOCK);
            let mut sums = [0i32; NR];
            for (s, values) in row.chunks_exact(4).enumerate() {
                let step = &panel[s * PANEL_STEP..(s + 1) * PANEL_STEP];
                for (j, sum) in sums.iter_mut().enumerate() {
                    let w = &step[j * 4..j * 4 + 4];
                    *sum += values[0] as i32 * w[0] as i32
                        + values[1] as i32 * w[1] as i32
                        + values[2] as i32 * w[2] as i32
                        + values[3] as i32 * w[3] as i32;
                }
            }
            let sx = *a_scales.add(r * ldas + blk);
            let out = std::slice::from_raw_parts_mut(c.add(r * ldc), NR);
            for j in 0..NR {
                out[j] += (sums[j] - offsets[j]) as f32 * (sx * sw[j]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_vnni(
    a: *const u8,
    lda: usize,
    a_scales: *const f32,
    ldas: usize,
    b: *const i8,
    b_scales: *const f32,
    b_offsets: *const i32,
    blocks: usize,
    c: *mut f32,
    ldc: usize,
) {
    use std::arch::x86_64::*;
    let steps = BLOCK / 4;
    let mut f = [[_mm512_setzero_ps(); 2]; MR];
    for (r, row) in f.iter_mut().enumerate() {
        row[0] = _mm512_loadu_ps(c.add(r * ldc));
        row[1] = _mm512_loadu_ps(c.add(r * ldc + 16));
    }
    for blk in 0..blocks {
        let mut acc = [[_mm512_setzero_si512(); 2]; MR];
        let panel = b.add(blk * steps * PANEL_STEP);
        let rows = a.add(blk * BLOCK);
        for s in 0..steps {
            let b0 = _mm512_loadu_si512(panel.add(s * PANEL_STEP) as *const _);
            let b1 = _mm512_loadu_si512(panel.add(s * PANEL_STEP + 64) as *const _);
            for (r, acc) in acc.iter_mut().enumerate() {
                let four = (rows.add(r * lda + s * 4) as *const i32).read_unaligned();
                let av = _mm512_set1_epi32(four);
                acc[0] = _mm512_dpbusd_epi32(acc[0], av, b0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], av, b1);
            }
        }
        let sw0 = _mm512_loadu_ps(b_scales.add(blk * NR));
        let sw1 = _mm512_loadu_ps(b_scales.add(blk * NR + 16));
        let o0 = _mm512_loadu_si512(b_offsets.add(blk * NR) as *const _);
        let o1 = _mm512_loadu_si512(b_offsets.add(blk * NR + 16) as *const _);
        for (r, (acc, f)) in acc.iter().zip(f.iter_mut()).enumerate() {
            let sx = _mm512_set1_ps(*a_scales.add(r * ldas + blk));
            f[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[0], o0)), _mm512_mul_ps(sx, sw0), f[0]);
            f[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[1], o1)), _mm512_mul_ps(sx, sw1), f[1]);
        }
    }
    for (r, row) in f.iter().enumerate() {
        _mm512_storeu_ps(c.add(r * ldc), row[0]);
        _mm512_storeu_ps(c.add(r * ldc + 16), row[1]);
    }
}

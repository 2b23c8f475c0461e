//! The inner loop: a 6x32 tile of the output, one 64-value block of the reduction at a time,
//! unsigned int8 activations (with a zero point) times int8 weights summed exactly in i32. The
//! same packed operands go through AVX-512 VNNI where the CPU has it and through plain Rust
//! elsewhere (older x86, Jetson's ARM cores), so both paths give the same picture.

use std::sync::OnceLock;

/// Values per scale along the reduction axis, for weights and activations alike (the booth
/// file's int8 block); the kernel's inner loop runs over one block.
pub const BLOCK: usize = 64;
/// Rows of the output tile (activation rows per call).
pub const MR: usize = 6;
/// Columns of the output tile (one packed weight panel: two 16-lane vectors).
pub const NR: usize = 32;
/// Reduction values per multiply-add step (`vpdpbusd` sums four products per lane).
pub const QUAD: usize = 4;
/// Values of one packed panel per step: 32 columns x 4 values.
pub const PANEL_STEP: usize = NR * QUAD;

/// Which inner loop runs the int8 products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 VNNI (`vpdpbusd`: 64 multiply-adds an instruction, four times f32's FMA): Intel
    /// since Cascade Lake, AMD since Zen 4.
    Vnni,
    /// Arm's dot product (`sdot`, 16 multiply-adds an instruction on 128-bit NEON): Jetson Orin's
    /// Cortex-A78AE, every Armv8.4 core and many Armv8.2 ones.
    Dotprod,
    /// Plain Rust, vectorised by the compiler for whatever the CPU has.
    Portable,
}

impl Kernel {
    /// The fastest this CPU runs; `KEEPSAKE_INT8_KERNEL=portable` forces the plain-Rust loop (to
    /// compare, or on a CPU that misreports its features); `auto` or unset chooses.
    pub fn detect() -> Self {
        static CHOSEN: OnceLock<Kernel> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let forced = std::env::var("KEEPSAKE_INT8_KERNEL").ok();
            match forced.as_deref() {
                Some("portable") => return Self::Portable,
                None | Some("") | Some("auto") => {}
                Some(other) => tracing::warn!("KEEPSAKE_INT8_KERNEL={other:?} is not a choice (auto or portable): using auto"),
            }
            Self::fastest()
        })
    }

    /// The fastest kernel this CPU can run, whatever the environment says.
    pub fn fastest() -> Self {
        [Self::Vnni, Self::Dotprod].into_iter().find(|k| k.available()).unwrap_or(Self::Portable)
    }

    /// Whether this CPU can run it.
    pub fn available(self) -> bool {
        match self {
            Self::Vnni => vnni_available(),
            Self::Dotprod => super::dotprod::available(),
            Self::Portable => true,
        }
    }

    /// For `keepsake doctor` and the bench.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Vnni => "int8 weights and activations on AVX-512 VNNI (vpdpbusd)",
            Self::Dotprod => "int8 weights and activations on Arm's dot product (sdot)",
            Self::Portable => "int8 weights and activations on the portable kernel (plain Rust)",
        }
    }

    /// Adds one tile's products to its output (see [`Tile`]).
    ///
    /// # Safety
    /// Every pointer of `t` must cover what [`Tile`] says.
    pub unsafe fn tile(self, t: Tile) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Vnni => tile_vnni(t),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Vnni => unreachable!("VNNI is never detected off x86-64"),
            #[cfg(target_arch = "aarch64")]
            Self::Dotprod => super::dotprod::tile(t),
            #[cfg(not(target_arch = "aarch64"))]
            Self::Dotprod => unreachable!("Arm's dot product is never detected off aarch64"),
            Self::Portable => tile_portable(t),
        }
    }
}

/// One kernel call: the products of MR activation rows and one weight panel over `blocks` blocks
/// of the reduction, added to `c` (MR rows of NR floats, `ldc` apart). A block adds
/// `a_scale * b_scale * (sum(a * b) - a_zero * sum(b))` to each output: the activations stand for
/// `a_scale * (a - a_zero)`.
pub struct Tile {
    /// MR rows of unsigned activations, `lda` values apart.
    pub a: *const u8,
    pub lda: usize,
    /// One scale and one zero point per row and block, `ldas` apart.
    pub a_scales: *const f32,
    pub a_zeros: *const i32,
    pub ldas: usize,
    /// The panel's values from the first block on, its scales and its column sums (NR per block).
    pub b: *const i8,
    pub b_scales: *const f32,
    pub b_sums: *const i32,
    pub blocks: usize,
    pub c: *mut f32,
    pub ldc: usize,
}

#[cfg(target_arch = "x86_64")]
fn vnni_available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
fn vnni_available() -> bool {
    false
}

unsafe fn tile_portable(Tile { a, lda, a_scales, a_zeros, ldas, b, b_scales, b_sums, blocks, c, ldc }: Tile) {
    let steps = BLOCK / QUAD;
    for blk in 0..blocks {
        let panel = std::slice::from_raw_parts(b.add(blk * steps * PANEL_STEP), steps * PANEL_STEP);
        let sw = std::slice::from_raw_parts(b_scales.add(blk * NR), NR);
        let column_sums = std::slice::from_raw_parts(b_sums.add(blk * NR), NR);
        for r in 0..MR {
            let row = std::slice::from_raw_parts(a.add(r * lda + blk * BLOCK), BLOCK);
            let mut sums = [0i32; NR];
            for (s, four) in row.chunks_exact(QUAD).enumerate() {
                let step = &panel[s * PANEL_STEP..(s + 1) * PANEL_STEP];
                for (sum, w) in sums.iter_mut().zip(step.chunks_exact(QUAD)) {
                    *sum += four.iter().zip(w).map(|(x, w)| *x as i32 * *w as i32).sum::<i32>();
                }
            }
            let (sx, zero) = (*a_scales.add(r * ldas + blk), *a_zeros.add(r * ldas + blk));
            let out = std::slice::from_raw_parts_mut(c.add(r * ldc), NR);
            for j in 0..NR {
                out[j] += (sums[j] - zero * column_sums[j]) as f32 * (sx * sw[j]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_vnni(Tile { a, lda, a_scales, a_zeros, ldas, b, b_scales, b_sums, blocks, c, ldc }: Tile) {
    use std::arch::x86_64::*;
    let steps = BLOCK / QUAD;
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
                let four = (rows.add(r * lda + s * QUAD) as *const i32).read_unaligned();
                let av = _mm512_set1_epi32(four);
                acc[0] = dpbusd(acc[0], av, b0);
                acc[1] = dpbusd(acc[1], av, b1);
            }
        }
        let sw0 = _mm512_loadu_ps(b_scales.add(blk * NR));
        let sw1 = _mm512_loadu_ps(b_scales.add(blk * NR + 16));
        let cs0 = _mm512_loadu_si512(b_sums.add(blk * NR) as *const _);
        let cs1 = _mm512_loadu_si512(b_sums.add(blk * NR + 16) as *const _);
        for (r, (acc, f)) in acc.iter().zip(f.iter_mut()).enumerate() {
            let sx = _mm512_set1_ps(*a_scales.add(r * ldas + blk));
            let zero = _mm512_set1_epi32(*a_zeros.add(r * ldas + blk));
            let exact0 = _mm512_sub_epi32(acc[0], _mm512_mullo_epi32(zero, cs0));
            let exact1 = _mm512_sub_epi32(acc[1], _mm512_mullo_epi32(zero, cs1));
            f[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact0), _mm512_mul_ps(sx, sw0), f[0]);
            f[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact1), _mm512_mul_ps(sx, sw1), f[1]);
        }
    }
    for (r, row) in f.iter().enumerate() {
        _mm512_storeu_ps(c.add(r * ldc), row[0]);
        _mm512_storeu_ps(c.add(r * ldc + 16), row[1]);
    }
}

/// `acc + a . b`, four unsigned-by-signed byte products a lane: one `vpdpbusd`. Written as the
/// instruction: through the intrinsic, LLVM's generic x86-64 tuning may split VNNI products into
/// two instructions (it did for `vpdpwssd`, halving the kernel's rate).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dpbusd(
    acc: std::arch::x86_64::__m512i,
    a: std::arch::x86_64::__m512i,
    b: std::arch::x86_64::__m512i,
) -> std::arch::x86_64::__m512i {
    let mut acc = acc;
    std::arch::asm!(
        "vpdpbusd {acc}, {a}, {b}",
        acc = inout(zmm_reg) acc,
        a = in(zmm_reg) a,
        b = in(zmm_reg) b,
        options(pure, nomem, nostack, preserves_flags),
    );
    acc
}

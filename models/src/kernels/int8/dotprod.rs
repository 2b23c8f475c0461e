//! The inner loop on Arm ([`super::Kernel::Dotprod`]): the same tile and packed operands as the
//! VNNI loop, on 128-bit NEON with `sdot` (signed bytes by signed bytes, four products a lane).
//! The activations are unsigned bytes with a zero point; flipping their top bit makes them
//! `byte - 128` as signed bytes, so each block takes `(zero - 128) * sum(weights)` back out
//! instead of `zero * sum(weights)`. Eight columns at a time: 12 accumulators, 2 weight vectors
//! and 6 activation vectors stay in NEON's 32 registers.

#[cfg(target_arch = "aarch64")]
pub use arm::tile;

/// Whether this CPU has Arm's dot-product instructions.
pub fn available() -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        false
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    use super::super::kernel::{Tile, BLOCK, MR, NR, PANEL_STEP, QUAD};

    /// Columns per pass over the tile's rows.
    const COLUMNS: usize = 8;

    /// Adds one tile's products to its output, as [`super::super::Kernel::tile`] says.
    ///
    /// # Safety
    /// The CPU has `dotprod`; every pointer of the tile covers what [`Tile`] says.
    #[target_feature(enable = "neon,dotprod")]
    pub unsafe fn tile(Tile { a, lda, a_scales, a_zeros, ldas, b, b_scales, b_sums, blocks, c, ldc }: Tile) {
        let steps = BLOCK / QUAD;
        let flip = vdupq_n_u8(0x80);
        for first_column in (0..NR).step_by(COLUMNS) {
            let mut f = [[vdupq_n_f32(0.0); 2]; MR];
            for (r, row) in f.iter_mut().enumerate() {
                row[0] = vld1q_f32(c.add(r * ldc + first_column));
                row[1] = vld1q_f32(c.add(r * ldc + first_column + 4));
            }
            for blk in 0..blocks {
                let mut acc = [[vdupq_n_s32(0); 2]; MR];
                let panel = b.add(blk * steps * PANEL_STEP + first_column * QUAD);
                for first_step in (0..steps).step_by(4) {
                    // Four steps of each row: 16 activation bytes, one `sdot` lane a step.
                    let x: [int8x16_t; MR] = std::array::from_fn(|r| {
                        let bytes = vld1q_u8(a.add(r * lda + blk * BLOCK + first_step * QUAD));
                        vreinterpretq_s8_u8(veorq_u8(bytes, flip))
                    });
                    macro_rules! step {
                        ($lane:literal) => {
                            let at = panel.add((first_step + $lane) * PANEL_STEP);
                            let (w0, w1) = (vld1q_s8(at), vld1q_s8(at.add(16)));
                            for (acc, x) in acc.iter_mut().zip(&x) {
                                acc[0] = sdot_lane::<$lane>(acc[0], w0, *x);
                                acc[1] = sdot_lane::<$lane>(acc[1], w1, *x);
                            }
                        };
                    }
                    step!(0);
                    step!(1);
                    step!(2);
                    step!(3);
                }
                let at = blk * NR + first_column;
                let sw = [vld1q_f32(b_scales.add(at)), vld1q_f32(b_scales.add(at + 4))];
                let sums = [vld1q_s32(b_sums.add(at)), vld1q_s32(b_sums.add(at + 4))];
                for (r, (acc, f)) in acc.iter().zip(f.iter_mut()).enumerate() {
                    let sx = vdupq_n_f32(*a_scales.add(r * ldas + blk));
                    let zero = vdupq_n_s32(*a_zeros.add(r * ldas + blk) - 128);
                    for v in 0..2 {
                        let exact = vmlsq_s32(acc[v], zero, sums[v]);
                        f[v] = vfmaq_f32(f[v], vcvtq_f32_s32(exact), vmulq_f32(sx, sw[v]));
                    }
                }
            }
            for (r, row) in f.iter().enumerate() {
                vst1q_f32(c.add(r * ldc + first_column), row[0]);
                vst1q_f32(c.add(r * ldc + first_column + 4), row[1]);
            }
        }
    }

    /// `acc + w . x[LANE]`: each 32-bit lane of `acc` gains the dot product of its four bytes of
    /// `w` with the four bytes of `x`'s lane LANE. One `sdot` (by element), written as the
    /// instruction so it does not depend on the intrinsics' stabilisation.
    #[inline]
    #[target_feature(enable = "neon,dotprod")]
    unsafe fn sdot_lane<const LANE: i32>(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
        let mut acc = acc;
        std::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {x:v}.4b[{lane}]",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            x = in(vreg) x,
            lane = const LANE,
            options(pure, nomem, nostack, preserves_flags),
        );
        acc
    }
}

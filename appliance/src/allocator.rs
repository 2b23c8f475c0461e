//! glibc malloc settings for a long-running booth on a small box.
//!
//! The diffusion steps allocate and free buffers of tens of MB (im2col matrices, one layer's
//! dequantised weight) from several threads. By default glibc raises its mmap threshold after such
//! a buffer is freed, so later ones come from per-thread heaps that keep their pages: resident
//! memory creeps up. A fixed 1 MiB threshold (large buffers always mapped and returned) and two
//! arenas cut the int8 UNet step's peak from 1515 to 1432 MiB and made it a little faster
//! (docs/BENCHMARKS.md).

/// Applies the settings; call first thing in `main`, before other threads exist.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

//! Memory for a long-running booth on a small box: glibc's malloc with fixed settings, and a small
//! cache of freed large buffers in front of it.
//!
//! The diffusion steps allocate and free buffers of 1-100 MB (a layer's output, a block of
//! attention scores, a GEGLU's projection) from several threads, thousands a step. By default
//! glibc raises its mmap threshold after such a buffer is freed, so later ones come from per-thread
//! heaps that keep their pages: resident memory creeps up. A fixed 1 MiB threshold (large buffers
//! always mapped and returned) and two arenas keep it flat, but then every large buffer is mapped
//! afresh and its first write faults each 4 KiB page in and zeroes it: 0.96 M faults (3.8 GB) an
//! int8 UNet step at 512x512, 18% of its time in the kernel (docs/BENCHMARKS.md, fifth round).
//!
//! [`Recycling`] keeps the most recently freed large buffers, at most [`KEEP_BYTES`] of them, and
//! hands one back when a buffer of the same size class is asked for: the next layer's output of
//! the same shape lands in pages already mapped. The cache is bounded, so resident memory stays
//! within the issue-18 budget; everything else goes straight to glibc.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Applies glibc's settings and the cache's budget (`KEEPSAKE_HEAP_CACHE_MB`, default
/// [`KEEP_BYTES`]; 0 turns the cache off); call first thing in `main`, before other threads exist.
pub fn tune(heap: &Recycling) -> Result<(), String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    match std::env::var("KEEPSAKE_HEAP_CACHE_MB") {
        Err(_) => Ok(()),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(mb) if mb <= 4096 => {
                heap.set_budget(mb << 20);
                Ok(())
            }
            _ => Err(format!(
                "KEEPSAKE_HEAP_CACHE_MB={text:?} is not a number of MiB from 0 to 4096 (fix: unset it for the default of {}, or 0 to turn the cache of freed buffers off)",
                KEEP_BYTES >> 20
            )),
        },
    }
}

/// Buffers from this size on are cached when freed (and mapped by glibc, see [`tune`]).
pub const LARGE: usize = 1 << 20;
/// The most freed memory the cache keeps resident by default. The booth recipe peaks at 1.32 GB
/// without the cache and its budget is 1.5 GB (docs/BENCHMARKS.md, fifth round).
pub const KEEP_BYTES: usize = 96 << 20;
/// Cached buffers at most (a linear search under the lock).
const SLOTS: usize = 24;
const PAGE: usize = 4096;
/// A reused buffer's unused end from this size on goes back to the kernel: any whole page, since
/// long-lived buffers (a layer's weights, loaded after larger temporaries were freed) would keep
/// their unused ends resident for good; a system call costs microseconds, a reuse saves milliseconds.
const TAIL_WORTH_RETURNING: usize = PAGE;

/// The global allocator of the booth binary: glibc, with freed large buffers kept for reuse.
pub struct Recycling {
    cache: Mutex<Cache>,
    budget: AtomicUsize,
}

impl Recycling {
    pub const fn new() -> Self {
        Self { cache: Mutex::new(Cache { slots: [Slot::EMPTY; SLOTS], len: 0, bytes: 0 }), budget: AtomicUsize::new(KEEP_BYTES) }
    }

    /// At most `bytes` of freed buffers kept from now on (0: none).
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    /// How many buffers the cache holds, and their bytes.
    pub fn cached(&self) -> (usize, usize) {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        (cache.len, cache.bytes)
    }

    /// A cached buffer for `layout` (its size class and alignment), if there is one. The pages
    /// past the request's end that an earlier, larger user wrote are handed back to the kernel,
    /// so a buffer is never resident beyond what its user asked for.
    fn reuse(&self, layout: Layout) -> Option<*mut u8> {
        let class = size_class(layout.size());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let ptr = cache.take(class, layout.align())?;
        drop(cache);
        let (start, end) = ((ptr as usize + layout.size()).next_multiple_of(PAGE), (ptr as usize + class) / PAGE * PAGE);
        #[cfg(target_os = "linux")]
        if end >= start + TAIL_WORTH_RETURNING {
            // SAFETY: whole pages inside this buffer, past what its new user may read or write;
            // MADV_DONTNEED leaves them mapped (they read as zeros if touched again).
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
        Some(ptr)
    }
}

impl Default for Recycling {
    fn default() -> Self {
        Self::new()
    }
}

/// The size a large buffer is really allocated with: rounded up to a sixteenth of the power of two
/// above it (at most an eighth more, and pages never written are never resident), so that layers
/// whose outputs differ by a few rows still share buffers.
pub fn size_class(size: usize) -> usize {
    let granule = (size.next_power_of_two() / 16).max(PAGE);
    size.div_ceil(granule) * granule
}

#[derive(Clone, Copy)]
struct Slot {
    class: usize,
    align: usize,
    ptr: *mut u8,
}

impl Slot {
    const EMPTY: Slot = Slot { class: 0, align: 0, ptr: std::ptr::null_mut() };
}

/// Oldest first.
struct Cache {
    slots: [Slot; SLOTS],
    len: usize,
    bytes: usize,
}

// SAFETY: the pointers are owned buffers nobody else holds while they are cached.
unsafe impl Send for Cache {}

impl Cache {
    fn take(&mut self, class: usize, align: usize) -> Option<*mut u8> {
        // The most recently freed match: its pages are the likeliest to be in the caches.
        let i = (0..self.len).rev().find(|i| self.slots[*i].class == class && self.slots[*i].align == align)?;
        let slot = self.slots[i];
        self.slots.copy_within(i + 1..self.len, i);
        self.len -= 1;
        self.bytes -= slot.class;
        Some(slot.ptr)
    }

    /// Keeps `slot`, first pushing out the oldest buffers until it fits; returns what must be
    /// freed (the pushed-out ones, or `slot` itself when it is larger than the whole cache).
    fn keep(&mut self, slot: Slot, budget: usize, evicted: &mut Evicted) {
        if slot.class > budget {
            evicted.push(slot);
            return;
        }
        let mut drop_front = 0;
        while self.len - drop_front == SLOTS || self.bytes + slot.class > budget {
            let old = self.slots[drop_front];
            self.bytes -= old.class;
            evicted.push(old);
            drop_front += 1;
        }
        self.slots.copy_within(drop_front..self.len, 0);
        self.len -= drop_front;
        self.slots[self.len] = slot;
        self.len += 1;
        self.bytes += slot.class;
    }
}

/// Buffers to free once the lock is let go: at most every slot, or the one given back. A plain
/// array, since the allocator must not allocate on its own behalf.
struct Evicted {
    slots: [Slot; SLOTS],
    len: usize,
}

impl Evicted {
    fn push(&mut self, slot: Slot) {
        self.slots[self.len] = slot;
        self.len += 1;
    }
}

// SAFETY: small requests go to System unchanged; a large one is System's buffer of its size class
// (at least the size asked, the alignment asked), given back to System with that same layout, or
// kept whole in the cache and handed out only to a request of the same class and alignment.
unsafe impl GlobalAlloc for Recycling {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() < LARGE {
            return System.alloc(layout);
        }
        match self.reuse(layout) {
            Some(ptr) => ptr,
            None => System.alloc(Layout::from_size_align_unchecked(size_class(layout.size()), layout.align())),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < LARGE {
            return System.alloc_zeroed(layout);
        }
        match self.reuse(layout) {
            Some(ptr) => {
                ptr.write_bytes(0, layout.size());
                ptr
            }
            // Freshly mapped pages are zero already: calloc does not write them.
            None => System.alloc_zeroed(Layout::from_size_align_unchecked(size_class(layout.size()), layout.align())),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() < LARGE {
            return System.dealloc(ptr, layout);
        }
        let slot = Slot { class: size_class(layout.size()), align: layout.align(), ptr };
        let mut evicted = Evicted { slots: [Slot::EMPTY; SLOTS], len: 0 };
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.keep(slot, self.budget.load(Ordering::Relaxed), &mut evicted);
        }
        for old in &evicted.slots[..evicted.len] {
            System.dealloc(old.ptr, Layout::from_size_align_unchecked(old.class, old.align));
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Sizes as glibc holds them; within a class the buffer already fits. Across classes glibc
        // resizes (a mapped buffer is moved by mremap, never copied: a Vec doubling to hundreds of
        // MB while a model loads is never resident twice).
        let held = |size: usize| if size >= LARGE { size_class(size) } else { size };
        let (old, new) = (held(layout.size()), held(new_size));
        if layout.size() >= LARGE && old == new {
            return ptr;
        }
        System.realloc(ptr, Layout::from_size_align_unchecked(old, layout.align()), new)
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::{size_class, Recycling, KEEP_BYTES, LARGE};

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 64).unwrap()
    }

    #[test]
    fn size_classes_round_up_by_at_most_an_eighth() {
        for size in [LARGE, LARGE + 1, 3 * LARGE + 12345, 84 << 20, (84 << 20) + 4096] {
            let class = size_class(size);
            assert!(class >= size && class - size <= size / 8 + 4096, "{size} -> {class}");
            assert_eq!(size_class(class), class, "a class is its own class");
        }
        // Two outputs a few rows apart share a class.
        assert_eq!(size_class(10_485_760), size_class(10_485_760 - 5 * 1280 * 4));
        assert_ne!(size_class(10_485_760), size_class(10_485_760 / 2), "half the size, another class");
    }

    #[test]
    fn a_freed_large_buffer_is_reused_zeroed_and_small_ones_are_not_cached() {
        let heap = Recycling::new();
        unsafe {
            let first = heap.alloc(layout(3 << 20));
            first.write_bytes(0xAB, 3 << 20);
            heap.dealloc(first, layout(3 << 20));
            assert_eq!(heap.cached(), (1, size_class(3 << 20)));
            // A slightly smaller request of the same class gets the same buffer, zeroed.
            let again = heap.alloc_zeroed(layout((3 << 20) - 1000));
            assert_eq!(again, first);
            assert_eq!(heap.cached(), (0, 0));
            let bytes = std::slice::from_raw_parts(again, (3 << 20) - 1000);
            assert!(bytes.iter().all(|b| *b == 0));
            heap.dealloc(again, layout((3 << 20) - 1000));
            // Another class, or another alignment, does not take it.
            let other = heap.alloc(layout(6 << 20));
            assert_ne!(other, first);
            let aligned = heap.alloc(Layout::from_size_align(3 << 20, 4096).unwrap());
            assert_ne!(aligned, first);
            heap.dealloc(aligned, Layout::from_size_align(3 << 20, 4096).unwrap());
            heap.dealloc(other, layout(6 << 20));
            let small = heap.alloc(layout(LARGE - 64));
            heap.dealloc(small, layout(LARGE - 64));
            assert_eq!(heap.cached().0, 3);
        }
    }

    #[test]
    fn the_cache_never_holds_more_than_its_budget_and_forgets_the_oldest() {
        let heap = Recycling::new();
        let size = 40 << 20;
        unsafe {
            let buffers: Vec<*mut u8> = (0..5).map(|_| heap.alloc(layout(size))).collect();
            for b in &buffers {
                heap.dealloc(*b, layout(size));
                assert!(heap.cached().1 <= KEEP_BYTES);
            }
            let kept = KEEP_BYTES / size_class(size);
            assert_eq!(heap.cached(), (kept, kept * size_class(size)));
            // The newest are the ones kept: the next request gets the last freed.
            let next = heap.alloc(layout(size));
            assert_eq!(next, buffers[4]);
            heap.dealloc(next, layout(size));
            // Larger than the whole cache: freed at once, nothing pushed out.
            let huge = heap.alloc(layout(KEEP_BYTES + 1));
            heap.dealloc(huge, layout(KEEP_BYTES + 1));
            assert_eq!(heap.cached().0, kept);
        }
    }

    #[test]
    fn a_reused_buffer_gives_its_unused_end_back_and_a_zero_budget_keeps_nothing() {
        let heap = Recycling::new();
        let (size, smaller) = (5 << 20, (5 << 20) - (500 << 10));
        assert_eq!(size_class(size), size_class(smaller));
        unsafe {
            let first = heap.alloc(layout(size));
            first.write_bytes(0xAB, size);
            heap.dealloc(first, layout(size));
            let again = heap.alloc(layout(smaller));
            assert_eq!(again, first);
            // The earlier user's pages past the new end were returned: they read as fresh zero
            // pages (the buffer starts inside a page, glibc's header before it).
            let first_free_page = (again as usize + smaller).next_multiple_of(4096) - again as usize;
            let unused = std::slice::from_raw_parts(again.add(first_free_page), 4096);
            assert!(unused.iter().all(|b| *b == 0), "the unused end is still the old contents");
            let kept = std::slice::from_raw_parts(again, smaller);
            assert!(kept.iter().all(|b| *b == 0xAB), "alloc (not zeroed) kept the contents it may");
            heap.dealloc(again, layout(smaller));

            heap.set_budget(0);
            let other = heap.alloc(layout(size));
            heap.dealloc(other, layout(size));
            assert_eq!(heap.cached(), (0, 0), "a zero budget pushes everything out");
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_sizes() {
        let heap = Recycling::new();
        unsafe {
            let mut size = 1000;
            let mut ptr = heap.alloc(layout(size));
            ptr.write_bytes(7, size);
            // Small to large, within a class, to another class, and back to small.
            for new_size in [2 << 20, (2 << 20) + 100, 9 << 20, 500] {
                let moved = heap.realloc(ptr, layout(size), new_size);
                let same_class = size >= LARGE && new_size >= LARGE && size_class(size) == size_class(new_size);
                // (glibc may grow a mapping in place too, so only this way round is certain.)
                assert!(!same_class || moved == ptr, "{size} -> {new_size}: a buffer that fits was moved");
                let kept = std::slice::from_raw_parts(moved, size.min(new_size));
                assert!(kept[..1000.min(new_size)].iter().all(|b| *b == 7), "{size} -> {new_size}");
                if new_size > size {
                    moved.add(size).write_bytes(7, new_size - size);
                }
                (ptr, size) = (moved, new_size);
            }
            heap.dealloc(ptr, layout(size));
        }
    }
}

//! Buffers kept per thread between layers. The booth's allocator hands anything over 1 MiB back
//! to the kernel when freed, past a small cache (appliance/src/allocator.rs), so a packed weight
//! or a task's rows allocated afresh per layer cost a page fault per 4 KiB each time: 8% of a UNet
//! step, measured.

use std::cell::RefCell;

/// A kind of value a thread keeps spare buffers of, up to `KEEP` of them (what a thread needs at a
/// time: a task's rows, scales, zero points and output; a packed weight's values, scales and sums).
pub trait Spare: Copy + Default + 'static {
    const KEEP: usize;
    fn with_spares<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R;
}

macro_rules! spare {
    ($t:ty, $keep:expr, $name:ident) => {
        thread_local! {
            static $name: RefCell<Vec<Vec<$t>>> = const { RefCell::new(Vec::new()) };
        }
        impl Spare for $t {
            const KEEP: usize = $keep;
            fn with_spares<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
                $name.with(|s| f(&mut s.borrow_mut()))
            }
        }
    };
}

spare!(u8, 1, SPARE_U8);
spare!(i8, 1, SPARE_I8);
spare!(i32, 2, SPARE_I32);
spare!(f32, 3, SPARE_F32);

/// A zeroed buffer of `len`, reusing one this thread gave back.
pub fn take<T: Spare>(len: usize) -> Vec<T> {
    let mut v = T::with_spares(|s| s.pop()).unwrap_or_default();
    v.clear();
    v.resize(len, T::default());
    v
}

/// Keeps `v` for this thread's next [`take`] of its kind.
pub fn give<T: Spare>(v: Vec<T>) {
    T::with_spares(|s| {
        if s.len() < T::KEEP {
            s.push(v);
        }
    });
}

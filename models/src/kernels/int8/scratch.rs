//! Buffers kept per thread between layers. The booth's allocator hands anything over 1 MiB back
//! to the kernel when freed (appliance/src/allocator.rs), so a packed weight or a task's rows
//! allocated afresh per layer cost a page fault per 4 KiB each time: 8% of a UNet step, measured.

use std::cell::RefCell;

thread_local! {
    static SPARE_I16: RefCell<Vec<Vec<i16>>> = const { RefCell::new(Vec::new()) };
    static SPARE_F32: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A zeroed buffer of `len`, reusing one this thread gave back.
pub fn take_i16(len: usize) -> Vec<i16> {
    let mut v = SPARE_I16.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0);
    v
}

pub fn take_f32(len: usize) -> Vec<f32> {
    let mut v = SPARE_F32.with(|s| s.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(len, 0.0);
    v
}

/// Keeps `v` for this thread's next [`take_i16`] (a few at most: a thread needs three at a time).
pub fn give_i16(v: Vec<i16>) {
    SPARE_I16.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 2 {
            s.push(v);
        }
    });
}

pub fn give_f32(v: Vec<f32>) {
    SPARE_F32.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 3 {
            s.push(v);
        }
    });
}

//! An output slice written from several threads at once, each to its own part (a GEMM's tiles,
//! attention's heads): rayon cannot split it by index alone, so the parts are taken through a
//! raw pointer whose disjointness the caller states.

pub struct DisjointOut(*mut f32);
// SAFETY: callers write only parts no other thread writes (each use says which).
unsafe impl Sync for DisjointOut {}
unsafe impl Send for DisjointOut {}

impl DisjointOut {
    pub fn new(out: &mut [f32]) -> Self {
        Self(out.as_mut_ptr())
    }

    /// `len` elements from `start`, to write.
    ///
    /// # Safety
    /// They are in the output and no other thread touches them while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }

    /// The element at `offset`, for a strided writer (a GEMM's destination).
    ///
    /// # Safety
    /// As for [`DisjointOut::slice`], for every element the caller writes through it.
    pub unsafe fn at(&self, offset: usize) -> *mut f32 {
        self.0.add(offset)
    }
}

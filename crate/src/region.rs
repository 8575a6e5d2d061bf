//! The checks every export makes before touching memory: each region a call
//! names lies inside linear memory, is aligned, and — when the call writes
//! it — overlaps no other region of the call. The façade checks the same
//! things first with better messages; these keep a wrong call from
//! corrupting the heap.

use crate::status::Status;

/// Bytes of linear memory, in 64 bits: at the 32-bit limit (65,536 pages) the
/// size is 2³², which a wasm32 `usize` cannot hold (computed in `usize` it
/// wrapped to 0 and made every region look out of bounds from then on).
#[cfg(target_arch = "wasm32")]
pub fn memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 65536
}

/// On the host (tests) every address is memory.
#[cfg(not(target_arch = "wasm32"))]
pub fn memory_bytes() -> u64 {
    u64::MAX
}

/// Whether `[ptr, ptr + bytes)` lies inside linear memory (summed in 64 bits,
/// so a region ending exactly at 4 GiB is inside).
pub fn inside(ptr: usize, bytes: usize) -> bool {
    ptr as u64 + bytes as u64 <= memory_bytes()
}

/// A region `[ptr, ptr + bytes)` of one call.
#[derive(Clone, Copy)]
struct Region {
    ptr: usize,
    bytes: usize,
    writes: bool,
}

impl Region {
    fn end(&self) -> u64 {
        self.ptr as u64 + self.bytes as u64
    }
}

/// The regions of one call, checked as they are added; [`Check::disjoint`] last.
pub struct Check {
    regions: [Region; 48],
    n: usize,
}

impl Default for Check {
    fn default() -> Self {
        Self::new()
    }
}

impl Check {
    #[inline(never)]
    pub fn new() -> Self {
        Check { regions: [Region { ptr: 0, bytes: 0, writes: false }; 48], n: 0 }
    }

    /// A region of `floats` 4-byte elements (`None`: its size overflowed);
    /// `required` ones must be non-null. Not inlined (nor `add_bytes`,
    /// `disjoint`): one copy serves every export, where inlined copies made
    /// each export ~1.6 KB.
    #[inline(never)]
    pub fn add(&mut self, ptr: usize, floats: Option<usize>, writes: bool, required: bool) -> Result<(), Status> {
        let bytes = floats.ok_or(Status::Overflow)?.checked_mul(4).ok_or(Status::Overflow)?;
        self.add_bytes(ptr, Some(bytes), 4, writes, required)
    }

    /// A region of `bytes` bytes aligned to `align`.
    #[inline(never)]
    pub fn add_bytes(&mut self, ptr: usize, bytes: Option<usize>, align: usize, writes: bool, required: bool) -> Result<(), Status> {
        let bytes = bytes.ok_or(Status::Overflow)?;
        if ptr == 0 {
            return if required && bytes > 0 { Err(Status::Missing) } else { Ok(()) };
        }
        if ptr % align != 0 {
            return Err(Status::Misaligned);
        }
        if !inside(ptr, bytes) {
            return Err(Status::OutOfBounds);
        }
        if bytes > 0 {
            if self.n == self.regions.len() {
                return Err(Status::Overflow);
            }
            self.regions[self.n] = Region { ptr, bytes, writes };
            self.n += 1;
        }
        Ok(())
    }

    /// Written regions overlap no other region.
    #[inline(never)]
    pub fn disjoint(&self) -> Result<(), Status> {
        let rs = &self.regions[..self.n];
        for (a, ra) in rs.iter().enumerate() {
            for rb in &rs[a + 1..] {
                let overlap = (ra.ptr as u64) < rb.end() && (rb.ptr as u64) < ra.end();
                if overlap && (ra.writes || rb.writes) {
                    return Err(Status::Overlap);
                }
            }
        }
        Ok(())
    }
}

/// `rows` i32 ids at `ids`, each in `[0, v)`.
///
/// # Safety
/// `ids` holds `rows` i32 (checked to lie inside memory).
pub unsafe fn check_ids(ids: usize, rows: usize, v: usize) -> Result<(), Status> {
    let t = core::slice::from_raw_parts(ids as *const i32, rows);
    if t.iter().all(|&c| c >= 0 && (c as usize) < v) {
        Ok(())
    } else {
        Err(Status::OutOfRange)
    }
}

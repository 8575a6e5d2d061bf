//! The only file that knows about JavaScript: `#[wasm_bindgen]` exports, one
//! per kernel, taking byte offsets into linear memory (`0` = absent) and sizes.
//!
//! Every export re-checks what it is given before touching memory — sizes
//! computed with checked arithmetic, every region inside linear memory, written
//! regions disjoint from every other region, lengths within `[0, T]` — and
//! returns a status code instead of trapping. The TypeScript façade checks the
//! same things first with better messages; these checks are the backstop that
//! keeps a wrong call from corrupting the heap.

use crate::cells::{self, Cell, Dims};
use crate::gemm::{self, MatRef};
use wasm_bindgen::prelude::*;

/// Status codes (mirrored in `ts/runtime/status.ts`).
pub const OK: i32 = 0;
pub const E_CELL: i32 = 1;
pub const E_OVERFLOW: i32 = 2;
pub const E_BOUNDS: i32 = 3;
pub const E_OVERLAP: i32 = 4;
pub const E_LENGTHS: i32 = 5;
pub const E_MISSING: i32 = 6;
pub const E_ALIGN: i32 = 7;

const ALIGN: usize = 16;

/// Allocate `bytes` (16-byte aligned, zero-filled). Returns 0 on failure.
#[wasm_bindgen]
pub fn alloc(bytes: usize) -> usize {
    if bytes == 0 {
        return ALIGN; // a valid, never-dereferenced address for empty regions
    }
    match std::alloc::Layout::from_size_align(bytes, ALIGN) {
        Ok(layout) => unsafe { std::alloc::alloc_zeroed(layout) as usize },
        Err(_) => 0,
    }
}

/// Free a region returned by [`alloc`] with the same `bytes`.
#[wasm_bindgen]
pub fn dealloc(ptr: usize, bytes: usize) {
    if bytes == 0 || ptr == 0 {
        return;
    }
    if let Ok(layout) = std::alloc::Layout::from_size_align(bytes, ALIGN) {
        unsafe { std::alloc::dealloc(ptr as *mut u8, layout) }
    }
}

/// Which SIMD flavour this module was built with: 0 none, 1 simd128, 2 relaxed.
#[wasm_bindgen]
pub fn simd_level() -> u32 {
    if cfg!(target_feature = "relaxed-simd") {
        2
    } else if cfg!(target_feature = "simd128") {
        1
    } else {
        0
    }
}

fn memory_bytes() -> usize {
    core::arch::wasm32::memory_size(0) * 65536
}

/// A region `[ptr, ptr + floats·4)` named for checks.
#[derive(Clone, Copy)]
struct Region {
    ptr: usize,
    bytes: usize,
    writes: bool,
}

struct Check {
    regions: [Region; 16],
    n: usize,
}

impl Check {
    fn new() -> Self {
        Check { regions: [Region { ptr: 0, bytes: 0, writes: false }; 16], n: 0 }
    }
    /// Record a region of `floats` 4-byte elements; `required` ones must be non-null.
    fn add(&mut self, ptr: usize, floats: Option<usize>, writes: bool, required: bool) -> Result<(), i32> {
        let floats = floats.ok_or(E_OVERFLOW)?;
        if ptr == 0 {
            return if required && floats > 0 { Err(E_MISSING) } else { Ok(()) };
        }
        if ptr % 4 != 0 {
            return Err(E_ALIGN);
        }
        let bytes = floats.checked_mul(4).ok_or(E_OVERFLOW)?;
        let end = ptr.checked_add(bytes).ok_or(E_BOUNDS)?;
        if end > memory_bytes() {
            return Err(E_BOUNDS);
        }
        if bytes > 0 {
            self.regions[self.n] = Region { ptr, bytes, writes };
            self.n += 1;
        }
        Ok(())
    }
    /// Written regions must not overlap any other region.
    fn disjoint(&self) -> Result<(), i32> {
        let rs = &self.regions[..self.n];
        for (a, ra) in rs.iter().enumerate() {
            for rb in &rs[a + 1..] {
                let overlap = ra.ptr < rb.ptr + rb.bytes && rb.ptr < ra.ptr + ra.bytes;
                if overlap && (ra.writes || rb.writes) {
                    return Err(E_OVERLAP);
                }
            }
        }
        Ok(())
    }
}

fn status(r: Result<(), i32>) -> i32 {
    match r {
        Ok(()) => OK,
        Err(e) => e,
    }
}

/// `C[m, n] (=|+=) A·B` with strided A (`rsa`, `csa`) and B (`rsb`, `csb`),
/// row-major C with row stride `rsc`. `accumulate` adds into C.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize, n: usize, k: usize, a: usize, rsa: usize, csa: usize, b: usize, rsb: usize, csb: usize, c: usize,
    rsc: usize, accumulate: bool,
) -> i32 {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| -> Option<usize> {
        if rows == 0 || cols == 0 {
            return Some(0);
        }
        (rows - 1).checked_mul(rs)?.checked_add((cols - 1).checked_mul(cs)?)?.checked_add(1)
    };
    status((|| {
        let mut ck = Check::new();
        ck.add(a, extent(m, k, rsa, csa), false, true)?;
        ck.add(b, extent(k, n, rsb, csb), false, true)?;
        if rsc < n && m > 1 {
            return Err(E_OVERLAP);
        }
        ck.add(c, extent(m, n, rsc, 1), true, true)?;
        ck.disjoint()?;
        unsafe {
            gemm::sgemm(m, n, k, MatRef::new(a as *const f32, rsa, csa), MatRef::new(b as *const f32, rsb, csb), c as *mut f32, rsc, accumulate);
        }
        Ok(())
    })())
}

/// Flags of the recurrent calls.
pub const F_BATCH_FIRST: u32 = 1;
pub const F_TRAINING: u32 = 2;
pub const F_REPACK: u32 = 4;

fn dims(t: usize, b: usize, i: usize, h: usize, dirs: usize, flags: u32) -> Result<Dims, i32> {
    if !(dirs == 1 || dirs == 2) || h == 0 || i == 0 {
        return Err(E_CELL);
    }
    let d = Dims { t, b, i, h, dirs, batch_first: flags & F_BATCH_FIRST != 0 };
    // every size derived later must fit: rows·D·H·7 bounds the largest
    d.rows().checked_mul(dirs * 7).and_then(|r| r.checked_mul(h.max(i))).ok_or(E_OVERFLOW)?;
    Ok(d)
}

/// Floats of workspace a recurrent call needs (0 on invalid arguments).
#[wasm_bindgen]
pub fn recurrent_workspace_len(cell: u32, t: usize, b: usize, h: usize, dirs: usize, training: bool) -> usize {
    let Some(c) = Cell::from_u32(cell) else { return 0 };
    let d = Dims { t, b, i: 1, h, dirs, batch_first: false };
    cells::workspace_len(c, &d, training).unwrap_or(0)
}

/// Floats of packed recurrent weights a layer keeps (0 on invalid arguments).
#[wasm_bindgen]
pub fn recurrent_packed_len(cell: u32, h: usize, dirs: usize) -> usize {
    let Some(c) = Cell::from_u32(cell) else { return 0 };
    cells::packed_len(c, h, dirs).unwrap_or(0)
}

/// Floats of one direction's parameters (`W_ih, W_hh, b_ih, b_hh`).
#[wasm_bindgen]
pub fn recurrent_params_len(cell: u32, i: usize, h: usize) -> usize {
    let Some(c) = Cell::from_u32(cell) else { return 0 };
    cells::dir_params_len(c, i, h).unwrap_or(0)
}

unsafe fn check_lengths(lengths: usize, b: usize, t: usize) -> Result<(), i32> {
    if lengths == 0 {
        return Ok(());
    }
    let l = core::slice::from_raw_parts(lengths as *const i32, b);
    if l.iter().all(|&v| v >= 0 && v as usize <= t) {
        Ok(())
    } else {
        Err(E_LENGTHS)
    }
}

/// Forward pass of one recurrent layer over a whole sequence and batch.
/// Region sizes (floats): `x [T·B·I]`, `h0/c0/hn/cn [D·B·H]`, `lengths [B]`
/// (i32), `params [D·params_len]`, `packed [packed_len]`, `y [T·B·D·H]`,
/// `work [workspace_len]`. Optional regions may be 0.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn recurrent_forward(
    cell: u32, flags: u32, t: usize, b: usize, i: usize, h: usize, dirs: usize, x: usize, h0: usize, c0: usize,
    lengths: usize, params: usize, packed: usize, y: usize, hn: usize, cn: usize, work: usize,
) -> i32 {
    status((|| {
        let c = Cell::from_u32(cell).ok_or(E_CELL)?;
        let d = dims(t, b, i, h, dirs, flags)?;
        let training = flags & F_TRAINING != 0;
        let rows = d.rows();
        let state = cells::mul(dirs, cells::mul(b, h).ok_or(E_OVERFLOW)?);
        let lstm = c.has_cell_state();
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, i), false, true)?;
        ck.add(h0, state, false, false)?;
        ck.add(if lstm { c0 } else { 0 }, state, false, false)?;
        ck.add(lengths, Some(b), false, false)?;
        ck.add(params, cells::dir_params_len(c, i, h).and_then(|p| p.checked_mul(dirs)), false, true)?;
        ck.add(packed, cells::packed_len(c, h, dirs), true, true)?;
        ck.add(y, cells::mul(rows, dirs * h), true, true)?;
        ck.add(hn, state, true, false)?;
        ck.add(if lstm { cn } else { 0 }, state, true, false)?;
        ck.add(work, cells::workspace_len(c, &d, training), true, true)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            cells::forward(&cells::Forward {
                cell: c,
                dims: d,
                training,
                repack: flags & F_REPACK != 0,
                x: x as *const f32,
                h0: h0 as *const f32,
                c0: if lstm { c0 as *const f32 } else { core::ptr::null() },
                lengths: lengths as *const i32,
                params: params as *const f32,
                packed: packed as *mut f32,
                y: y as *mut f32,
                hn: hn as *mut f32,
                cn: if lstm { cn as *mut f32 } else { core::ptr::null_mut() },
                work: work as *mut f32,
            });
        }
        Ok(())
    })())
}

/// Backward pass (BPTT) matching the forward call just made with the
/// training flag on the same `x`, `lengths`, `params`, `packed` and `work`.
/// `dy [T·B·D·H]`, `dhn/dcn [D·B·H]` optional; `dx [T·B·I]`, `dh0/dc0 [D·B·H]`
/// optional outputs (overwritten); `grads` (same layout as `params`) accumulated.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn recurrent_backward(
    cell: u32, flags: u32, t: usize, b: usize, i: usize, h: usize, dirs: usize, x: usize, lengths: usize,
    params: usize, packed: usize, work: usize, dy: usize, dhn: usize, dcn: usize, dx: usize, dh0: usize, dc0: usize,
    grads: usize,
) -> i32 {
    status((|| {
        let c = Cell::from_u32(cell).ok_or(E_CELL)?;
        let d = dims(t, b, i, h, dirs, flags)?;
        let rows = d.rows();
        let state = cells::mul(dirs, cells::mul(b, h).ok_or(E_OVERFLOW)?);
        let lstm = c.has_cell_state();
        let np = cells::dir_params_len(c, i, h).and_then(|p| p.checked_mul(dirs));
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, i), false, true)?;
        ck.add(lengths, Some(b), false, false)?;
        ck.add(params, np, false, true)?;
        ck.add(packed, cells::packed_len(c, h, dirs), true, true)?;
        ck.add(work, cells::workspace_len(c, &d, true), true, true)?;
        ck.add(dy, cells::mul(rows, dirs * h), false, false)?;
        ck.add(dhn, state, false, false)?;
        ck.add(if lstm { dcn } else { 0 }, state, false, false)?;
        ck.add(dx, cells::mul(rows, i), true, false)?;
        ck.add(dh0, state, true, false)?;
        ck.add(if lstm { dc0 } else { 0 }, state, true, false)?;
        ck.add(grads, np, true, true)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            cells::backward(&cells::Backward {
                cell: c,
                dims: d,
                x: x as *const f32,
                lengths: lengths as *const i32,
                params: params as *const f32,
                packed: packed as *mut f32,
                work: work as *mut f32,
                dy: dy as *const f32,
                dhn: dhn as *const f32,
                dcn: if lstm { dcn as *const f32 } else { core::ptr::null() },
                dx: dx as *mut f32,
                dh0: dh0 as *mut f32,
                dc0: if lstm { dc0 as *mut f32 } else { core::ptr::null_mut() },
                grads: grads as *mut f32,
            });
        }
        Ok(())
    })())
}

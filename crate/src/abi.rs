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
use crate::program;
use crate::quant;
use crate::region::{check_ids, inside, Check};
use crate::status::{self, Status};
use wasm_bindgen::prelude::*;

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

/// Whether this is the threaded build (shared memory, `+atomics`).
#[wasm_bindgen]
pub fn threaded() -> bool {
    cfg!(target_feature = "atomics")
}

/// A helper Worker's whole life (threaded build): help with jobs, never
/// returning. Returns at once in a single-threaded build.
#[wasm_bindgen]
pub fn pool_worker_loop() {
    if threaded() {
        // The first sgemm on this thread would allocate its packing buffers
        // (and might grow memory) in the middle of a job: do it now.
        gemm::reserve_pack_buffers();
        crate::pool::worker_loop();
    }
}

/// Use up to `n` threads (the caller + helpers that have started); returns the number in use.
#[wasm_bindgen]
pub fn pool_set_threads(n: usize) -> usize {
    crate::pool::set_threads(n)
}

/// Helpers currently inside [`pool_worker_loop`].
#[wasm_bindgen]
pub fn pool_ready() -> usize {
    crate::pool::ready()
}

/// Tasks helper threads have run so far (0 in a single-threaded build).
#[wasm_bindgen]
pub fn pool_helper_tasks() -> usize {
    crate::pool::helped()
}

/// `C[m, n] (=|+=) A·B` with strided A (`rsa`, `csa`) and B (`rsb`, `csb`),
/// row-major C with row stride `rsc`. `accumulate` adds into C.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: usize,
    rsa: usize,
    csa: usize,
    b: usize,
    rsb: usize,
    csb: usize,
    c: usize,
    rsc: usize,
    accumulate: bool,
) -> i32 {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| -> Option<usize> {
        if rows == 0 || cols == 0 {
            return Some(0);
        }
        (rows - 1).checked_mul(rs)?.checked_add((cols - 1).checked_mul(cs)?)?.checked_add(1)
    };
    status::code((|| {
        let mut ck = Check::new();
        ck.add(a, extent(m, k, rsa, csa), false, true)?;
        ck.add(b, extent(k, n, rsb, csb), false, true)?;
        if rsc < n && m > 1 {
            return Err(Status::Overlap);
        }
        ck.add(c, extent(m, n, rsc, 1), true, true)?;
        ck.disjoint()?;
        unsafe {
            gemm::sgemm(
                m,
                n,
                k,
                MatRef::new(a as *const f32, rsa, csa),
                MatRef::new(b as *const f32, rsb, csb),
                c as *mut f32,
                rsc,
                accumulate,
            );
        }
        Ok(())
    })())
}

fn gate(flags: u32) -> Result<cells::GateAct, Status> {
    cells::flags::gate(flags).ok_or(Status::BadKind)
}

fn dims(t: usize, b: usize, i: usize, h: usize, dirs: usize, flags: u32) -> Result<Dims, Status> {
    if !(dirs == 1 || dirs == 2) || h == 0 || i == 0 {
        return Err(Status::BadKind);
    }
    let d = Dims { t, b, i, h, dirs, batch_first: flags & cells::flags::BATCH_FIRST != 0 };
    // every size derived later must fit: rows·D·H·7 bounds the largest
    d.rows().checked_mul(dirs * 7).and_then(|r| r.checked_mul(h.max(i))).ok_or(Status::Overflow)?;
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

unsafe fn check_lengths(lengths: usize, b: usize, t: usize) -> Result<(), Status> {
    if lengths == 0 {
        return Ok(());
    }
    let l = core::slice::from_raw_parts(lengths as *const i32, b);
    if l.iter().all(|&v| v >= 0 && v as usize <= t) {
        Ok(())
    } else {
        Err(Status::OutOfRange)
    }
}

/// Forward pass of one recurrent layer over a whole sequence and batch.
/// Region sizes (floats): `x [T·B·I]`, `h0/c0/hn/cn [D·B·H]`, `lengths [B]`
/// (i32), `params [D·params_len]`, `packed [packed_len]`, `y [T·B·D·H]`,
/// `work [workspace_len]`, `rec_mask [D·B·H]` (recurrent dropout, already
/// scaled). Optional regions may be 0.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn recurrent_forward(
    cell: u32,
    flags: u32,
    t: usize,
    b: usize,
    i: usize,
    h: usize,
    dirs: usize,
    x: usize,
    h0: usize,
    c0: usize,
    lengths: usize,
    params: usize,
    packed: usize,
    y: usize,
    hn: usize,
    cn: usize,
    work: usize,
    rec_mask: usize,
) -> i32 {
    status::code((|| {
        let c = Cell::from_u32(cell).ok_or(Status::BadKind)?;
        let d = dims(t, b, i, h, dirs, flags)?;
        let training = flags & cells::flags::TRAINING != 0;
        let rows = d.rows();
        let state = cells::mul(dirs, cells::mul(b, h).ok_or(Status::Overflow)?);
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
        ck.add(rec_mask, state, false, false)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            cells::forward(&cells::Forward {
                cell: c,
                dims: d,
                training,
                repack: flags & cells::flags::REPACK != 0,
                reverse: flags & cells::flags::REVERSE != 0 && dirs == 1,
                gate: gate(flags)?,
                rec_mask: rec_mask as *const f32,
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
    cell: u32,
    flags: u32,
    t: usize,
    b: usize,
    i: usize,
    h: usize,
    dirs: usize,
    x: usize,
    lengths: usize,
    params: usize,
    packed: usize,
    work: usize,
    dy: usize,
    dhn: usize,
    dcn: usize,
    dx: usize,
    dh0: usize,
    dc0: usize,
    grads: usize,
    rec_mask: usize,
) -> i32 {
    status::code((|| {
        let c = Cell::from_u32(cell).ok_or(Status::BadKind)?;
        let d = dims(t, b, i, h, dirs, flags)?;
        let rows = d.rows();
        let state = cells::mul(dirs, cells::mul(b, h).ok_or(Status::Overflow)?);
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
        ck.add(rec_mask, state, false, false)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            cells::backward(&cells::Backward {
                cell: c,
                dims: d,
                reverse: flags & cells::flags::REVERSE != 0 && dirs == 1,
                gate: gate(flags)?,
                rec_mask: rec_mask as *const f32,
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

/// Dense layer forward: `y [rows, o] = act(x [rows, i] · Wᵀ + b)`, `W [o, i]`,
/// `b [o]` (0 = no bias); `act`: 0 linear, 1 relu, 2 tanh, 3 sigmoid, 4 softmax.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn dense_forward(rows: usize, i: usize, o: usize, x: usize, w: usize, b: usize, y: usize, act: u32) -> i32 {
    status::code((|| {
        let a = crate::dense::Act::from_u32(act).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, i), false, true)?;
        ck.add(w, cells::mul(o, i), false, true)?;
        ck.add(b, Some(o), false, false)?;
        ck.add(y, cells::mul(rows, o), true, true)?;
        ck.disjoint()?;
        unsafe { crate::dense::forward(rows, i, o, x as *const f32, w as *const f32, b as *const f32, y as *mut f32, a) };
        Ok(())
    })())
}

/// Dense layer backward: `dy [rows, o]` is overwritten with the
/// pre-activation gradient; `dw [o, i]`, `db [o]` accumulate; `dx [rows, i]`
/// is overwritten (0 = not wanted); `y` is the forward output.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    rows: usize,
    i: usize,
    o: usize,
    x: usize,
    w: usize,
    y: usize,
    dy: usize,
    act: u32,
    dw: usize,
    db: usize,
    dx: usize,
) -> i32 {
    status::code((|| {
        let a = crate::dense::Act::from_u32(act).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, i), false, true)?;
        ck.add(w, cells::mul(o, i), false, true)?;
        ck.add(y, cells::mul(rows, o), false, true)?;
        ck.add(dy, cells::mul(rows, o), true, true)?;
        ck.add(dw, cells::mul(o, i), true, true)?;
        ck.add(db, Some(o), true, false)?;
        ck.add(dx, cells::mul(rows, i), true, false)?;
        ck.disjoint()?;
        unsafe {
            crate::dense::backward(
                rows,
                i,
                o,
                x as *const f32,
                w as *const f32,
                y as *const f32,
                dy as *mut f32,
                a,
                dw as *mut f32,
                db as *mut f32,
                dx as *mut f32,
            )
        };
        Ok(())
    })())
}

/// Index of the first NaN or ±Infinity in `[n]` f32 at `x`; −1 if all are
/// finite, −2 if the region is invalid. (Checking 330 k weights this way takes
/// ~0.1 ms where a JavaScript loop not yet optimised by the JIT takes ~4 ms of a
/// cold start.)
#[wasm_bindgen]
pub fn first_nonfinite(x: usize, n: usize) -> i32 {
    let mut ck = Check::new();
    if ck.add(x, Some(n), false, true).is_err() || n > i32::MAX as usize {
        return -2;
    }
    let v = unsafe { std::slice::from_raw_parts(x as *const u32, n) };
    // 0x7f80_0000: exponent all ones (NaN or ±Inf); checked a chunk at a time so
    // the common all-finite case vectorises
    for (c, chunk) in v.chunks(256).enumerate() {
        if chunk.iter().fold(0u32, |a, &b| a | (((b & 0x7f80_0000) == 0x7f80_0000) as u32)) != 0 {
            let k = chunk.iter().position(|&b| (b & 0x7f80_0000) == 0x7f80_0000).unwrap_or(0);
            return (c * 256 + k) as i32;
        }
    }
    -1
}

/// Row-wise softmax in place over `[rows, n]`.
#[wasm_bindgen]
pub fn softmax_rows(rows: usize, n: usize, y: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(y, cells::mul(rows, n), true, true)?;
        unsafe { crate::dense::softmax_rows(y as *mut f32, rows, n) };
        Ok(())
    })())
}

/// Weighted mean loss of `pred [rows, n]` against `target` (`[rows, n]` f32,
/// or `[rows]` i32 class indices for the sparse kinds); `weights [rows]`
/// optional; `grad [rows, n]` optional. Returns the loss, or NaN with the
/// status written to `status_out` (an i32 slot, optional) on bad arguments.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn loss(kind: u32, rows: usize, n: usize, pred: usize, target: usize, weights: usize, grad: usize, status_out: usize) -> f64 {
    let r = (|| {
        let k = crate::loss::Loss::from_u32(kind).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        ck.add(pred, cells::mul(rows, n), false, true)?;
        ck.add(target, cells::mul(rows, k.target_width(n)), false, true)?;
        ck.add(weights, Some(rows), false, false)?;
        ck.add(grad, cells::mul(rows, n), true, false)?;
        ck.add(status_out, Some(1), true, false)?;
        ck.disjoint()?;
        if k.sparse() {
            let t = unsafe { core::slice::from_raw_parts(target as *const i32, rows) };
            if t.iter().any(|&c| c < 0 || c as usize >= n) {
                return Err(Status::OutOfRange);
            }
        }
        if k == crate::loss::Loss::DistillLogits {
            // [p (n), class, τ, α] per row: the class an index, τ > 0, α in [0, 1]
            let t = unsafe { core::slice::from_raw_parts(target as *const f32, rows * (n + 3)) };
            for row in t.chunks_exact(n + 3) {
                let (c, tau, alpha) = (row[n], row[n + 1], row[n + 2]);
                if !(c >= 0.0 && (c as usize) < n && c.fract() == 0.0 && tau > 0.0 && tau.is_finite() && (0.0..=1.0).contains(&alpha)) {
                    return Err(Status::OutOfRange);
                }
            }
        }
        Ok::<f64, Status>(unsafe {
            crate::loss::loss(k, rows, n, pred as *const f32, target as *const u8, weights as *const f32, grad as *mut f32)
        })
    })();
    match r {
        Ok(v) => {
            if status_out != 0 && status_out % 4 == 0 && inside(status_out, 4) {
                unsafe { *(status_out as *mut i32) = Status::Ok as i32 };
            }
            v
        }
        Err(e) => {
            if status_out != 0 && status_out % 4 == 0 && inside(status_out, 4) {
                unsafe { *(status_out as *mut i32) = e as i32 };
            }
            f64::NAN
        }
    }
}

/// One optimizer step over `n` parameters (`optim::Kind`); `hyper` points to
/// the `optim::Hyper` block. Clips the
/// gradients first; returns their global norm (NaN on bad arguments).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn optimizer_step(kind: u32, n: usize, params: usize, grads: usize, s1: usize, s2: usize, hyper: usize) -> f32 {
    let r = (|| {
        let k = crate::optim::Kind::from_u32(kind).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        ck.add(params, Some(n), true, true)?;
        ck.add(grads, Some(n), true, true)?;
        ck.add(s1, Some(n), true, k != crate::optim::Kind::Sgd)?;
        ck.add(s2, Some(n), true, matches!(k, crate::optim::Kind::Adam | crate::optim::Kind::AdamW))?;
        ck.add(hyper, Some(crate::optim::Hyper::LEN), false, true)?;
        ck.disjoint()?;
        let h = crate::optim::Hyper::read(unsafe { &*(hyper as *const [f32; crate::optim::Hyper::LEN]) });
        Ok::<f32, Status>(unsafe { crate::optim::step(k, n, params as *mut f32, grads as *mut f32, s1 as *mut f32, s2 as *mut f32, &h) })
    })();
    r.unwrap_or(f32::NAN)
}

/// Add L1/L2 regularisation gradients for `n` weights; returns the penalty
/// (NaN on bad arguments).
#[wasm_bindgen]
pub fn regularize(n: usize, params: usize, grads: usize, l1: f32, l2: f32) -> f64 {
    let r = (|| {
        let mut ck = Check::new();
        ck.add(params, Some(n), false, true)?;
        ck.add(grads, Some(n), true, true)?;
        ck.disjoint()?;
        Ok::<f64, Status>(unsafe { crate::optim::regularize(n, params as *const f32, grads as *mut f32, l1, l2) })
    })();
    r.unwrap_or(f64::NAN)
}

/// Embedding lookup: `y [rows, e] = W[ids]`, `W [v, e]`, `ids [rows]` i32 in `[0, v)`.
#[wasm_bindgen]
pub fn embedding_forward(rows: usize, v: usize, e: usize, ids: usize, w: usize, y: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(ids, Some(rows), false, true)?;
        ck.add(w, cells::mul(v, e), false, true)?;
        ck.add(y, cells::mul(rows, e), true, true)?;
        ck.disjoint()?;
        unsafe {
            check_ids(ids, rows, v)?;
            crate::embedding::forward(rows, e, ids as *const i32, w as *const f32, y as *mut f32)
        };
        Ok(())
    })())
}

/// Embedding backward: `dW[ids[r]] += dy[r]`.
#[wasm_bindgen]
pub fn embedding_backward(rows: usize, v: usize, e: usize, ids: usize, dy: usize, dw: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(ids, Some(rows), false, true)?;
        ck.add(dy, cells::mul(rows, e), false, true)?;
        ck.add(dw, cells::mul(v, e), true, true)?;
        ck.disjoint()?;
        unsafe {
            check_ids(ids, rows, v)?;
            crate::embedding::backward(rows, e, ids as *const i32, dy as *const f32, dw as *mut f32)
        };
        Ok(())
    })())
}

/// Layer normalisation forward over the last dimension; `stats [rows, 2]` keeps (μ, 1/σ).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward(rows: usize, n: usize, x: usize, gamma: usize, beta: usize, eps: f32, y: usize, stats: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, n), false, true)?;
        ck.add(gamma, Some(n), false, true)?;
        ck.add(beta, Some(n), false, true)?;
        ck.add(y, cells::mul(rows, n), true, true)?;
        ck.add(stats, cells::mul(rows, 2), true, true)?;
        ck.disjoint()?;
        unsafe {
            crate::layernorm::forward(
                rows,
                n,
                x as *const f32,
                gamma as *const f32,
                beta as *const f32,
                eps,
                y as *mut f32,
                stats as *mut f32,
            )
        };
        Ok(())
    })())
}

/// Layer normalisation backward; `dgamma`, `dbeta` accumulate, `dx` is
/// overwritten (0 = not wanted).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    rows: usize,
    n: usize,
    x: usize,
    gamma: usize,
    stats: usize,
    dy: usize,
    dgamma: usize,
    dbeta: usize,
    dx: usize,
) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(x, cells::mul(rows, n), false, true)?;
        ck.add(gamma, Some(n), false, true)?;
        ck.add(stats, cells::mul(rows, 2), false, true)?;
        ck.add(dy, cells::mul(rows, n), false, true)?;
        ck.add(dgamma, Some(n), true, true)?;
        ck.add(dbeta, Some(n), true, true)?;
        ck.add(dx, cells::mul(rows, n), true, false)?;
        ck.disjoint()?;
        unsafe {
            crate::layernorm::backward(
                rows,
                n,
                x as *const f32,
                gamma as *const f32,
                stats as *const f32,
                dy as *const f32,
                dgamma as *mut f32,
                dbeta as *mut f32,
                dx as *mut f32,
            )
        };
        Ok(())
    })())
}

/// Floats of a recurrent layer's streaming weights (see `stream.rs`).
#[wasm_bindgen]
pub fn stream_packed_len(cell: u32, i: usize, h: usize) -> usize {
    let Some(c) = Cell::from_u32(cell) else { return 0 };
    crate::stream::packed_len(c, i, h).unwrap_or(0)
}

/// Pack one direction's recurrent parameters for streaming.
#[wasm_bindgen]
pub fn stream_pack(cell: u32, i: usize, h: usize, params: usize, out: usize) -> i32 {
    status::code((|| {
        let c = Cell::from_u32(cell).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        ck.add(params, cells::dir_params_len(c, i, h), false, true)?;
        ck.add(out, crate::stream::packed_len(c, i, h), true, true)?;
        ck.disjoint()?;
        unsafe { crate::stream::pack(c, i, h, params as *const f32, out as *mut f32) };
        Ok(())
    })())
}

/// Run one time step of a session program (`records` × 16 u32 at `program`)
/// for a batch of `b`; `apack` holds `packed_a_len(b, max K)` floats. Every
/// buffer a record names is checked to lie inside memory first.
#[wasm_bindgen]
pub fn stream_step(program: usize, records: usize, b: usize, apack: usize, apack_len: usize) -> i32 {
    status::code((|| {
        let prog = program::check(program, records, b, apack, apack_len)?;
        unsafe { program::check_program_ids(prog, b)? };
        unsafe { program::step(prog, b, apack as *mut f32) };
        Ok(())
    })())
}

/// Run a session program over whole sequences in one call (`predict` of a
/// quantised model): `x [B, T, F]` (f32, or i32 ids when `F` is 1 and the
/// program starts with an embedding) is fed step by step into the program's
/// input buffer `inp [B, F]`. `active[t]` rows (non-increasing in `t`; rows
/// sorted by length, longest first) take part in step `t`, so a shorter row's
/// state stops at its last real step, as with packed sequences. With
/// `last_only` the output buffer `out [B, O]` is copied to `y [B, O]` once at
/// the end (each row's output at its last real step); otherwise after every
/// step to `y [B, T, O]` (rows past their length keep what `y` held).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn stream_run(
    program: usize,
    records: usize,
    b: usize,
    t: usize,
    active: usize,
    x: usize,
    inp: usize,
    f: usize,
    out: usize,
    o: usize,
    y: usize,
    last_only: bool,
    apack: usize,
    apack_len: usize,
) -> i32 {
    status::code((|| {
        let prog = program::check(program, records, b, apack, apack_len)?;
        let mut ck = Check::new();
        ck.add(active, Some(t), false, true)?;
        ck.add(x, cells::mul(b, t).and_then(|n| cells::mul(n, f)), false, true)?;
        ck.add(inp, cells::mul(b, f), true, true)?;
        ck.add(out, cells::mul(b, o), false, true)?;
        ck.add(y, if last_only { cells::mul(b, o) } else { cells::mul(b, t).and_then(|n| cells::mul(n, o)) }, true, true)?;
        ck.disjoint()?;
        let act = unsafe { core::slice::from_raw_parts(active as *const i32, t) };
        let mut prev = b as i32;
        for &n in act {
            if n < 0 || n > prev {
                return Err(Status::OutOfRange);
            }
            prev = n;
        }
        let (xp, ip, op, yp) = (x as *const u32, inp as *mut u32, out as *const f32, y as *mut f32);
        for (step, &n) in act.iter().enumerate() {
            let n = n as usize;
            if n == 0 {
                break;
            }
            unsafe {
                for r in 0..n {
                    core::ptr::copy_nonoverlapping(xp.add((r * t + step) * f), ip.add(r * f), f);
                }
                program::check_program_ids(prog, n)?;
                program::step(prog, n, apack as *mut f32);
                if !last_only {
                    for r in 0..n {
                        core::ptr::copy_nonoverlapping(op.add(r * o), yp.add((r * t + step) * o), o);
                    }
                }
            }
        }
        if last_only {
            unsafe { core::ptr::copy_nonoverlapping(op, yp, b * o) };
        }
        Ok(())
    })())
}

/// Bytes of a packed int8 `[n, k]` matrix (see `quant.rs`).
#[wasm_bindgen]
pub fn q8_packed_len(k: usize, n: usize) -> usize {
    quant::packed_len(k, n).unwrap_or(0)
}

/// Bytes of the int8 layers' activation scratch for `b` rows of up to `k`
/// values (see `quant::act_scratch_len`).
#[wasm_bindgen]
pub fn q8_act_scratch_len(b: usize, k: usize) -> usize {
    quant::act_scratch_len(b, k).unwrap_or(0)
}

/// Quantise `w [n, k]` to int8 `q` with per-row (or one) symmetric scales.
#[wasm_bindgen]
pub fn q8_quantize(n: usize, k: usize, w: usize, per_row: bool, q: usize, scales: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(w, cells::mul(n, k), false, true)?;
        ck.add_bytes(q, cells::mul(n, k), 1, true, true)?;
        ck.add(scales, Some(if per_row { n } else { 1 }), true, true)?;
        ck.disjoint()?;
        unsafe { quant::quantize_rows(n, k, w as *const f32, per_row, q as *mut i8, scales as *mut f32) };
        Ok(())
    })())
}

/// Pack int8 `q [n, k]` for the integer GEMV.
#[wasm_bindgen]
pub fn q8_pack(k: usize, n: usize, q: usize, out: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add_bytes(q, cells::mul(n, k), 1, false, true)?;
        ck.add_bytes(out, quant::packed_len(k, n), 1, true, true)?;
        ck.disjoint()?;
        unsafe { quant::pack(k, n, q as *const i8, out as *mut i8) };
        Ok(())
    })())
}

/// Most tensors one merge call takes.
const MAX_MERGE: usize = 16;

/// The `k` pointers at `ptrs` (a u32 each), checked to lie inside memory.
fn pointers(ck: &mut Check, ptrs: usize, k: usize) -> Result<&'static [u32], Status> {
    if k > MAX_MERGE {
        return Err(Status::Overflow);
    }
    ck.add(ptrs, Some(k), false, true)?;
    Ok(unsafe { core::slice::from_raw_parts(ptrs as *const u32, k) })
}

/// An element-wise merge (`elementwise::Merge`) of the `k` tensors whose
/// addresses are the u32 words at `xs`, `n` floats each, into `y [n]`.
#[wasm_bindgen]
pub fn merge_forward(op: u32, k: usize, n: usize, xs: usize, y: usize) -> i32 {
    status::code((|| {
        use crate::elementwise::Merge;
        let m = Merge::from_u32(op).ok_or(Status::BadKind)?;
        let (lo, hi) = m.arity();
        if k < lo || k > hi {
            return Err(Status::BadKind);
        }
        let mut ck = Check::new();
        let ptrs = pointers(&mut ck, xs, k)?;
        for &p in ptrs {
            ck.add(p as usize, Some(n), false, true)?;
        }
        ck.add(y, Some(n), true, true)?;
        ck.disjoint()?;
        let xs: Vec<*const f32> = ptrs.iter().map(|&p| p as usize as *const f32).collect();
        unsafe { crate::elementwise::merge_forward(m, n, &xs, y as *mut f32) };
        Ok(())
    })())
}

/// The gradients of [`merge_forward`] into the tensors at the u32 words `dxs`
/// (overwritten; a 0 word: not wanted) from `dy [n]`.
#[wasm_bindgen]
pub fn merge_backward(op: u32, k: usize, n: usize, xs: usize, dy: usize, dxs: usize) -> i32 {
    status::code((|| {
        use crate::elementwise::Merge;
        let m = Merge::from_u32(op).ok_or(Status::BadKind)?;
        let (lo, hi) = m.arity();
        if k < lo || k > hi {
            return Err(Status::BadKind);
        }
        let mut ck = Check::new();
        let xp = pointers(&mut ck, xs, k)?;
        let dp = pointers(&mut ck, dxs, k)?;
        for &p in xp {
            ck.add(p as usize, Some(n), false, true)?;
        }
        ck.add(dy, Some(n), false, true)?;
        for &p in dp {
            ck.add(p as usize, Some(n), true, false)?;
        }
        ck.disjoint()?;
        let xs: Vec<*const f32> = xp.iter().map(|&p| p as usize as *const f32).collect();
        let dxs: Vec<*mut f32> = dp.iter().map(|&p| p as usize as *mut f32).collect();
        unsafe { crate::elementwise::merge_backward(m, n, &xs, dy as *const f32, &dxs) };
        Ok(())
    })())
}

/// `y[n] += a · x[n]`.
#[wasm_bindgen]
pub fn axpy(n: usize, a: f32, x: usize, y: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        ck.add(x, Some(n), false, true)?;
        ck.add(y, Some(n), true, true)?;
        ck.disjoint()?;
        unsafe { crate::elementwise::axpy(n, a, x as *const f32, y as *mut f32) };
        Ok(())
    })())
}

/// `rows` rows of `len` floats, row `r` from source row `r / src_rep` (stride
/// `ss`) to destination row `r / dst_rep` (stride `ds`), copied or, with
/// `acc`, added (`elementwise::copy_rows`).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn copy_rows(rows: usize, len: usize, src: usize, ss: usize, src_rep: usize, dst: usize, ds: usize, dst_rep: usize, acc: bool) -> i32 {
    status::code((|| {
        if src_rep == 0 || dst_rep == 0 {
            return Err(Status::BadKind);
        }
        // the buffer's extent: the last row it is read or written at
        let extent = |stride: usize, rep: usize| -> Option<usize> {
            if rows == 0 || len == 0 {
                return Some(0);
            }
            ((rows - 1) / rep).checked_mul(stride)?.checked_add(len)
        };
        // distinct destination rows must not overlap (one row written by
        // several source rows is what `acc` with dst_rep > 1 is for)
        if rows > dst_rep && ds < len {
            return Err(Status::Overlap);
        }
        if dst_rep > 1 && !acc {
            return Err(Status::BadKind);
        }
        let mut ck = Check::new();
        ck.add(src, extent(ss, src_rep), false, true)?;
        ck.add(dst, extent(ds, dst_rep), true, true)?;
        ck.disjoint()?;
        unsafe { crate::elementwise::copy_rows(rows, len, src as *const f32, ss, src_rep, dst as *mut f32, ds, dst_rep, acc) };
        Ok(())
    })())
}

/// The `LEN` u32 words of a geometry block at `ptr`, checked to be in memory.
fn geometry_words<const N: usize>(ck: &mut Check, ptr: usize) -> Result<&'static [u32; N], Status> {
    ck.add(ptr, Some(N), false, true)?;
    Ok(unsafe { &*(ptr as *const [u32; N]) })
}

fn conv_geometry(ck: &mut Check, dims: usize) -> Result<crate::conv::Geometry, Status> {
    use crate::conv::{ConvDims, Geometry};
    Geometry::new(&ConvDims::read(geometry_words::<{ ConvDims::LEN }>(ck, dims)?)).ok_or(Status::BadShape)
}

/// Floats of workspace (the unfolded input) a convolution with the
/// `conv::ConvDims` words at `dims` needs; 0 on an invalid geometry.
#[wasm_bindgen]
pub fn conv1d_workspace_len(dims: usize) -> usize {
    conv_geometry(&mut Check::new(), dims).map(|g| g.col_len()).unwrap_or(0)
}

/// 1-D convolution forward (`conv::forward`): `x [B, T, Cin]`, `w [Cout,
/// Cin/G, K]`, `b [Cout]` (0 = none), `y [B, Tout, Cout]`, `col` the
/// workspace (kept for backward); `act` a `dense::Act`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn conv1d_forward(dims: usize, x: usize, w: usize, b: usize, y: usize, col: usize, act: u32) -> i32 {
    status::code((|| {
        let a = crate::dense::Act::from_u32(act).ok_or(Status::BadKind)?;
        if a == crate::dense::Act::Softmax {
            return Err(Status::BadKind);
        }
        let mut ck = Check::new();
        let g = conv_geometry(&mut ck, dims)?;
        let rows = g.rows().ok_or(Status::Overflow)?;
        ck.add(x, Some(g.b * g.t * g.cin), false, true)?;
        ck.add(w, Some(g.cout * (g.cin / g.g) * g.k), false, true)?;
        ck.add(b, Some(g.cout), false, false)?;
        ck.add(y, Some(rows * g.cout), true, true)?;
        ck.add(col, Some(g.col_len()), true, true)?;
        ck.disjoint()?;
        unsafe { crate::conv::forward(&g, x as *const f32, w as *const f32, b as *const f32, y as *mut f32, col as *mut f32, a) };
        Ok(())
    })())
}

/// 1-D convolution backward (`conv::backward`) after a forward with the same
/// `x`, `w`, `y` and `col`: `dy` becomes the pre-activation gradient, `dw`
/// and `db` (0 = none) accumulate, `dx` (0 = not wanted) is overwritten.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn conv1d_backward(dims: usize, x: usize, w: usize, y: usize, dy: usize, act: u32, col: usize, dw: usize, db: usize, dx: usize) -> i32 {
    status::code((|| {
        let a = crate::dense::Act::from_u32(act).ok_or(Status::BadKind)?;
        if a == crate::dense::Act::Softmax {
            return Err(Status::BadKind);
        }
        let mut ck = Check::new();
        let g = conv_geometry(&mut ck, dims)?;
        let rows = g.rows().ok_or(Status::Overflow)?;
        let wlen = g.cout * (g.cin / g.g) * g.k;
        ck.add(x, Some(g.b * g.t * g.cin), false, true)?;
        ck.add(w, Some(wlen), false, true)?;
        ck.add(y, Some(rows * g.cout), false, true)?;
        ck.add(dy, Some(rows * g.cout), true, true)?;
        ck.add(col, Some(g.col_len()), true, true)?;
        ck.add(dw, Some(wlen), true, true)?;
        ck.add(db, Some(g.cout), true, false)?;
        ck.add(dx, Some(g.b * g.t * g.cin), true, false)?;
        ck.disjoint()?;
        unsafe {
            crate::conv::backward(
                &g,
                x as *const f32,
                w as *const f32,
                y as *const f32,
                dy as *mut f32,
                a,
                col as *mut f32,
                dw as *mut f32,
                db as *mut f32,
                dx as *mut f32,
            )
        };
        Ok(())
    })())
}

fn pool_geometry(ck: &mut Check, dims: usize) -> Result<crate::pooling::Windows, Status> {
    use crate::pooling::{PoolDims, Windows};
    Windows::new(&PoolDims::read(geometry_words::<{ PoolDims::LEN }>(ck, dims)?)).ok_or(Status::BadShape)
}

/// Windowed pooling forward (`pooling::windows_forward`) with the
/// `pooling::PoolDims` words at `dims`: `x [B, T, C]` → `y [B, Tout, C]`;
/// `arg [B, Tout, C]` (u32, max only, 0 = not kept) the winners for backward.
#[wasm_bindgen]
pub fn pool1d_forward(kind: u32, dims: usize, x: usize, y: usize, arg: usize) -> i32 {
    status::code((|| {
        let k = crate::pooling::Pool::from_u32(kind).ok_or(Status::BadKind)?;
        let mut ck = Check::new();
        let g = pool_geometry(&mut ck, dims)?;
        ck.add(x, Some(g.in_len()), false, true)?;
        ck.add(y, Some(g.out_len()), true, true)?;
        ck.add(arg, Some(if k == crate::pooling::Pool::Max { g.out_len() } else { 0 }), true, false)?;
        ck.disjoint()?;
        let arg = if k == crate::pooling::Pool::Max { arg } else { 0 };
        unsafe { crate::pooling::windows_forward(k, &g, x as *const f32, y as *mut f32, arg as *mut u32) };
        Ok(())
    })())
}

/// Windowed pooling backward: `dx [B, T, C]` (overwritten) from `dy [B, Tout,
/// C]` and (max) the `arg` of the forward.
#[wasm_bindgen]
pub fn pool1d_backward(kind: u32, dims: usize, dy: usize, arg: usize, dx: usize) -> i32 {
    status::code((|| {
        let k = crate::pooling::Pool::from_u32(kind).ok_or(Status::BadKind)?;
        let max = k == crate::pooling::Pool::Max;
        let mut ck = Check::new();
        let g = pool_geometry(&mut ck, dims)?;
        ck.add(dy, Some(g.out_len()), false, true)?;
        ck.add(arg, Some(if max { g.out_len() } else { 0 }), false, max)?;
        ck.add(dx, Some(g.in_len()), true, true)?;
        ck.disjoint()?;
        if max {
            check_steps(arg, g.out_len(), g.t)?;
        }
        unsafe { crate::pooling::windows_backward(k, &g, dy as *const f32, arg as *const u32, dx as *mut f32) };
        Ok(())
    })())
}

/// `arg` words (winning steps) all `< t`: a stale or foreign `arg` must not
/// send a gradient outside `dx`.
fn check_steps(arg: usize, n: usize, t: usize) -> Result<(), Status> {
    let a = unsafe { core::slice::from_raw_parts(arg as *const u32, n) };
    if a.iter().all(|&s| (s as usize) < t || s == u32::MAX) {
        Ok(())
    } else {
        Err(Status::OutOfRange)
    }
}

/// Global pooling over each sample's valid steps (`lengths [B]` i32, 0 = all
/// `t`): `x [B, T, C]` → `y [B, C]`; `arg [B, C]` (max only, 0 = not kept).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn global_pool_forward(kind: u32, b: usize, t: usize, c: usize, lengths: usize, x: usize, y: usize, arg: usize) -> i32 {
    status::code((|| {
        let k = crate::pooling::Pool::from_u32(kind).ok_or(Status::BadKind)?;
        let bc = cells::mul(b, c).ok_or(Status::Overflow)?;
        let mut ck = Check::new();
        ck.add(x, cells::mul(bc, t), false, true)?;
        ck.add(lengths, Some(b), false, false)?;
        ck.add(y, Some(bc), true, true)?;
        ck.add(arg, Some(if k == crate::pooling::Pool::Max { bc } else { 0 }), true, false)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            let arg = if k == crate::pooling::Pool::Max { arg } else { 0 };
            crate::pooling::global_forward(k, b, t, c, lengths as *const i32, x as *const f32, y as *mut f32, arg as *mut u32);
        }
        Ok(())
    })())
}

/// Global pooling backward: `dx [B, T, C]` (overwritten, padded steps 0) from `dy [B, C]`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn global_pool_backward(kind: u32, b: usize, t: usize, c: usize, lengths: usize, dy: usize, arg: usize, dx: usize) -> i32 {
    status::code((|| {
        let k = crate::pooling::Pool::from_u32(kind).ok_or(Status::BadKind)?;
        let max = k == crate::pooling::Pool::Max;
        let bc = cells::mul(b, c).ok_or(Status::Overflow)?;
        let mut ck = Check::new();
        ck.add(dy, Some(bc), false, true)?;
        ck.add(lengths, Some(b), false, false)?;
        ck.add(arg, Some(if max { bc } else { 0 }), false, max)?;
        ck.add(dx, cells::mul(bc, t), true, true)?;
        ck.disjoint()?;
        unsafe {
            check_lengths(lengths, b, t)?;
            if max {
                check_steps(arg, bc, t)?;
            }
            crate::pooling::global_backward(k, b, t, c, lengths as *const i32, dy as *const f32, arg as *const u32, dx as *mut f32);
        }
        Ok(())
    })())
}

fn attention_call(ck: &mut Check, call: usize, training: bool) -> Result<(crate::attention::Geometry, crate::attention::Ptrs), Status> {
    use crate::attention::Attn;
    let a = Attn::read(geometry_words::<{ Attn::LEN }>(ck, call)?);
    crate::attention::checked(ck, &a, training)
}

/// Attention forward (`attention::forward`) for the `attention::Attn` words at `call`.
#[wasm_bindgen]
pub fn attention_forward(call: usize) -> i32 {
    status::code((|| {
        let mut ck = Check::new();
        let (g, p) = attention_call(&mut ck, call, false)?;
        ck.disjoint()?;
        unsafe { crate::attention::forward(&g, &p) };
        Ok(())
    })())
}

/// Attention backward (`attention::backward`) after the forward of the same
/// `call` words, writing where the `attention::AttnGrads` words at `grads` say.
#[wasm_bindgen]
pub fn attention_backward(call: usize, grads: usize) -> i32 {
    status::code((|| {
        use crate::attention::{AttnGrads, GradPtrs};
        let mut ck = Check::new();
        let (g, p) = attention_call(&mut ck, call, true)?;
        let d = AttnGrads::read(geometry_words::<{ AttnGrads::LEN }>(&mut ck, grads)?);
        let s = g.sizes();
        let u = |v: u32| v as usize;
        let pj = g.project;
        ck.add(u(d.dout), Some(s.out), true, true)?;
        ck.add(u(d.dq), Some(s.q), true, false)?;
        ck.add(u(d.dk), Some(s.k), true, false)?;
        ck.add(u(d.dv), Some(s.v), true, false)?;
        for (ptr, n, need) in [
            (d.dwq, s.wq, pj),
            (d.dbq, if p.bq.is_null() { 0 } else { s.bq }, false),
            (d.dwk, s.wk, pj),
            (d.dbk, if p.bk.is_null() { 0 } else { s.bk }, false),
            (d.dwv, s.wv, pj),
            (d.dbv, if p.bv.is_null() { 0 } else { s.bv }, false),
            (d.dwo, s.wo, pj),
            (d.dbo, if p.bo.is_null() { 0 } else { s.bo }, false),
            (d.dscale, if p.scale.is_null() { 0 } else { s.scale }, false),
            (d.dqp, s.qp, pj),
            (d.dkp, s.kp, pj),
            (d.dvp, s.vp, pj),
            (d.dctx, s.ctx, pj),
            (d.dprobs, s.probs, true),
            (d.dparts, if p.scale.is_null() { 0 } else { s.parts }, false),
        ] {
            ck.add(u(ptr), Some(n), true, need)?;
        }
        ck.add(u(d.dweights), Some(s.probs), false, false)?;
        ck.disjoint()?;
        let m = |v: u32| v as usize as *mut f32;
        // a bias gradient only where the bias exists
        let only = |v: u32, have: bool| if have { m(v) } else { core::ptr::null_mut() };
        let gp = GradPtrs {
            dout: m(d.dout),
            dq: m(d.dq),
            dk: m(d.dk),
            dv: m(d.dv),
            dwq: m(d.dwq),
            dbq: only(d.dbq, !p.bq.is_null()),
            dwk: m(d.dwk),
            dbk: only(d.dbk, !p.bk.is_null()),
            dwv: m(d.dwv),
            dbv: only(d.dbv, !p.bv.is_null()),
            dwo: m(d.dwo),
            dbo: only(d.dbo, !p.bo.is_null()),
            dscale: only(d.dscale, !p.scale.is_null()),
            dqp: m(d.dqp),
            dkp: m(d.dkp),
            dvp: m(d.dvp),
            dctx: m(d.dctx),
            dprobs: m(d.dprobs),
            dweights: d.dweights as usize as *const f32,
            dparts: only(d.dparts, !p.scale.is_null()),
        };
        unsafe { crate::attention::backward(&g, &p, &gp) };
        Ok(())
    })())
}

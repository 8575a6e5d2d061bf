//! Packed, register-blocked SGEMM: `C (=|+=) A · B`.
//!
//! Dimension letters: `M` rows of A and C, `N` columns of B and C, `K` the
//! shared dimension. A and B are strided views (`rs`, `cs` in elements), so a
//! transposed operand is just swapped strides; C is row-major with row stride
//! `rsc`.
//!
//! Layout of packed operands (BLIS-style):
//! - packed A: `ceil(M/MR)` panels, each `K × MR` (for each k, MR consecutive
//!   rows), rows past M zero;
//! - packed B: `ceil(N/NR)` panels, each `K × NR`, columns past N zero.
//!
//! The five loops of [`sgemm`]: `jc` over NC-column blocks of B, `pc` over
//! KC-deep slices, pack B; `ic` over MC-row blocks of A, pack A; then
//! [`gemm_packed`] walks NR panels (`jr`) and MR panels (`ir`) calling the
//! micro-kernel, whose B panel (KC·NR·4 = 8 KiB) stays in L1 while the A block
//! (MC·KC·4 = 64 KiB) streams from L2.
//!
//! Recurrent layers keep their weight matrices pre-packed as B operands (see
//! `cells`) and call [`gemm_packed`] directly once per time step.
//!
//! MR×NR is 4×8 in the simd128 build and 5×8 in the relaxed build (10
//! accumulators fit once multiply and add are one instruction): on
//! L1-resident data 23.9 and 37.0 GFLOP/s, the best of the tiles measured
//! (docs/PERF-NOTES.md). For one row (batch-1 steps) the GEMV kernel reads
//! three B panels at once (6 accumulators; four panels spill).
//!
//! The micro-kernels are `#[inline(never)]`, and `scripts/build-wasm.sh` tells
//! wasm-opt not to inline them (`--no-inline=*kernel_*`: its default inlines
//! every function with one caller): inlined into large functions, V8
//! allocated their registers worse (27.7 → 17–18 GFLOP/s).

use crate::pool;
use crate::simd::F32x4;

/// Rows of the micro-tile: 5 where multiply-add is fused (relaxed SIMD), else 4.
/// The `mr5` feature selects 5 on any target, so host tests cover both tilings.
pub const MR: usize = if cfg!(any(target_feature = "relaxed-simd", feature = "mr5")) { 5 } else { 4 };
pub const NR: usize = 8;
pub const KC: usize = 256;
pub const MC: usize = 64;
pub const NC: usize = 2048;

/// A strided read-only matrix view.
#[derive(Clone, Copy)]
pub struct MatRef {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl MatRef {
    #[inline(always)]
    pub fn new(ptr: *const f32, rs: usize, cs: usize) -> Self {
        Self { ptr, rs, cs }
    }
    /// Row-major `[rows, ld]` starting at `ptr`.
    #[inline(always)]
    pub fn rows(ptr: *const f32, ld: usize) -> Self {
        Self { ptr, rs: ld, cs: 1 }
    }
    /// The transpose of a row-major matrix with leading dimension `ld`.
    #[inline(always)]
    pub fn t(ptr: *const f32, ld: usize) -> Self {
        Self { ptr, rs: 1, cs: ld }
    }
    #[inline(always)]
    unsafe fn at(self, r: usize, c: usize) -> *const f32 {
        self.ptr.add(r * self.rs + c * self.cs)
    }
}

#[inline(always)]
pub fn packed_a_len(m: usize, k: usize) -> usize {
    m.div_ceil(MR) * MR * k
}

#[inline(always)]
pub fn packed_b_len(k: usize, n: usize) -> usize {
    n.div_ceil(NR) * NR * k
}

/// Pack `A[0..m, 0..k]` into MR-row panels at `out` (length [`packed_a_len`]).
///
/// # Safety
/// `a` must be readable over `m × k`; `out` writable for `packed_a_len(m, k)`.
pub unsafe fn pack_a(m: usize, k: usize, a: MatRef, out: *mut f32) {
    let mut o = out;
    for i0 in (0..m).step_by(MR) {
        let rows = MR.min(m - i0);
        if a.cs == 1 && rows == MR {
            // Common case: row-major A, MR source rows interleaved.
            let mut src = [core::ptr::null::<f32>(); MR];
            for (r, s) in src.iter_mut().enumerate() {
                *s = a.at(i0 + r, 0);
            }
            for p in 0..k {
                for (r, s) in src.iter().enumerate() {
                    *o.add(r) = *s.add(p);
                }
                o = o.add(MR);
            }
        } else {
            for p in 0..k {
                for r in 0..MR {
                    *o.add(r) = if r < rows { *a.at(i0 + r, p) } else { 0.0 };
                }
                o = o.add(MR);
            }
        }
    }
}

/// Pack `B[0..k, 0..n]` into NR-column panels at `out` (length [`packed_b_len`]).
///
/// # Safety
/// `b` must be readable over `k × n`; `out` writable for `packed_b_len(k, n)`.
pub unsafe fn pack_b(k: usize, n: usize, b: MatRef, out: *mut f32) {
    let mut o = out;
    for j0 in (0..n).step_by(NR) {
        let cols = NR.min(n - j0);
        if b.cs == 1 && cols == NR {
            for p in 0..k {
                let src = b.at(p, j0);
                F32x4::load(src).store(o);
                F32x4::load(src.add(4)).store(o.add(4));
                o = o.add(NR);
            }
        } else if b.rs == 1 {
            // Transposed source (B = Wᵀ with W row-major): each output column
            // is a contiguous source row
            let rows: [Option<*const f32>; NR] = core::array::from_fn(|c| (c < cols).then(|| b.at(0, j0 + c)));
            pack_panel_rows(&rows, k, o);
            o = o.add(k * NR);
        } else {
            for p in 0..k {
                for c in 0..NR {
                    *o.add(c) = if c < cols { *b.at(p, j0 + c) } else { 0.0 };
                }
                o = o.add(NR);
            }
        }
    }
}

/// Pack `B = [Xᵀ; Yᵀ]` — `kx + ky` rows, `n` columns — where column `c` is a
/// row of one row-major matrix (`kx` floats) stacked over a row of another
/// (`ky` floats), as `col(c)` gives them (`None`: that part of the column is
/// zero). Same layout as [`pack_b`], read straight from the two weights: the
/// streaming pack used to transpose into a scratch matrix first and pack that:
/// 6.1 ms of a cold start for an LSTM with H = 256 (Node's CPU profile; at
/// first call the code is V8's baseline tier), now 1.7 ms with four rows of
/// eight columns moved at a time through two 4×4 transposes.
///
/// # Safety
/// Every pointer `col` returns must be readable for its part's length; `out`
/// writable for `packed_b_len(kx + ky, n)`.
pub unsafe fn pack_b_stacked_rows(
    kx: usize,
    ky: usize,
    n: usize,
    col: &dyn Fn(usize) -> (Option<*const f32>, Option<*const f32>),
    out: *mut f32,
) {
    let mut o = out;
    for j0 in (0..n).step_by(NR) {
        let (mut xs, mut ys) = ([None; NR], [None; NR]);
        for c in 0..NR.min(n - j0) {
            (xs[c], ys[c]) = col(j0 + c);
        }
        pack_panel_rows(&xs, kx, o);
        pack_panel_rows(&ys, ky, o.add(kx * NR));
        o = o.add((kx + ky) * NR);
    }
}

/// `len` rows of one 8-column panel from eight source rows (`None`: zeros).
#[inline(never)]
unsafe fn pack_panel_rows(src: &[Option<*const f32>; NR], len: usize, dst: *mut f32) {
    let mut p0 = 0;
    if let [Some(r0), Some(r1), Some(r2), Some(r3), Some(r4), Some(r5), Some(r6), Some(r7)] = *src {
        // all eight columns present: four rows at a time through two 4×4 transposes
        while p0 + 4 <= len {
            for (half, r) in [[r0, r1, r2, r3], [r4, r5, r6, r7]].into_iter().enumerate() {
                let t = F32x4::transpose4(
                    F32x4::load(r[0].add(p0)),
                    F32x4::load(r[1].add(p0)),
                    F32x4::load(r[2].add(p0)),
                    F32x4::load(r[3].add(p0)),
                );
                for (q, v) in t.into_iter().enumerate() {
                    v.store(dst.add((p0 + q) * NR + 4 * half));
                }
            }
            p0 += 4;
        }
    }
    for p in p0..len {
        for (c, s) in src.iter().enumerate() {
            *dst.add(p * NR + c) = s.map_or(0.0, |s| *s.add(p));
        }
    }
}

/// The micro-kernel: `C[0..MR, 0..8] (=|+=) Ap[k × MR] · Bp[k × 8]`.
///
/// Contract: `ap` holds `k` groups of MR (one per row), `bp` `k` groups of 8;
/// `c` is a full MR×8 tile with row stride `rsc`. Accumulators live in vector
/// registers for the whole `k` loop.
#[inline(always)]
unsafe fn kernel(k: usize, ap: *const f32, bp: *const f32, c: *mut f32, rsc: usize, acc: bool) {
    if MR == 5 {
        kernel_5x8(k, ap, bp, c, rsc, acc)
    } else {
        kernel_4x8(k, ap, bp, c, rsc, acc)
    }
}

/// [`kernel`] for MR = 4 (8 accumulators).
#[inline(never)]
#[allow(dead_code)]
unsafe fn kernel_4x8(k: usize, ap: *const f32, bp: *const f32, c: *mut f32, rsc: usize, acc: bool) {
    let (mut c00, mut c01) = (F32x4::zero(), F32x4::zero());
    let (mut c10, mut c11) = (F32x4::zero(), F32x4::zero());
    let (mut c20, mut c21) = (F32x4::zero(), F32x4::zero());
    let (mut c30, mut c31) = (F32x4::zero(), F32x4::zero());
    let mut a = ap;
    let mut b = bp;
    for _ in 0..k {
        let b0 = F32x4::load(b);
        let b1 = F32x4::load(b.add(4));
        let a0 = F32x4::load_splat(a);
        c00 = a0.mul_add(b0, c00);
        c01 = a0.mul_add(b1, c01);
        let a1 = F32x4::load_splat(a.add(1));
        c10 = a1.mul_add(b0, c10);
        c11 = a1.mul_add(b1, c11);
        let a2 = F32x4::load_splat(a.add(2));
        c20 = a2.mul_add(b0, c20);
        c21 = a2.mul_add(b1, c21);
        let a3 = F32x4::load_splat(a.add(3));
        c30 = a3.mul_add(b0, c30);
        c31 = a3.mul_add(b1, c31);
        a = a.add(4);
        b = b.add(NR);
    }
    let rows = [(c00, c01), (c10, c11), (c20, c21), (c30, c31)];
    for (r, (lo, hi)) in rows.into_iter().enumerate() {
        let p = c.add(r * rsc);
        if acc {
            F32x4::load(p).add(lo).store(p);
            F32x4::load(p.add(4)).add(hi).store(p.add(4));
        } else {
            lo.store(p);
            hi.store(p.add(4));
        }
    }
}

/// [`kernel`] for MR = 5 (10 accumulators; relaxed build).
#[inline(never)]
#[allow(dead_code)]
unsafe fn kernel_5x8(k: usize, ap: *const f32, bp: *const f32, c: *mut f32, rsc: usize, acc: bool) {
    let (mut c00, mut c01) = (F32x4::zero(), F32x4::zero());
    let (mut c10, mut c11) = (F32x4::zero(), F32x4::zero());
    let (mut c20, mut c21) = (F32x4::zero(), F32x4::zero());
    let (mut c30, mut c31) = (F32x4::zero(), F32x4::zero());
    let (mut c40, mut c41) = (F32x4::zero(), F32x4::zero());
    let mut a = ap;
    let mut b = bp;
    for _ in 0..k {
        let b0 = F32x4::load(b);
        let b1 = F32x4::load(b.add(4));
        let a0 = F32x4::load_splat(a);
        c00 = a0.mul_add(b0, c00);
        c01 = a0.mul_add(b1, c01);
        let a1 = F32x4::load_splat(a.add(1));
        c10 = a1.mul_add(b0, c10);
        c11 = a1.mul_add(b1, c11);
        let a2 = F32x4::load_splat(a.add(2));
        c20 = a2.mul_add(b0, c20);
        c21 = a2.mul_add(b1, c21);
        let a3 = F32x4::load_splat(a.add(3));
        c30 = a3.mul_add(b0, c30);
        c31 = a3.mul_add(b1, c31);
        let a4 = F32x4::load_splat(a.add(4));
        c40 = a4.mul_add(b0, c40);
        c41 = a4.mul_add(b1, c41);
        a = a.add(5);
        b = b.add(NR);
    }
    let rows = [(c00, c01), (c10, c11), (c20, c21), (c30, c31), (c40, c41)];
    for (r, (lo, hi)) in rows.into_iter().enumerate() {
        let p = c.add(r * rsc);
        if acc {
            F32x4::load(p).add(lo).store(p);
            F32x4::load(p.add(4)).add(hi).store(p.add(4));
        } else {
            lo.store(p);
            hi.store(p.add(4));
        }
    }
}

/// One row of A against three B panels at once (24 columns, 6 accumulators):
/// the batch-1 (GEMV) path, where an MR-row tile would waste most of its work.
/// `a` is read with stride `sa` (MR for packed A, 1 for a plain row).
#[inline(never)]
unsafe fn kernel_1x24(k: usize, a: *const f32, sa: usize, bp: *const f32, c: *mut f32, acc: bool) {
    let panel = k * NR;
    let (b0p, b1p, b2p) = (bp, bp.add(panel), bp.add(2 * panel));
    let (mut s0, mut s1, mut s2) = (F32x4::zero(), F32x4::zero(), F32x4::zero());
    let (mut s3, mut s4, mut s5) = (F32x4::zero(), F32x4::zero(), F32x4::zero());
    for p in 0..k {
        let av = F32x4::load_splat(a.add(p * sa));
        let o = p * NR;
        s0 = av.mul_add(F32x4::load(b0p.add(o)), s0);
        s1 = av.mul_add(F32x4::load(b0p.add(o + 4)), s1);
        s2 = av.mul_add(F32x4::load(b1p.add(o)), s2);
        s3 = av.mul_add(F32x4::load(b1p.add(o + 4)), s3);
        s4 = av.mul_add(F32x4::load(b2p.add(o)), s4);
        s5 = av.mul_add(F32x4::load(b2p.add(o + 4)), s5);
    }
    let s = [s0, s1, s2, s3, s4, s5];
    for (q, v) in s.into_iter().enumerate() {
        let p = c.add(q * 4);
        if acc {
            F32x4::load(p).add(v).store(p);
        } else {
            v.store(p);
        }
    }
}

/// One row of A against one B panel (8 columns); two k-interleaved
/// accumulator pairs so the add chain is not the bottleneck.
#[inline(never)]
unsafe fn kernel_1x8(k: usize, a: *const f32, sa: usize, bp: *const f32, c: *mut f32, acc: bool) {
    let mut s = [F32x4::zero(); 4];
    let mut p = 0;
    while p + 2 <= k {
        let a0 = F32x4::load_splat(a.add(p * sa));
        let a1 = F32x4::load_splat(a.add((p + 1) * sa));
        let o = p * NR;
        s[0] = a0.mul_add(F32x4::load(bp.add(o)), s[0]);
        s[1] = a0.mul_add(F32x4::load(bp.add(o + 4)), s[1]);
        s[2] = a1.mul_add(F32x4::load(bp.add(o + 8)), s[2]);
        s[3] = a1.mul_add(F32x4::load(bp.add(o + 12)), s[3]);
        p += 2;
    }
    if p < k {
        let a0 = F32x4::load_splat(a.add(p * sa));
        s[0] = a0.mul_add(F32x4::load(bp.add(p * NR)), s[0]);
        s[1] = a0.mul_add(F32x4::load(bp.add(p * NR + 4)), s[1]);
    }
    let lo = s[0].add(s[2]);
    let hi = s[1].add(s[3]);
    if acc {
        F32x4::load(c).add(lo).store(c);
        F32x4::load(c.add(4)).add(hi).store(c.add(4));
    } else {
        lo.store(c);
        hi.store(c.add(4));
    }
}

/// Write (or add) the valid `rows × cols` corner of a full scratch tile into C.
#[inline(always)]
unsafe fn store_edge(t: &[f32], ldt: usize, rows: usize, cols: usize, c: *mut f32, rsc: usize, acc: bool) {
    for r in 0..rows {
        let d = c.add(r * rsc);
        for j in 0..cols {
            let v = t[r * ldt + j];
            *d.add(j) = if acc { *d.add(j) + v } else { v };
        }
    }
}

/// `C[0..m, 0..n] (=|+=) A·B` for packed A (`ap`, [`pack_a`] layout over `k`)
/// and packed B (`bp`, [`pack_b`] layout over `k`).
///
/// # Safety
/// `ap`, `bp` hold packed operands of these sizes; `c` is writable over
/// `m` rows of stride `rsc` and `n` columns.
pub unsafe fn gemm_packed(m: usize, n: usize, k: usize, ap: *const f32, bp: *const f32, c: *mut f32, rsc: usize, acc: bool) {
    if m == 1 {
        gemv_packed(n, k, ap, MR, bp, c, acc);
        return;
    }
    pool::par_ranges(n.div_ceil(NR), m * k * NR, PANEL_ALIGN, |p0, p1| {
        let (j0, j1) = (p0 * NR, (p1 * NR).min(n));
        gemm_packed_serial(m, j1 - j0, k, ap, bp.add(p0 * k * NR), c.add(j0), rsc, acc);
    });
}

/// Column splits between threads fall on multiples of this many B panels: the
/// GEMV path groups panels by three ([`kernel_1x24`]), so a split elsewhere
/// would change which kernel (and summation order) computes a column.
const PANEL_ALIGN: usize = 3;

/// [`gemm_packed`] on the calling thread.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_packed_serial(m: usize, n: usize, k: usize, ap: *const f32, bp: *const f32, c: *mut f32, rsc: usize, acc: bool) {
    let mut tile = [0.0f32; MR * NR];
    for j0 in (0..n).step_by(NR) {
        let cols = NR.min(n - j0);
        let bpanel = bp.add((j0 / NR) * k * NR);
        for i0 in (0..m).step_by(MR) {
            let rows = MR.min(m - i0);
            let apanel = ap.add((i0 / MR) * k * MR);
            let cptr = c.add(i0 * rsc + j0);
            if rows == MR && cols == NR {
                kernel(k, apanel, bpanel, cptr, rsc, acc);
            } else if rows <= 2 && cols == NR {
                // A short last panel (B = 32 leaves 2 rows with MR = 5): one
                // row at a time costs ~10 instructions per k against the full
                // tile's ~19.
                for r in 0..rows {
                    kernel_1x8(k, apanel.add(r), MR, bpanel, cptr.add(r * rsc), acc);
                }
            } else {
                kernel(k, apanel, bpanel, tile.as_mut_ptr(), NR, false);
                store_edge(&tile, NR, rows, cols, cptr, rsc, acc);
            }
        }
    }
}

/// `c[0..n] (=|+=) a · B` for one row `a` (read with stride `sa`) and packed B.
///
/// # Safety
/// As [`gemm_packed`] with `m = 1`.
pub unsafe fn gemv_packed(n: usize, k: usize, a: *const f32, sa: usize, bp: *const f32, c: *mut f32, acc: bool) {
    pool::par_ranges(n.div_ceil(NR), k * NR, PANEL_ALIGN, |p0, p1| {
        let (j0, j1) = (p0 * NR, (p1 * NR).min(n));
        gemv_packed_serial(j1 - j0, k, a, sa, bp.add(p0 * k * NR), c.add(j0), acc);
    });
}

/// [`gemv_packed`] on the calling thread.
unsafe fn gemv_packed_serial(n: usize, k: usize, a: *const f32, sa: usize, bp: *const f32, c: *mut f32, acc: bool) {
    let panels = n.div_ceil(NR);
    let full = n / NR; // panels whose 8 columns all exist
    let mut p = 0;
    while p + 3 <= full {
        kernel_1x24(k, a, sa, bp.add(p * k * NR), c.add(p * NR), acc);
        p += 3;
    }
    while p < full {
        kernel_1x8(k, a, sa, bp.add(p * k * NR), c.add(p * NR), acc);
        p += 1;
    }
    if p < panels {
        let mut tile = [0.0f32; NR];
        kernel_1x8(k, a, sa, bp.add(p * k * NR), tile.as_mut_ptr(), false);
        store_edge(&tile, NR, 1, n - p * NR, c.add(p * NR), 0, acc);
    }
}

/// Scratch for [`sgemm`]'s packing: allocated on a thread's first call and
/// reused by every later one (per thread, so host tests and wasm threads
/// never share it).
struct PackBuffers {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static PACK: core::cell::UnsafeCell<Option<PackBuffers>> = const { core::cell::UnsafeCell::new(None) };
}

/// Allocate this thread's packing buffers now (a helper thread does so before
/// its first job rather than in the middle of one).
pub fn reserve_pack_buffers() {
    pack_buffers();
}

fn pack_buffers() -> (*mut f32, *mut f32) {
    PACK.with(|p| {
        // Safety: only this thread touches its buffers, and no reference
        // escapes this closure: callers get raw pointers.
        let bufs =
            unsafe { &mut *p.get() }.get_or_insert_with(|| PackBuffers { a: vec![0.0; packed_a_len(MC, KC)], b: vec![0.0; KC * NC] });
        (bufs.a.as_mut_ptr(), bufs.b.as_mut_ptr())
    })
}

/// General `C[0..m, 0..n] (=|+=) A[0..m, 0..k] · B[0..k, 0..n]`.
///
/// With `k == 0` and `acc == false`, C is zeroed.
///
/// # Safety
/// The views must be readable over their extents; `c` writable over `m`
/// rows of stride `rsc` and `n` columns; C must not alias A or B.
pub unsafe fn sgemm(m: usize, n: usize, k: usize, a: MatRef, b: MatRef, c: *mut f32, rsc: usize, acc: bool) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            for r in 0..m {
                core::ptr::write_bytes(c.add(r * rsc), 0, n);
            }
        }
        return;
    }
    // Split the larger of M and N between threads: each thread packs its own
    // share of that operand and all of the other (the smaller) one. Splits
    // fall on MC rows or 3·NR columns, so every element is computed exactly as
    // in a serial run (see PANEL_ALIGN).
    if m > n {
        pool::par_ranges(m, n * k, MC, |i0, i1| {
            sgemm_serial(i1 - i0, n, k, MatRef::new(a.at(i0, 0), a.rs, a.cs), b, c.add(i0 * rsc), rsc, acc);
        });
    } else {
        pool::par_ranges(n, m * k, PANEL_ALIGN * NR, |j0, j1| {
            sgemm_serial(m, j1 - j0, k, a, MatRef::new(b.at(0, j0), b.rs, b.cs), c.add(j0), rsc, acc);
        });
    }
}

/// [`sgemm`] on the calling thread, with its own packing buffers.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_serial(m: usize, n: usize, k: usize, a: MatRef, b: MatRef, c: *mut f32, rsc: usize, acc: bool) {
    let (abuf, bbuf) = pack_buffers();
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let accumulate = acc || pc > 0;
            pack_b(kc, nc, MatRef::new(b.at(pc, jc), b.rs, b.cs), bbuf);
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                let ablock = MatRef::new(a.at(ic, pc), a.rs, a.cs);
                if mc == 1 {
                    gemv_packed_serial(nc, kc, ablock.ptr, ablock.cs, bbuf, c.add(ic * rsc + jc), accumulate);
                    continue;
                }
                pack_a(mc, kc, ablock, abuf);
                gemm_packed_serial(mc, nc, kc, abuf, bbuf, c.add(ic * rsc + jc), rsc, accumulate);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a[i * k + p] as f64 * b[p * n + j] as f64;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn rand_vec(len: usize, seed: &mut u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Every shape in a sweep of odd sizes, both `acc` modes, both operand
    /// orientations; C starts NaN-filled outside the written region check and
    /// with known values for accumulation.
    #[test]
    fn sgemm_matches_reference_over_odd_sizes() {
        let mut seed = 42u64;
        let sizes = [1usize, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 65, 130, 257, 300];
        for &m in &[1usize, 2, 3, 4, 5, 7, 9, 33, 65, 70] {
            for &n in &sizes {
                for &k in &[1usize, 3, 8, 13, 255, 256, 257, 520] {
                    if m * n * k > 3_000_000 {
                        continue;
                    }
                    let a = rand_vec(m * k, &mut seed);
                    let b = rand_vec(k * n, &mut seed);
                    let want = reference(m, n, k, &a, &b);
                    // Transposed copies to exercise strided packing.
                    let mut at = vec![0.0f32; m * k];
                    for i in 0..m {
                        for p in 0..k {
                            at[p * m + i] = a[i * k + p];
                        }
                    }
                    let mut bt = vec![0.0f32; k * n];
                    for p in 0..k {
                        for j in 0..n {
                            bt[j * k + p] = b[p * n + j];
                        }
                    }
                    for variant in 0..4 {
                        let av = if variant & 1 == 0 { MatRef::rows(a.as_ptr(), k) } else { MatRef::t(at.as_ptr(), m) };
                        let bv = if variant & 2 == 0 { MatRef::rows(b.as_ptr(), n) } else { MatRef::t(bt.as_ptr(), k) };
                        let ldc = n + 3;
                        let mut c = vec![f32::NAN; m * ldc];
                        unsafe { sgemm(m, n, k, av, bv, c.as_mut_ptr(), ldc, false) };
                        let mut c2 = vec![0.5f32; m * ldc];
                        unsafe { sgemm(m, n, k, av, bv, c2.as_mut_ptr(), ldc, true) };
                        for i in 0..m {
                            for j in 0..n {
                                let w = want[i * n + j];
                                let tol = 1e-5 * (k as f64).sqrt() * (1.0 + w.abs());
                                let g = c[i * ldc + j] as f64;
                                assert!((g - w).abs() <= tol, "m{m} n{n} k{k} v{variant} ({i},{j}): {g} vs {w}");
                                let g2 = c2[i * ldc + j] as f64;
                                assert!((g2 - 0.5 - w).abs() <= tol + 1e-6, "acc m{m} n{n} k{k} v{variant} ({i},{j}): {g2} vs {w}");
                            }
                            for j in n..ldc {
                                assert!(c[i * ldc + j].is_nan(), "wrote past n at ({i},{j})");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn packed_gemm_and_gemv_match_reference() {
        let mut seed = 7u64;
        for &(m, n, k) in &[(1usize, 1024usize, 256usize), (1, 37, 5), (1, 40, 3), (2, 33, 17), (32, 1024, 256), (5, 9, 1)] {
            let a = rand_vec(m * k, &mut seed);
            let b = rand_vec(k * n, &mut seed);
            let want = reference(m, n, k, &a, &b);
            let mut ap = vec![0.0; packed_a_len(m, k)];
            let mut bp = vec![0.0; packed_b_len(k, n)];
            let mut c = vec![f32::NAN; m * n];
            unsafe {
                pack_a(m, k, MatRef::rows(a.as_ptr(), k), ap.as_mut_ptr());
                pack_b(k, n, MatRef::rows(b.as_ptr(), n), bp.as_mut_ptr());
                gemm_packed(m, n, k, ap.as_ptr(), bp.as_ptr(), c.as_mut_ptr(), n, false);
            }
            for i in 0..m * n {
                assert!((c[i] as f64 - want[i]).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want[i].abs()), "({m},{n},{k}) at {i}");
            }
            if m == 1 {
                let mut c1 = vec![f32::NAN; n];
                unsafe { gemv_packed(n, k, a.as_ptr(), 1, bp.as_ptr(), c1.as_mut_ptr(), false) };
                for i in 0..n {
                    assert!((c1[i] as f64 - want[i]).abs() <= 1e-5 * (k as f64).sqrt() * (1.0 + want[i].abs()));
                }
            }
        }
    }

    /// Split between threads, every product equals the serial one bit for bit.
    #[test]
    #[cfg(not(target_arch = "wasm32"))] // native helper threads
    fn threaded_products_equal_serial_bit_for_bit() {
        crate::pool::start_native(3);
        let mut seed = 11u64;
        for &(m, n, k) in &[
            (1usize, 1024usize, 320usize),
            (1, 203, 77),
            (32, 1024, 256),
            (7, 259, 300),
            (1600, 1024, 64),
            (1024, 256, 1600),
            (65, 300, 257),
        ] {
            let a = rand_vec(m * k, &mut seed);
            let b = rand_vec(k * n, &mut seed);
            let (av, bv) = (MatRef::rows(a.as_ptr(), k), MatRef::rows(b.as_ptr(), n));
            let mut serial = vec![0.25f32; m * n];
            let mut threaded = serial.clone();
            unsafe {
                sgemm_serial(m, n, k, av, bv, serial.as_mut_ptr(), n, true);
                sgemm(m, n, k, av, bv, threaded.as_mut_ptr(), n, true);
            }
            assert!(serial.iter().zip(&threaded).all(|(x, y)| x.to_bits() == y.to_bits()), "sgemm {m}x{n}x{k}");
            let mut ap = vec![0.0; packed_a_len(m, k)];
            let mut bp = vec![0.0; packed_b_len(k, n)];
            let mut s2 = vec![0.0f32; m * n];
            let mut t2 = vec![1.0f32; m * n];
            unsafe {
                pack_a(m, k, av, ap.as_mut_ptr());
                pack_b(k, n, bv, bp.as_mut_ptr());
                if m == 1 {
                    gemv_packed_serial(n, k, a.as_ptr(), 1, bp.as_ptr(), s2.as_mut_ptr(), false);
                    gemv_packed(n, k, a.as_ptr(), 1, bp.as_ptr(), t2.as_mut_ptr(), false);
                } else {
                    gemm_packed_serial(m, n, k, ap.as_ptr(), bp.as_ptr(), s2.as_mut_ptr(), n, false);
                    gemm_packed(m, n, k, ap.as_ptr(), bp.as_ptr(), t2.as_mut_ptr(), n, false);
                }
            }
            assert!(s2.iter().zip(&t2).all(|(x, y)| x.to_bits() == y.to_bits()), "packed {m}x{n}x{k}");
        }
    }

    #[test]
    fn k_zero_clears_or_keeps() {
        let a = [0.0f32; 1];
        let mut c = vec![3.0f32; 6];
        unsafe { sgemm(2, 3, 0, MatRef::rows(a.as_ptr(), 0), MatRef::rows(a.as_ptr(), 3), c.as_mut_ptr(), 3, true) };
        assert_eq!(c, vec![3.0; 6]);
        unsafe { sgemm(2, 3, 0, MatRef::rows(a.as_ptr(), 0), MatRef::rows(a.as_ptr(), 3), c.as_mut_ptr(), 3, false) };
        assert_eq!(c, vec![0.0; 6]);
    }
}

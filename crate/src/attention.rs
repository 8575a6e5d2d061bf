//! Attention over a batch, forward and backward, in one call each: Luong
//! (dot-product) and Bahdanau (additive) scores, one or several heads, with
//! or without the query/key/value/output projections of multi-head
//! attention.
//!
//! ```text
//! Q = q·Wqᵀ + bq   K = k·Wkᵀ + bk   V = v·Wvᵀ + bv      (projecting; else Q = q, K = k, V = v)
//! per sample b and head h (columns h·dk.. of Q and K, h·dv.. of V):
//!   dot       S = c · w · Q_h K_hᵀ                          (c fixed, w learned scalar or 1)
//!   additive  S[i, j] = Σ_d w[d] · tanh(Q[i, d] + K[j, d])  (w learned vector or 1)
//!   P = softmax_j(S) over the valid keys of row i, 0 elsewhere
//!   C_h = P · V_h
//! out = C·Woᵀ + bo (projecting; else out = C), rows of padded queries 0
//! ```
//!
//! Valid keys of query row `i`: `j < kv_len[b]`, and `j ≤ i` with the causal
//! flag — always a prefix of the row, so the softmax runs on a prefix. A
//! query row `i ≥ q_len[b]` (padding) attends nothing: its weights and output
//! are 0, and no gradient flows through it. A row with no valid key likewise.
//!
//! The projections are whole-batch GEMMs (parallel inside); the per-(sample,
//! head) work is one task each, spread over the pool, each task's numbers
//! computed by the same instructions whatever the thread count. The learned
//! scale's gradient is summed per task, then over tasks in order.
//!
//! The weights `P` are kept (`probs [B, H, Tq, Tv]`): backward needs them and
//! `returnAttentionScores` returns them.

use crate::activations::tanh;
use crate::cells::add_column_sums;
use crate::decl::{codes, named_consts, words};
use crate::dense::softmax_rows;
use crate::gemm::{sgemm, MatRef};
use crate::pool;
use crate::region::Check;
use crate::simd::{for_lanes, F32x4};
use crate::status::Status;

codes! {
    /// How queries and keys are scored.
    pub enum Score {
        Dot = 0,
        Additive = 1,
    }
}

named_consts! {
    /// Bits of `Attn::flags`.
    pub FLAGS: u32 {
        /// Query row `i` sees keys `j ≤ i` only.
        CAUSAL = 1,
        /// Project queries, keys, values (`wq`, `wk`, `wv`, biases optional) and the output (`wo`, `bo`).
        PROJECT = 2,
    }
}

words! {
    /// One attention call: geometry, flags and every region (byte offsets, 0 =
    /// absent), passed as `LEN` u32 from JavaScript in field order.
    pub struct Attn: [u32] {
        batch,
        q_steps,
        kv_steps,
        /// Input widths of q, k, v.
        q_features,
        k_features,
        v_features,
        heads,
        /// Per head: query/key width and value width.
        key_dim,
        value_dim,
        out_features,
        /// A `Score`.
        score,
        flags,
        /// The fixed factor `c` of dot scores, as f32 bits (1/√dk for multi-head attention).
        factor,
        q,
        k,
        v,
        /// i32 `[B]` valid steps, or 0 (all).
        q_lengths,
        kv_lengths,
        wq,
        bq,
        wk,
        bk,
        wv,
        bv,
        wo,
        bo,
        /// The learned scale: `[1]` (dot) or `[key_dim]` (additive), or 0 (none: 1).
        scale,
        /// Projected `[B, Tq, H·dk]`, `[B, Tv, H·dk]`, `[B, Tv, H·dv]` (projecting; else unused).
        qp,
        kp,
        vp,
        /// The heads' outputs `[B, Tq, H·dv]` (projecting; else `out` itself is used).
        ctx,
        /// The attention weights `[B, H, Tq, Tv]`.
        probs,
        out,
    }
}

words! {
    /// Where [`backward`] writes: input gradients (overwritten; 0 = not
    /// wanted), parameter gradients (accumulated), and scratch.
    pub struct AttnGrads: [u32] {
        /// `[B, Tq, out_features]`, the output's gradient (overwritten: padded rows cleared).
        dout,
        dq,
        dk,
        dv,
        dwq,
        dbq,
        dwk,
        dbk,
        dwv,
        dbv,
        dwo,
        dbo,
        dscale,
        /// Scratch: `[B, Tq, H·dk]`, `[B, Tv, H·dk]`, `[B, Tv, H·dv]`, `[B, Tq, H·dv]` (projecting).
        dqp,
        dkp,
        dvp,
        dctx,
        /// Scratch `[B, H, Tq, Tv]`.
        dprobs,
        /// The gradient arriving at the weights themselves (`returnAttentionScores` read by a loss), `[B, H, Tq, Tv]`, or 0.
        dweights,
        /// Scratch `[B·H·max(1, key_dim)]`: each task's share of the scale's gradient.
        dparts,
    }
}

/// A checked call in `usize`, with the strides of the tensors the heads read.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub b: usize,
    pub tq: usize,
    pub tv: usize,
    pub fq: usize,
    pub fk: usize,
    pub fv: usize,
    pub h: usize,
    pub dk: usize,
    pub dv: usize,
    pub fo: usize,
    pub score: Score,
    pub causal: bool,
    pub project: bool,
    pub factor: f32,
}

impl Geometry {
    /// Positive sizes whose products fit; without projections one head whose
    /// widths are the inputs' (`dk = fq = fk`, `dv = fv = fo`).
    pub fn new(a: &Attn) -> Option<Geometry> {
        let u = |v: u32| v as usize;
        let g = Geometry {
            b: u(a.batch),
            tq: u(a.q_steps),
            tv: u(a.kv_steps),
            fq: u(a.q_features),
            fk: u(a.k_features),
            fv: u(a.v_features),
            h: u(a.heads),
            dk: u(a.key_dim),
            dv: u(a.value_dim),
            fo: u(a.out_features),
            score: Score::from_u32(a.score)?,
            causal: a.flags & CAUSAL != 0,
            project: a.flags & PROJECT != 0,
            factor: f32::from_bits(a.factor),
        };
        if a.flags & !(CAUSAL | PROJECT) != 0 || !g.factor.is_finite() {
            return None;
        }
        if [g.b, g.tq, g.tv, g.fq, g.fk, g.fv, g.h, g.dk, g.dv, g.fo].contains(&0) {
            return None;
        }
        if !g.project && (g.h != 1 || g.dk != g.fq || g.dk != g.fk || g.dv != g.fv || g.fo != g.fv) {
            return None;
        }
        // every region's size below, in floats, must fit
        let wide = g.fq.max(g.fk).max(g.fv).max(g.fo).max(g.h.checked_mul(g.dk.max(g.dv))?);
        g.b.checked_mul(g.tq.max(g.tv))?.checked_mul(wide)?;
        g.b.checked_mul(g.h)?.checked_mul(g.tq)?.checked_mul(g.tv)?.checked_mul(4)?;
        wide.checked_mul(wide)?;
        Some(g)
    }

    /// Floats of each region `Attn` names, in its field order from `q` (0 where the geometry has none).
    pub fn sizes(&self) -> AttnSizes {
        let (b, tq, tv, h) = (self.b, self.tq, self.tv, self.h);
        let p = self.project;
        let scale = match self.score {
            Score::Dot => 1,
            Score::Additive => self.dk,
        };
        let pj = |n: usize| if p { n } else { 0 };
        AttnSizes {
            q: b * tq * self.fq,
            k: b * tv * self.fk,
            v: b * tv * self.fv,
            lengths: b,
            wq: pj(h * self.dk * self.fq),
            bq: pj(h * self.dk),
            wk: pj(h * self.dk * self.fk),
            bk: pj(h * self.dk),
            wv: pj(h * self.dv * self.fv),
            bv: pj(h * self.dv),
            wo: pj(self.fo * h * self.dv),
            bo: pj(self.fo),
            scale,
            qp: pj(b * tq * h * self.dk),
            kp: pj(b * tv * h * self.dk),
            vp: pj(b * tv * h * self.dv),
            ctx: pj(b * tq * h * self.dv),
            probs: b * h * tq * tv,
            out: b * tq * self.fo,
            parts: b * h * scale,
        }
    }
}

/// Region sizes in floats (see [`Geometry::sizes`]).
#[derive(Clone, Copy, Debug)]
pub struct AttnSizes {
    pub q: usize,
    pub k: usize,
    pub v: usize,
    pub lengths: usize,
    pub wq: usize,
    pub bq: usize,
    pub wk: usize,
    pub bk: usize,
    pub wv: usize,
    pub bv: usize,
    pub wo: usize,
    pub bo: usize,
    pub scale: usize,
    pub qp: usize,
    pub kp: usize,
    pub vp: usize,
    pub ctx: usize,
    pub probs: usize,
    pub out: usize,
    pub parts: usize,
}

/// Raw pointers of a call (null where absent).
pub struct Ptrs {
    pub q: *const f32,
    pub k: *const f32,
    pub v: *const f32,
    pub q_len: *const i32,
    pub kv_len: *const i32,
    pub wq: *const f32,
    pub bq: *const f32,
    pub wk: *const f32,
    pub bk: *const f32,
    pub wv: *const f32,
    pub bv: *const f32,
    pub wo: *const f32,
    pub bo: *const f32,
    pub scale: *const f32,
    pub qp: *mut f32,
    pub kp: *mut f32,
    pub vp: *mut f32,
    pub ctx: *mut f32,
    pub probs: *mut f32,
    pub out: *mut f32,
}

/// Gradient pointers (null where not wanted / absent).
pub struct GradPtrs {
    pub dout: *mut f32,
    pub dq: *mut f32,
    pub dk: *mut f32,
    pub dv: *mut f32,
    pub dwq: *mut f32,
    pub dbq: *mut f32,
    pub dwk: *mut f32,
    pub dbk: *mut f32,
    pub dwv: *mut f32,
    pub dbv: *mut f32,
    pub dwo: *mut f32,
    pub dbo: *mut f32,
    pub dscale: *mut f32,
    pub dqp: *mut f32,
    pub dkp: *mut f32,
    pub dvp: *mut f32,
    pub dctx: *mut f32,
    pub dprobs: *mut f32,
    pub dweights: *const f32,
    pub dparts: *mut f32,
}

/// A call's words checked: the geometry, and every region they name inside
/// memory, sized for the geometry, added to `ck` (the caller checks them
/// disjoint). `training`: the backward's view (the forward's outputs are read).
/// Lengths are checked to lie in `[0, T]` (the kernels clamp them too).
pub fn checked(ck: &mut Check, a: &Attn, training: bool) -> Result<(Geometry, Ptrs), Status> {
    let g = Geometry::new(a).ok_or(Status::BadShape)?;
    let s = g.sizes();
    let u = |v: u32| v as usize;
    let pj = g.project;
    ck.add(u(a.q), Some(s.q), false, true)?;
    ck.add(u(a.k), Some(s.k), false, true)?;
    ck.add(u(a.v), Some(s.v), false, true)?;
    ck.add(u(a.q_lengths), Some(s.lengths), false, false)?;
    ck.add(u(a.kv_lengths), Some(s.lengths), false, false)?;
    ck.add(u(a.wq), Some(s.wq), false, pj)?;
    ck.add(u(a.bq), Some(s.bq), false, false)?;
    ck.add(u(a.wk), Some(s.wk), false, pj)?;
    ck.add(u(a.bk), Some(s.bk), false, false)?;
    ck.add(u(a.wv), Some(s.wv), false, pj)?;
    ck.add(u(a.bv), Some(s.bv), false, false)?;
    ck.add(u(a.wo), Some(s.wo), false, pj)?;
    ck.add(u(a.bo), Some(s.bo), false, false)?;
    ck.add(u(a.scale), Some(s.scale), false, false)?;
    // the forward writes these; the backward reads them
    ck.add(u(a.qp), Some(s.qp), !training, pj)?;
    ck.add(u(a.kp), Some(s.kp), !training, pj)?;
    ck.add(u(a.vp), Some(s.vp), !training, pj)?;
    ck.add(u(a.ctx), Some(s.ctx), !training, pj)?;
    ck.add(u(a.probs), Some(s.probs), !training, true)?;
    ck.add(u(a.out), Some(s.out), !training, !training)?;
    for (l, t) in [(u(a.q_lengths), g.tq), (u(a.kv_lengths), g.tv)] {
        if l != 0 && unsafe { core::slice::from_raw_parts(l as *const i32, g.b) }.iter().any(|&v| v < 0 || v as usize > t) {
            return Err(Status::OutOfRange);
        }
    }
    Ok((g, pointers(a, &g)))
}

/// The pointers of a call's words (biases only where projecting: without
/// projections they are never read).
pub fn pointers(a: &Attn, g: &Geometry) -> Ptrs {
    let pj = g.project;
    let f = |v: u32| v as usize as *const f32;
    let m = |v: u32| v as usize as *mut f32;
    Ptrs {
        q: f(a.q),
        k: f(a.k),
        v: f(a.v),
        q_len: a.q_lengths as usize as *const i32,
        kv_len: a.kv_lengths as usize as *const i32,
        wq: f(a.wq),
        bq: if pj { f(a.bq) } else { core::ptr::null() },
        wk: f(a.wk),
        bk: if pj { f(a.bk) } else { core::ptr::null() },
        wv: f(a.wv),
        bv: if pj { f(a.bv) } else { core::ptr::null() },
        wo: f(a.wo),
        bo: if pj { f(a.bo) } else { core::ptr::null() },
        scale: f(a.scale),
        qp: m(a.qp),
        kp: m(a.kp),
        vp: m(a.vp),
        ctx: m(a.ctx),
        probs: m(a.probs),
        out: m(a.out),
    }
}

/// Valid steps of sample `b` (all `t` when `lengths` is null).
#[inline(always)]
unsafe fn valid(lengths: *const i32, b: usize, t: usize) -> usize {
    if lengths.is_null() {
        t
    } else {
        (*lengths.add(b)).clamp(0, t as i32) as usize
    }
}

/// Keys query row `i` of sample `b` sees: a prefix of this length (0 for a padded query).
#[inline(always)]
unsafe fn row_keys(g: &Geometry, p: &Ptrs, b: usize, i: usize) -> usize {
    if i >= valid(p.q_len, b, g.tq) {
        return 0;
    }
    let n = valid(p.kv_len, b, g.tv);
    if g.causal {
        n.min(i + 1)
    } else {
        n
    }
}

/// `y [rows, n] = x [rows, m] · wᵀ + b` (`w [n, m]`, `b` may be null).
#[inline(never)]
unsafe fn project(rows: usize, m: usize, n: usize, x: *const f32, w: *const f32, b: *const f32, y: *mut f32) {
    crate::dense::forward(rows, m, n, x, w, b, y, crate::dense::Act::Linear);
}

/// The (Q, K, V, C) views heads read: base pointers and row strides.
struct Views {
    q: *const f32,
    k: *const f32,
    v: *const f32,
    c: *mut f32,
    lq: usize,
    lk: usize,
    lv: usize,
    lc: usize,
}

unsafe fn views(g: &Geometry, p: &Ptrs) -> Views {
    if g.project {
        Views { q: p.qp, k: p.kp, v: p.vp, c: p.ctx, lq: g.h * g.dk, lk: g.h * g.dk, lv: g.h * g.dv, lc: g.h * g.dv }
    } else {
        Views { q: p.q, k: p.k, v: p.v, c: p.out, lq: g.fq, lk: g.fk, lv: g.fv, lc: g.fo }
    }
}

/// `S[i, 0..n] = Σ_d w[d]·tanh(q[i, d] + k[j, d])` for one head (`w` null: 1).
unsafe fn additive_scores(
    g: &Geometry,
    q: *const f32,
    lq: usize,
    k: *const f32,
    lk: usize,
    w: *const f32,
    s: *mut f32,
    keys: impl Fn(usize) -> usize,
) {
    let dk = g.dk;
    for i in 0..g.tq {
        let n = keys(i);
        let qi = q.add(i * lq);
        for j in 0..n {
            let kj = k.add(j * lk);
            let mut acc = F32x4::zero();
            for_lanes(dk, |l| {
                let t = tanh(l.load(qi).add(l.load(kj)));
                let t = if w.is_null() { t } else { t.mul(l.load(w)) };
                // lanes past dk load 0 + 0 → tanh 0: they add nothing
                acc = acc.add(t);
            });
            *s.add(i * g.tv + j) = acc.sum();
        }
    }
}

/// One (sample, head) of [`forward`]: its scores, weights and output block.
/// Not inlined: one copy serves the serial and the parallel path.
#[inline(never)]
unsafe fn forward_task(g: &Geometry, p: &Ptrs, vw: &Views, c: f32, task: usize) {
    let (tq, tv, h, dk, dv) = (g.tq, g.tv, g.h, g.dk, g.dv);
    let (bi, hi) = (task / h, task % h);
    let qh = vw.q.add(bi * tq * vw.lq + hi * dk);
    let kh = vw.k.add(bi * tv * vw.lk + hi * dk);
    let vh = vw.v.add(bi * tv * vw.lv + hi * dv);
    let ch = vw.c.add(bi * tq * vw.lc + hi * dv);
    let s = p.probs.add(task * tq * tv);
    match g.score {
        Score::Dot => sgemm(tq, tv, dk, MatRef::rows(qh, vw.lq), MatRef::t(kh, vw.lk), s, tv, false),
        Score::Additive => additive_scores(g, qh, vw.lq, kh, vw.lk, p.scale, s, |i| row_keys(g, p, bi, i)),
    }
    for i in 0..tq {
        let n = row_keys(g, p, bi, i);
        let row = s.add(i * tv);
        if n > 0 {
            if c != 1.0 {
                let cv = F32x4::splat(c);
                for_lanes(n, |l| l.store(l.load(row).mul(cv), row));
            }
            softmax_rows(row, 1, n);
        }
        core::ptr::write_bytes(row.add(n), 0, tv - n);
    }
    // C_h = P · V_h (padded query rows of P are 0, so theirs are too)
    sgemm(tq, dv, tv, MatRef::rows(s, tv), MatRef::rows(vh, vw.lv), ch, vw.lc, false);
}

/// Forward (see the module comment). `probs` receives the weights.
///
/// # Safety
/// Every region sized as [`Geometry::sizes`]; written ones disjoint from the rest.
pub unsafe fn forward(g: &Geometry, p: &Ptrs) {
    let (b, tq, tv, h, dk, dv) = (g.b, g.tq, g.tv, g.h, g.dk, g.dv);
    if g.project {
        project(b * tq, g.fq, h * dk, p.q, p.wq, p.bq, p.qp);
        project(b * tv, g.fk, h * dk, p.k, p.wk, p.bk, p.kp);
        project(b * tv, g.fv, h * dv, p.v, p.wv, p.bv, p.vp);
    }
    let vw = views(g, p);
    let c = g.factor * if g.score == Score::Dot && !p.scale.is_null() { *p.scale } else { 1.0 };
    let tasks = b * h;
    let cost = tq * tv * (dk + dv);
    // tasks write disjoint blocks (their sample's rows, their head's columns)
    pool::par_rows(tasks, cost, |task| forward_task(g, p, &vw, c, task));
    if g.project {
        project(b * tq, h * dv, g.fo, p.ctx, p.wo, p.bo, p.out);
    }
    // padded queries output 0 (with projections the bias would leak in)
    clear_padded_rows(g, p.q_len, p.out, g.fo);
}

/// Zero rows `i ≥ q_len[b]` of a `[B, Tq, width]` tensor.
unsafe fn clear_padded_rows(g: &Geometry, q_len: *const i32, x: *mut f32, width: usize) {
    if q_len.is_null() {
        return;
    }
    for bi in 0..g.b {
        let n = valid(q_len, bi, g.tq);
        core::ptr::write_bytes(x.add((bi * g.tq + n) * width), 0, (g.tq - n) * width);
    }
}

/// `Σ a⊙b` over a `[rows, n]` block (row strides `la`, `lb`).
unsafe fn dot_block(rows: usize, n: usize, a: *const f32, la: usize, b: *const f32, lb: usize) -> f32 {
    let mut acc = F32x4::zero();
    for r in 0..rows {
        let (ar, br) = (a.add(r * la), b.add(r * lb));
        for_lanes(n, |l| acc = l.load(ar).mul_add(l.load(br), acc));
    }
    acc.sum()
}

/// What every task of [`backward`] reads besides the call's pointers.
struct BackCtx {
    vw: Views,
    /// The heads' output gradient `[B, Tq, ·]`.
    dctx: *const f32,
    /// Where the heads' Q, K, V gradients go (scratch or the inputs'), and their row strides.
    dq: *mut f32,
    dk: *mut f32,
    dv: *mut f32,
    lq: usize,
    lk: usize,
    lv: usize,
    learned: bool,
    c: f32,
    parts: usize,
}

/// One (sample, head) of [`backward`]. Not inlined, as [`forward_task`].
#[inline(never)]
unsafe fn backward_task(g: &Geometry, p: &Ptrs, d: &GradPtrs, bc: &BackCtx, task: usize) {
    let (tq, tv, h, dk, dv) = (g.tq, g.tv, g.h, g.dk, g.dv);
    let BackCtx { ref vw, dctx, dq, dk: dk_, dv: dv_, lq, lk, lv, learned, c, parts } = *bc;
    let (bi, hi) = (task / h, task % h);
    let qh = vw.q.add(bi * tq * vw.lq + hi * dk);
    let kh = vw.k.add(bi * tv * vw.lk + hi * dk);
    let vh = vw.v.add(bi * tv * vw.lv + hi * dv);
    let dch = dctx.add(bi * tq * (if g.project { h * dv } else { g.fo }) + hi * dv);
    let ldc = if g.project { h * dv } else { g.fo };
    let pr = p.probs.add(task * tq * tv);
    let dp = d.dprobs.add(task * tq * tv);
    // dV_h = Pᵀ · dC_h; dP = dC_h · V_hᵀ
    if !dv_.is_null() {
        sgemm(tv, dv, tq, MatRef::t(pr, tv), MatRef::rows(dch, ldc), dv_.add(bi * tv * lv + hi * dv), lv, false);
    }
    sgemm(tq, tv, dv, MatRef::rows(dch, ldc), MatRef::t(vh, vw.lv), dp, tv, false);
    if !d.dweights.is_null() {
        crate::elementwise::axpy(tq * tv, 1.0, d.dweights.add(task * tq * tv), dp);
    }
    // dS = P ⊙ (dP − Σ_j dP⊙P), row by row over the valid prefix
    for i in 0..tq {
        let n = row_keys(g, p, bi, i);
        let (prow, drow) = (pr.add(i * tv), dp.add(i * tv));
        let mut s = 0.0f32;
        for j in 0..n {
            s += *drow.add(j) * *prow.add(j);
        }
        let sv = F32x4::splat(s);
        for_lanes(n, |l| l.store(l.load(prow).mul(l.load(drow).sub(sv)), drow));
        core::ptr::write_bytes(drow.add(n), 0, tv - n);
    }
    let part = d.dparts.add(task * parts);
    match g.score {
        Score::Dot => {
            // G = dS · K_h; dQ_h = c·G; dK_h = c·dSᵀ·Q_h; d(w) = factor·Σ G⊙Q_h
            if !dq.is_null() {
                let dqh = dq.add(bi * tq * lq + hi * dk);
                sgemm(tq, dk, tv, MatRef::rows(dp, tv), MatRef::rows(kh, vw.lk), dqh, lq, false);
                if learned {
                    *part = g.factor * dot_block(tq, dk, dqh, lq, qh, vw.lq);
                }
                let cv = F32x4::splat(c);
                for r in 0..tq {
                    let row = dqh.add(r * lq);
                    for_lanes(dk, |l| l.store(l.load(row).mul(cv), row));
                }
            } else if learned {
                // no dQ wanted: Σ dS ⊙ Q_h K_hᵀ over the valid entries directly
                let mut acc = 0.0f32;
                for i in 0..tq {
                    for j in 0..row_keys(g, p, bi, i) {
                        acc += *dp.add(i * tv + j) * dot_block(1, dk, qh.add(i * vw.lq), 0, kh.add(j * vw.lk), 0);
                    }
                }
                *part = g.factor * acc;
            }
            if !dk_.is_null() {
                sgemm(tv, dk, tq, MatRef::t(dp, tv), MatRef::rows(qh, vw.lq), dk_.add(bi * tv * lk + hi * dk), lk, false);
                let cv = F32x4::splat(c);
                for r in 0..tv {
                    let row = dk_.add((bi * tv + r) * lk + hi * dk);
                    for_lanes(dk, |l| l.store(l.load(row).mul(cv), row));
                }
            }
        }
        Score::Additive => {
            let (dqh, dkh) = (
                if dq.is_null() { dq } else { dq.add(bi * tq * lq + hi * dk) },
                if dk_.is_null() { dk_ } else { dk_.add(bi * tv * lk + hi * dk) },
            );
            for r in 0..tq {
                if !dqh.is_null() {
                    core::ptr::write_bytes(dqh.add(r * lq), 0, dk);
                }
            }
            for r in 0..tv {
                if !dkh.is_null() {
                    core::ptr::write_bytes(dkh.add(r * lk), 0, dk);
                }
            }
            if learned {
                core::ptr::write_bytes(part, 0, dk);
            }
            let one = F32x4::splat(1.0);
            for i in 0..tq {
                let n = row_keys(g, p, bi, i);
                let qi = qh.add(i * vw.lq);
                for j in 0..n {
                    let ds = F32x4::splat(*dp.add(i * tv + j));
                    let kj = kh.add(j * vw.lk);
                    for_lanes(dk, |l| {
                        let t = tanh(l.load(qi).add(l.load(kj)));
                        let w = if p.scale.is_null() { one } else { l.load(p.scale) };
                        // d/d(q+k) of w·tanh(q+k) = w·(1 − t²)
                        let gz = ds.mul(w).mul(one.sub(t.mul(t)));
                        if !dqh.is_null() {
                            let at = dqh.add(i * lq);
                            l.store(l.load(at).add(gz), at);
                        }
                        if !dkh.is_null() {
                            let at = dkh.add(j * lk);
                            l.store(l.load(at).add(gz), at);
                        }
                        if learned {
                            l.store(l.load(part).add(ds.mul(t)), part);
                        }
                    });
                }
            }
        }
    }
}

/// Backward of the [`forward`] call with the same inputs, parameters,
/// workspace and `probs`. Input gradients are overwritten, parameter
/// gradients accumulated.
///
/// # Safety
/// As [`forward`], plus every gradient region sized as its value's.
pub unsafe fn backward(g: &Geometry, p: &Ptrs, d: &GradPtrs) {
    let (b, tq, tv, h, dk, dv) = (g.b, g.tq, g.tv, g.h, g.dk, g.dv);
    clear_padded_rows(g, p.q_len, d.dout, g.fo);
    let vw = views(g, p);
    // the heads' output gradient
    let dctx = if g.project {
        crate::gemm::sgemm(g.fo, h * dv, b * tq, MatRef::t(d.dout, g.fo), MatRef::rows(p.ctx, h * dv), d.dwo, h * dv, true);
        if !d.dbo.is_null() {
            add_column_sums(d.dbo, d.dout, b * tq, g.fo, g.fo);
        }
        sgemm(b * tq, h * dv, g.fo, MatRef::rows(d.dout, g.fo), MatRef::rows(p.wo, h * dv), d.dctx, h * dv, false);
        d.dctx as *const f32
    } else {
        d.dout as *const f32
    };
    // where the heads' gradients go: the projections' scratch, or the inputs' gradients
    let (dq, dk_, dv_, lq, lk, lv) =
        if g.project { (d.dqp, d.dkp, d.dvp, h * dk, h * dk, h * dv) } else { (d.dq, d.dk, d.dv, g.fq, g.fk, g.fv) };
    let learned = !p.scale.is_null() && !d.dscale.is_null();
    let c = g.factor * if g.score == Score::Dot && !p.scale.is_null() { *p.scale } else { 1.0 };
    let parts = if g.score == Score::Dot { 1 } else { dk };
    let tasks = b * h;
    let cost = tq * tv * (2 * dk + 2 * dv);
    let bc = BackCtx { vw, dctx, dq, dk: dk_, dv: dv_, lq, lk, lv, learned, c, parts };
    // tasks write disjoint blocks (their sample's rows, their head's columns)
    pool::par_rows(tasks, cost, |task| backward_task(g, p, d, &bc, task));
    if learned {
        // in task order: the same sum for any thread count
        for t in 0..tasks {
            for k in 0..parts {
                *d.dscale.add(k) += *d.dparts.add(t * parts + k);
            }
        }
    }
    if g.project {
        let back =
            |rows: usize, m: usize, n: usize, x: *const f32, w: *const f32, dy: *const f32, dw: *mut f32, db: *mut f32, dx: *mut f32| {
                sgemm(n, m, rows, MatRef::t(dy, n), MatRef::rows(x, m), dw, m, true);
                if !db.is_null() {
                    add_column_sums(db, dy, rows, n, n);
                }
                if !dx.is_null() {
                    sgemm(rows, m, n, MatRef::rows(dy, n), MatRef::rows(w, m), dx, m, false);
                }
            };
        back(b * tq, g.fq, h * dk, p.q, p.wq, d.dqp, d.dwq, d.dbq, d.dq);
        back(b * tv, g.fk, h * dk, p.k, p.wk, d.dkp, d.dwk, d.dbk, d.dk);
        back(b * tv, g.fv, h * dv, p.v, p.wv, d.dvp, d.dwv, d.dbv, d.dv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::uniform64 as lcg;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Every input and parameter of a call, in f64 (values exact in f32).
    #[derive(Clone)]
    struct Case {
        g: Geometry,
        q_len: Option<Vec<i32>>,
        kv_len: Option<Vec<i32>>,
        /// q, k, v, wq, bq, wk, bk, wv, bv, wo, bo, scale (empty where absent)
        t: [Vec<f64>; 12],
    }

    const NAMES: [&str; 12] = ["q", "k", "v", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "scale"];

    fn case(g: Geometry, lens: Option<(Vec<i32>, Vec<i32>)>, biases: bool, scale: bool, seed: &mut u64) -> Case {
        let s = g.sizes();
        let mut draw = |n: usize, amp: f64| (0..n).map(|_| lcg(seed) * amp).collect::<Vec<f64>>();
        let b = |n: usize| if biases { n } else { 0 };
        let t = [
            draw(s.q, 1.0),
            draw(s.k, 1.0),
            draw(s.v, 1.0),
            draw(s.wq, 0.6),
            draw(b(s.bq), 0.3),
            draw(s.wk, 0.6),
            draw(b(s.bk), 0.3),
            draw(s.wv, 0.6),
            draw(b(s.bv), 0.3),
            draw(s.wo, 0.6),
            draw(b(s.bo), 0.3),
            if scale { draw(s.scale, 1.0).iter().map(|v| 0.5 + v.abs()).collect() } else { vec![] },
        ];
        let (q_len, kv_len) = match lens {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        Case { g, q_len, kv_len, t }
    }

    fn proj(x: &[f64], rows: usize, m: usize, w: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut y = vec![0.0; rows * n];
        for r in 0..rows {
            for o in 0..n {
                y[r * n + o] = (0..m).map(|i| x[r * m + i] * w[o * m + i]).sum::<f64>() + b.get(o).copied().unwrap_or(0.0);
            }
        }
        y
    }

    /// The definition in f64: (out, probs).
    fn reference(c: &Case) -> (Vec<f64>, Vec<f64>) {
        let g = &c.g;
        let [q, k, v, wq, bq, wk, bk, wv, bv, wo, bo, scale] = &c.t;
        let (qp, kp, vp) = if g.project {
            (
                proj(q, g.b * g.tq, g.fq, wq, bq, g.h * g.dk),
                proj(k, g.b * g.tv, g.fk, wk, bk, g.h * g.dk),
                proj(v, g.b * g.tv, g.fv, wv, bv, g.h * g.dv),
            )
        } else {
            (q.clone(), k.clone(), v.clone())
        };
        let (lq, lk, lv) = (g.h * g.dk, g.h * g.dk, g.h * g.dv);
        let mut probs = vec![0.0; g.b * g.h * g.tq * g.tv];
        let mut ctx = vec![0.0; g.b * g.tq * g.h * g.dv];
        for b in 0..g.b {
            let ql = c.q_len.as_ref().map_or(g.tq, |l| l[b] as usize);
            let kl = c.kv_len.as_ref().map_or(g.tv, |l| l[b] as usize);
            for h in 0..g.h {
                for i in 0..ql {
                    let n = if g.causal { kl.min(i + 1) } else { kl };
                    if n == 0 {
                        continue;
                    }
                    let s: Vec<f64> = (0..n)
                        .map(|j| {
                            let qv = |d: usize| qp[(b * g.tq + i) * lq + h * g.dk + d];
                            let kv = |d: usize| kp[(b * g.tv + j) * lk + h * g.dk + d];
                            match g.score {
                                Score::Dot => {
                                    g.factor as f64 * scale.first().copied().unwrap_or(1.0) * (0..g.dk).map(|d| qv(d) * kv(d)).sum::<f64>()
                                }
                                Score::Additive => (0..g.dk).map(|d| scale.get(d).copied().unwrap_or(1.0) * (qv(d) + kv(d)).tanh()).sum(),
                            }
                        })
                        .collect();
                    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
                    for j in 0..n {
                        let pij = (s[j] - m).exp() / z;
                        probs[((b * g.h + h) * g.tq + i) * g.tv + j] = pij;
                        for e in 0..g.dv {
                            ctx[(b * g.tq + i) * g.h * g.dv + h * g.dv + e] += pij * vp[(b * g.tv + j) * lv + h * g.dv + e];
                        }
                    }
                }
            }
        }
        let mut out = if g.project { proj(&ctx, g.b * g.tq, g.h * g.dv, wo, bo, g.fo) } else { ctx };
        if let Some(l) = &c.q_len {
            for b in 0..g.b {
                for i in l[b] as usize..g.tq {
                    for o in 0..g.fo {
                        out[(b * g.tq + i) * g.fo + o] = 0.0;
                    }
                }
            }
        }
        (out, probs)
    }

    fn f32s(v: &[f64]) -> Vec<f32> {
        v.iter().map(|&x| x as f32).collect()
    }

    fn ptr(v: &[f32]) -> *const f32 {
        if v.is_empty() {
            core::ptr::null()
        } else {
            v.as_ptr()
        }
    }

    fn check(c: &Case, seed: &mut u64) {
        let g = c.g;
        let s = g.sizes();
        let t32: Vec<Vec<f32>> = c.t.iter().map(|v| f32s(v)).collect();
        let ql = c.q_len.clone().unwrap_or_default();
        let kl = c.kv_len.clone().unwrap_or_default();
        let mut work: Vec<Vec<f32>> = [s.qp, s.kp, s.vp, s.ctx, s.probs, s.out].iter().map(|&n| vec![f32::NAN; n]).collect();
        let w = |i: usize, work: &mut Vec<Vec<f32>>| if work[i].is_empty() { core::ptr::null_mut() } else { work[i].as_mut_ptr() };
        let p = Ptrs {
            q: ptr(&t32[0]),
            k: ptr(&t32[1]),
            v: ptr(&t32[2]),
            q_len: if ql.is_empty() { core::ptr::null() } else { ql.as_ptr() },
            kv_len: if kl.is_empty() { core::ptr::null() } else { kl.as_ptr() },
            wq: ptr(&t32[3]),
            bq: ptr(&t32[4]),
            wk: ptr(&t32[5]),
            bk: ptr(&t32[6]),
            wv: ptr(&t32[7]),
            bv: ptr(&t32[8]),
            wo: ptr(&t32[9]),
            bo: ptr(&t32[10]),
            scale: ptr(&t32[11]),
            qp: w(0, &mut work),
            kp: w(1, &mut work),
            vp: w(2, &mut work),
            ctx: w(3, &mut work),
            probs: w(4, &mut work),
            out: w(5, &mut work),
        };
        unsafe { forward(&g, &p) };
        let (want, want_p) = reference(c);
        let what = format!("{:?} causal {} project {} lens {:?}/{:?}", g.score, g.causal, g.project, c.q_len, c.kv_len);
        for (i, (a, e)) in work[5].iter().zip(&want).enumerate() {
            assert!((*a as f64 - e).abs() < 1e-5 * (1.0 + e.abs()), "{what}: out[{i}] {a} vs {e}");
        }
        for (i, (a, e)) in work[4].iter().zip(&want_p).enumerate() {
            assert!((*a as f64 - e).abs() < 1e-6, "{what}: probs[{i}] {a} vs {e}");
        }
        // gradients of L = Σ out ⊙ wy
        let wy: Vec<f64> = (0..s.out).map(|_| lcg(seed)).collect();
        let mut dout = f32s(&wy);
        // and a loss on the weights: L += Σ probs ⊙ wp
        let wp: Vec<f64> = (0..s.probs).map(|_| lcg(seed)).collect();
        let dweights = f32s(&wp);
        let mut grads: Vec<Vec<f32>> = c.t.iter().map(|v| vec![0.0f32; v.len()]).collect();
        let mut scratch: Vec<Vec<f32>> = [s.qp, s.kp, s.vp, s.ctx, s.probs, s.parts].iter().map(|&n| vec![f32::NAN; n]).collect();
        let gp = |v: &mut Vec<f32>| if v.is_empty() { core::ptr::null_mut() } else { v.as_mut_ptr() };
        let d = GradPtrs {
            dout: dout.as_mut_ptr(),
            dq: gp(&mut grads[0]),
            dk: gp(&mut grads[1]),
            dv: gp(&mut grads[2]),
            dwq: gp(&mut grads[3]),
            dbq: gp(&mut grads[4]),
            dwk: gp(&mut grads[5]),
            dbk: gp(&mut grads[6]),
            dwv: gp(&mut grads[7]),
            dbv: gp(&mut grads[8]),
            dwo: gp(&mut grads[9]),
            dbo: gp(&mut grads[10]),
            dscale: gp(&mut grads[11]),
            dqp: gp(&mut scratch[0]),
            dkp: gp(&mut scratch[1]),
            dvp: gp(&mut scratch[2]),
            dctx: gp(&mut scratch[3]),
            dprobs: gp(&mut scratch[4]),
            dweights: dweights.as_ptr(),
            dparts: gp(&mut scratch[5]),
        };
        unsafe { backward(&g, &p, &d) };
        let loss = |c: &Case| -> f64 {
            let (out, probs) = reference(c);
            out.iter().zip(&wy).map(|(a, b)| a * b).sum::<f64>() + probs.iter().zip(&wp).map(|(a, b)| a * b).sum::<f64>()
        };
        let eps = 1e-6;
        for (which, got) in grads.iter().enumerate() {
            for (i, a) in got.iter().enumerate() {
                let mut cp = c.clone();
                cp.t[which][i] += eps;
                let lp = loss(&cp);
                cp.t[which][i] -= 2.0 * eps;
                let n = (lp - loss(&cp)) / (2.0 * eps);
                let e = (*a as f64 - n).abs() / (a.abs() as f64).max(n.abs()).max(1e-2);
                assert!(e < 2e-3, "{what}: d{}[{i}] {a} vs {n}", NAMES[which]);
            }
        }
    }

    fn geometry(score: Score, project: bool, causal: bool, dims: [usize; 10], factor: f32) -> Geometry {
        let [b, tq, tv, fq, fk, fv, h, dk, dv, fo] = dims.map(|v| v as u32);
        Geometry::new(&Attn {
            batch: b,
            q_steps: tq,
            kv_steps: tv,
            q_features: fq,
            k_features: fk,
            v_features: fv,
            heads: h,
            key_dim: dk,
            value_dim: dv,
            out_features: fo,
            score: score as u32,
            flags: if causal { CAUSAL } else { 0 } | if project { PROJECT } else { 0 },
            factor: factor.to_bits(),
            ..Default::default()
        })
        .expect("valid geometry")
    }

    #[test]
    fn dot_attention_with_masks_causality_and_a_learned_scale() {
        let mut seed = 3;
        let lens = || Some((vec![3, 2], vec![4, 1]));
        for (causal, l, scale) in [(false, None, false), (false, lens(), true), (true, None, true), (true, lens(), false)] {
            let g = geometry(Score::Dot, false, causal, [2, 3, 4, 5, 5, 3, 1, 5, 3, 3], 1.0);
            let c = case(g, l, false, scale, &mut seed);
            check(&c, &mut seed);
        }
    }

    #[test]
    fn additive_attention_with_masks_and_a_learned_scale() {
        let mut seed = 4;
        for (l, scale) in [(None, true), (Some((vec![2, 3], vec![4, 2])), false), (Some((vec![3, 0], vec![1, 4])), true)] {
            let g = geometry(Score::Additive, false, false, [2, 3, 4, 6, 6, 2, 1, 6, 2, 2], 1.0);
            let c = case(g, l, false, scale, &mut seed);
            check(&c, &mut seed);
        }
    }

    #[test]
    fn multi_head_attention_with_projections() {
        let mut seed = 5;
        // two heads, key width ≠ value width, q/k/v of different widths, biases or none
        for (causal, l, biases) in
            [(false, None, true), (true, Some((vec![4, 2], vec![3, 4])), true), (false, Some((vec![1, 4], vec![2, 3])), false)]
        {
            let g = geometry(Score::Dot, true, causal, [2, 4, 3, 5, 4, 3, 2, 3, 2, 6], 1.0 / 3f32.sqrt());
            let c = case(g, l, biases, false, &mut seed);
            check(&c, &mut seed);
        }
    }

    #[test]
    fn geometry_refuses_inconsistent_calls() {
        let ok = Attn {
            batch: 2,
            q_steps: 3,
            kv_steps: 4,
            q_features: 5,
            k_features: 5,
            v_features: 3,
            heads: 1,
            key_dim: 5,
            value_dim: 3,
            out_features: 3,
            factor: 1f32.to_bits(),
            ..Default::default()
        };
        assert!(Geometry::new(&ok).is_some());
        // without projections the key width must be the query's and keys'; unknown
        // flag bits, an unknown score, a zero size and a NaN factor are refused
        for bad in [
            Attn { k_features: 4, ..ok },
            Attn { flags: 8, ..ok },
            Attn { score: 9, ..ok },
            Attn { batch: 0, ..ok },
            Attn { factor: f32::NAN.to_bits(), ..ok },
        ] {
            assert!(Geometry::new(&bad).is_none(), "{bad:?}");
        }
    }
}

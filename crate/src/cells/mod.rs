//! Recurrent layers over whole sequences: what the three cells share.
//!
//! Dimension letters, used in every cell file:
//! - `T` time steps, `B` batch, `I` input features, `H` hidden units,
//! - `G` gate blocks (1 RNN, 3 GRU, 4 LSTM), `D` directions (1, or 2 when
//!   bidirectional), `rows = T·B`.
//!
//! Row order. Every per-(time, sample) buffer — input `x [rows, I]`, output
//! `y [rows, D·H]`, their gradients and the per-row caches — uses one row order,
//! time-major (`row = t·B + b`) or batch-first (`row = b·T + t`). The big GEMMs
//! (input projection, `dW_ih`, `dW_hh`, `dX`) only need the *same* order in all
//! operands, so either layout runs without a transpose; the per-step code
//! addresses rows through [`Seq::row`].
//!
//! Parameters of one layer are, per direction `d`, consecutively:
//! `W_ih [G·H, I]`, `W_hh [G·H, H]`, `b_ih [G·H]`, `b_hh [G·H]` — the PyTorch
//! layout and gate order (LSTM i,f,g,o; GRU r,z,n). Gradients have the same
//! layout and are **accumulated** (`+=`); zeroing them is the caller's job.
//!
//! Recurrent dropout (optional `rec_mask [D, B, H]`, variational: one mask per
//! sequence, as Gal & Ghahramani and Keras' LSTM): wherever `h_{t-1}` enters a
//! recurrent matrix product it is `h_{t-1} ⊙ m`; the GRU's direct `z ⊙ h_{t-1}`
//! term uses the unmasked state.
//!
//! Variable lengths (PyTorch packed-sequence semantics): sample `b` has
//! `len[b] ≤ T` real steps. Steps past it output zeros and leave its state
//! unchanged; the reverse direction starts at `len[b] − 1`. Final states are
//! taken at each sample's last real step.

pub mod gru;
pub mod lstm;
pub mod rnn;

use crate::decl::codes;
use crate::gemm::{self, MatRef};
use crate::simd::{for_lanes, F32x4};

/// The `flags` word of a recurrent call (`abi::recurrent_forward` / `_backward`).
pub mod flags {
    use crate::decl::named_consts;

    named_consts! {
        /// Every flag, for the contract.
        pub TABLE: u32 {
            /// Rows are batch-first (`b·T + t`) rather than time-major.
            BATCH_FIRST = 1,
            /// Keep what backward needs.
            TRAINING = 2,
            /// Re-pack the weights (they changed since the last call).
            REPACK = 4,
            /// One direction, run in reverse time (Keras `go_backwards`).
            REVERSE = 8,
            /// Bits 4–5 hold the [`super::GateAct`].
            GATE_SHIFT = 4,
        }
    }

    /// The gate activation in `flags`.
    pub fn gate(flags: u32) -> Option<super::GateAct> {
        super::GateAct::from_u32((flags >> GATE_SHIFT) & 3)
    }
}

codes! {
    /// Which recurrent cell (the ABI passes these numbers).
    pub enum Cell {
        /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`
        RnnTanh = 0,
        /// `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`
        RnnRelu = 1,
        /// PyTorch LSTM, gates i, f, g, o.
        Lstm = 2,
        /// PyTorch GRU (reset gate applied after the recurrent product, `r ⊙ (W_hn h + b_hn)`).
        Gru = 3,
        /// Cho / Keras `reset_after=False` / ONNX `linear_before_reset=0` GRU:
        /// `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)`.
        GruResetBefore = 4,
    }
}

impl Cell {
    /// `G`: gate blocks.
    pub fn gates(self) -> usize {
        match self {
            Cell::RnnTanh | Cell::RnnRelu => 1,
            Cell::Lstm => 4,
            Cell::Gru | Cell::GruResetBefore => 3,
        }
    }
    pub fn has_cell_state(self) -> bool {
        self == Cell::Lstm
    }
}

codes! {
    /// The gate ("recurrent") activation of LSTM i, f, o and GRU r, z.
    ///
    /// - `Sigmoid`: σ(x) (PyTorch, Keras ≥ 2.3, ONNX default), computed as
    ///   ½·tanh(x/2) + ½ (`activations::sigmoid_gate`: absolute error ≤ 2.5e-7).
    /// - `HardSigmoid02`: clip(0.2·x + 0.5, 0, 1) (tfjs `hardSigmoid`, Keras 2 `hard_sigmoid`, ONNX HardSigmoid defaults).
    /// - `HardSigmoidSixth`: clip(x/6 + 0.5, 0, 1) (Keras 3 `hard_sigmoid`).
    pub enum GateAct {
        Sigmoid = 0,
        HardSigmoid02 = 1,
        HardSigmoidSixth = 2,
    }
}

impl GateAct {
    fn slope(self) -> f32 {
        match self {
            GateAct::HardSigmoidSixth => 1.0 / 6.0,
            _ => 0.2,
        }
    }
    #[inline(always)]
    pub fn apply(self, x: F32x4) -> F32x4 {
        match self {
            GateAct::Sigmoid => crate::activations::sigmoid_gate(x),
            _ => x.mul_add(F32x4::splat(self.slope()), F32x4::splat(0.5)).max(F32x4::zero()).min(F32x4::splat(1.0)),
        }
    }
    /// Derivative expressed through the output `y`: σ' = y(1−y); the hard
    /// sigmoids have their slope strictly inside (0, 1) and 0 where clipped.
    #[inline(always)]
    pub fn grad(self, y: F32x4) -> F32x4 {
        match self {
            GateAct::Sigmoid => y.mul(F32x4::splat(1.0).sub(y)),
            _ => {
                let inside = y.gt(F32x4::zero()).and(y.lt(F32x4::splat(1.0)));
                F32x4::select(inside, F32x4::splat(self.slope()), F32x4::zero())
            }
        }
    }
}

/// Multiply-add equivalents per hidden unit of one sample's gate epilogue
/// (a few activations at ~10 operations each): what `pool::par_rows` weighs
/// against the cost of a fork-join. The per-sample epilogues of a step are
/// independent, so they are split between threads like the GEMMs.
pub const EPILOGUE_COST: usize = 32;

/// Sizes of one recurrent layer call.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub t: usize,
    pub b: usize,
    pub i: usize,
    pub h: usize,
    pub dirs: usize,
    pub batch_first: bool,
}

impl Dims {
    pub fn rows(&self) -> usize {
        self.t * self.b
    }
}

/// Checked products for sizes that come from outside (the ABI): `None` on overflow.
pub fn mul(a: usize, b: usize) -> Option<usize> {
    a.checked_mul(b)
}

/// Width of one cache row (floats) of direction `d`.
/// Training keeps what backward needs; inference only the input projection.
pub fn cache_width(cell: Cell, h: usize, training: bool) -> usize {
    match (cell, training) {
        (_, false) => cell.gates() * h,
        // gates i,f,g,o (4H) | c_t | c_{t-1} | h_{t-1}
        (Cell::Lstm, true) => 7 * h,
        // r, z, n, (W_hn h + b_hn | r⊙h) (4H) | h_{t-1}
        (Cell::Gru | Cell::GruResetBefore, true) => 5 * h,
        // h_t | h_{t-1}
        (Cell::RnnTanh | Cell::RnnRelu, true) => 2 * h,
    }
}

/// Row width of the gate block inside a cache row.
pub fn gate_width(cell: Cell, h: usize, training: bool) -> usize {
    match (cell, training) {
        (Cell::Gru | Cell::GruResetBefore, true) => 4 * h,
        _ => cell.gates() * h,
    }
}

/// Floats of per-call scratch (states, one step's GEMM output, packed A).
pub fn scratch_len(cell: Cell, b: usize, h: usize) -> Option<usize> {
    let gh = cell.gates() * h;
    let bpad = b.div_ceil(gemm::MR) * gemm::MR;
    // h, c, dh, dc, rh, hm: 6·B·H; step, dg_step: 2·B·G·H; packed A: Bpad·G·H
    let a = mul(6, mul(b, h)?)?;
    let s = mul(2, mul(b, gh)?)?;
    let p = mul(bpad, gh)?;
    a.checked_add(s)?.checked_add(p)
}

/// Total workspace floats: `D` caches of `rows × cache_width`, then scratch.
pub fn workspace_len(cell: Cell, d: &Dims, training: bool) -> Option<usize> {
    let cache = mul(mul(d.dirs, d.rows())?, cache_width(cell, d.h, training))?;
    cache.checked_add(scratch_len(cell, d.b, d.h)?)
}

/// Floats of one direction's packed recurrent weights (forward part, backward part).
pub fn packed_parts(cell: Cell, h: usize) -> (usize, usize) {
    let gh = cell.gates() * h;
    match cell {
        Cell::GruResetBefore => {
            (gemm::packed_b_len(h, 2 * h) + gemm::packed_b_len(h, h), gemm::packed_b_len(2 * h, h) + gemm::packed_b_len(h, h))
        }
        _ => (gemm::packed_b_len(h, gh), gemm::packed_b_len(gh, h)),
    }
}

pub fn packed_len(cell: Cell, h: usize, dirs: usize) -> Option<usize> {
    let (f, b) = packed_parts(cell, h);
    mul(f.checked_add(b)?, dirs)
}

/// Floats of one direction's parameters: `W_ih, W_hh, b_ih, b_hh`.
pub fn dir_params_len(cell: Cell, i: usize, h: usize) -> Option<usize> {
    let gh = mul(cell.gates(), h)?;
    mul(gh, i.checked_add(h)?.checked_add(2)?)
}

/// One direction's parameter (or gradient) views.
#[derive(Clone, Copy)]
pub struct DirParams {
    pub w_ih: *mut f32,
    pub w_hh: *mut f32,
    pub b_ih: *mut f32,
    pub b_hh: *mut f32,
}

impl DirParams {
    /// # Safety
    /// `base` must hold `dirs · dir_params_len` floats.
    pub unsafe fn at(base: *mut f32, cell: Cell, i: usize, h: usize, d: usize) -> Self {
        let gh = cell.gates() * h;
        let p = base.add(d * gh * (i + h + 2));
        DirParams { w_ih: p, w_hh: p.add(gh * i), b_ih: p.add(gh * (i + h)), b_hh: p.add(gh * (i + h + 1)) }
    }
}

/// Time indexing of one direction over a batch with optional lengths.
#[derive(Clone, Copy)]
pub struct Seq {
    pub t: usize,
    pub b: usize,
    pub batch_first: bool,
    pub reverse: bool,
    pub lengths: *const i32,
}

impl Seq {
    /// Direction `dir` of a call; `reverse_single` reverses a one-direction call.
    pub fn new(d: &Dims, dir: usize, reverse_single: bool, lengths: *const i32) -> Self {
        Seq { t: d.t, b: d.b, batch_first: d.batch_first, reverse: dir == 1 || reverse_single, lengths }
    }
    #[inline(always)]
    pub fn row(&self, t: usize, b: usize) -> usize {
        if self.batch_first {
            b * self.t + t
        } else {
            t * self.b + b
        }
    }
    #[inline(always)]
    pub fn len(&self, b: usize) -> usize {
        if self.lengths.is_null() {
            self.t
        } else {
            unsafe { *self.lengths.add(b) as usize }
        }
    }
    /// Time index that sample `b` processes at step `s` (0 = first processed),
    /// or `None` once its sequence is over.
    #[inline(always)]
    pub fn time(&self, s: usize, b: usize) -> Option<usize> {
        let l = self.len(b);
        if s >= l {
            None
        } else if self.reverse {
            Some(l - 1 - s)
        } else {
            Some(s)
        }
    }
    /// Steps at which at least one sample is still running.
    pub fn steps(&self) -> usize {
        (0..self.b).map(|b| self.len(b)).max().unwrap_or(0)
    }
    /// Call `f(row)` for every padded row (time `t ≥ len[b]`).
    pub fn for_padded_rows(&self, mut f: impl FnMut(usize)) {
        for b in 0..self.b {
            for t in self.len(b)..self.t {
                f(self.row(t, b));
            }
        }
    }
}

/// `out[0..n] = v` for `rows` rows of stride `ld`.
///
/// # Safety
/// `p` writable over the rows.
#[inline]
pub unsafe fn fill_row(p: *mut f32, n: usize, v: f32) {
    for j in 0..n {
        *p.add(j) = v;
    }
}

/// `acc[0..n] += Σ_r m[r, off..off+n]` over `rows` rows of stride `ld`.
///
/// # Safety
/// Ranges must be valid.
pub unsafe fn add_column_sums(acc: *mut f32, m: *const f32, rows: usize, ld: usize, n: usize) {
    // columns split between threads: each column's sum is the same either way
    crate::pool::par_ranges(n, rows, 4, |j0, j1| {
        let (acc, m) = (acc.add(j0), m.add(j0));
        for_lanes(j1 - j0, |l| {
            let mut s = F32x4::zero();
            for r in 0..rows {
                s = s.add(l.load(m.add(r * ld)));
            }
            l.store(l.load(acc).add(s), acc);
        });
    });
}

/// The input projection for all steps in one GEMM:
/// `gates[:, 0..G·H] = X · W_ihᵀ` (`[rows, I] × [I, G·H]`), row stride `ld`.
///
/// # Safety
/// Pointers valid for these sizes.
pub unsafe fn input_projection(rows: usize, i: usize, gh: usize, x: *const f32, w_ih: *const f32, gates: *mut f32, ld: usize) {
    gemm::sgemm(rows, gh, i, MatRef::rows(x, i), MatRef::t(w_ih, i), gates, ld, false);
}

/// The backward GEMMs over all steps for the input side of a direction:
/// `dW_ih += dGᵀ·X`, `db_ih += Σ dG`, and `dX (=|+=) dG·W_ih`.
/// `dg` has row stride `ld` and its first `gh` columns are the input-side gate
/// gradients.
///
/// # Safety
/// Pointers valid for these sizes; `dx` may be null (not wanted).
#[allow(clippy::too_many_arguments)]
pub unsafe fn input_side_grads(
    rows: usize,
    i: usize,
    gh: usize,
    dg: *const f32,
    ld: usize,
    x: *const f32,
    w_ih: *const f32,
    dw_ih: *mut f32,
    db_ih: *mut f32,
    dx: *mut f32,
    dx_acc: bool,
) {
    gemm::sgemm(gh, i, rows, MatRef::t(dg, ld), MatRef::rows(x, i), dw_ih, i, true);
    add_column_sums(db_ih, dg, rows, ld, gh);
    if !dx.is_null() {
        gemm::sgemm(rows, i, gh, MatRef::rows(dg, ld), MatRef::rows(w_ih, i), dx, i, dx_acc);
    }
}

/// Pointers into the per-call scratch region (see [`scratch_len`]).
pub struct Scratch {
    pub h: *mut f32,
    pub c: *mut f32,
    pub dh: *mut f32,
    pub dc: *mut f32,
    pub rh: *mut f32,
    /// `h ⊙ rec_mask` for the step GEMM
    pub hm: *mut f32,
    pub step: *mut f32,
    pub dg_step: *mut f32,
    pub apack: *mut f32,
}

impl Scratch {
    /// # Safety
    /// `p` must hold `scratch_len(cell, b, h)` floats.
    pub unsafe fn at(p: *mut f32, cell: Cell, b: usize, h: usize) -> Self {
        let bh = b * h;
        let bgh = b * cell.gates() * h;
        Scratch {
            h: p,
            c: p.add(bh),
            dh: p.add(2 * bh),
            dc: p.add(3 * bh),
            rh: p.add(4 * bh),
            hm: p.add(5 * bh),
            step: p.add(6 * bh),
            dg_step: p.add(6 * bh + bgh),
            apack: p.add(6 * bh + 2 * bgh),
        }
    }
}

/// `out [B, n] = a [B, k] · Bp` where `Bp` is a packed `[k, n]` B operand;
/// `acc` adds instead of overwriting. Packs `a` into `apack` first.
///
/// # Safety
/// Pointers valid for these sizes; `apack` holds `packed_a_len(B, k)`.
#[inline]
pub unsafe fn step_gemm(b: usize, n: usize, k: usize, a: *const f32, apack: *mut f32, bp: *const f32, out: *mut f32, acc: bool) {
    if b == 1 {
        gemm::gemv_packed(n, k, a, 1, bp, out, acc);
    } else {
        gemm::pack_a(b, k, MatRef::rows(a, k), apack);
        gemm::gemm_packed(b, n, k, apack, bp, out, n, acc);
    }
}

/// The recurrent input of a step: `h` itself, or `h ⊙ mask` written to `hm`.
///
/// # Safety
/// `h`, `hm` hold `n` floats; `mask` is null or holds `n` floats.
#[inline]
pub unsafe fn masked_state(h: *mut f32, mask: *const f32, hm: *mut f32, n: usize) -> *mut f32 {
    if mask.is_null() {
        return h;
    }
    for_lanes(n, |l| l.store(l.load(h).mul(l.load(mask)), hm));
    hm
}

/// `dh [B, H] += (a [B, k] · Bp) ⊙ mask`, or without a mask `dh += a·Bp`
/// straight from the GEMM. `tmp` holds `B·H` floats.
///
/// # Safety
/// As [`step_gemm`]; `mask` null or `B·H` floats.
#[allow(clippy::too_many_arguments)]
pub unsafe fn step_gemm_dh(
    b: usize,
    h: usize,
    k: usize,
    a: *const f32,
    apack: *mut f32,
    bp: *const f32,
    dh: *mut f32,
    mask: *const f32,
    tmp: *mut f32,
) {
    if mask.is_null() {
        step_gemm(b, h, k, a, apack, bp, dh, true);
    } else {
        step_gemm(b, h, k, a, apack, bp, tmp, false);
        for_lanes(b * h, |l| l.store(l.load(dh).add(l.load(tmp).mul(l.load(mask))), dh));
    }
}

/// Multiply the `h_{t-1}` column block (offset `col`, width `h`) of every cache
/// row by its sample's recurrent-dropout mask, before `dW_hh` is formed.
///
/// # Safety
/// `cache` holds `rows × cw` floats; `mask` `B·H`.
pub unsafe fn mask_cached_state(seq: &Seq, cache: *mut f32, cw: usize, col: usize, h: usize, mask: *const f32) {
    if mask.is_null() {
        return;
    }
    for bb in 0..seq.b {
        let m = mask.add(bb * h);
        for t in 0..seq.t {
            let p = cache.add(seq.row(t, bb) * cw + col);
            for_lanes(h, |l| l.store(l.load(p).mul(l.load(m)), p));
        }
    }
}

/// Everything a forward call over one layer receives. Regions are raw
/// pointers into wasm memory (the ABI validated sizes and non-overlap).
pub struct Forward {
    pub cell: Cell,
    pub dims: Dims,
    /// Keep the per-step values backward needs (training); otherwise only the
    /// input projection is stored.
    pub training: bool,
    /// Re-pack the recurrent weights before running (set after any weight change).
    pub repack: bool,
    /// With one direction: run it in reverse time (Keras `go_backwards`).
    pub reverse: bool,
    /// Gate activation of LSTM i, f, o and GRU r, z.
    pub gate: GateAct,
    /// `[D, B, H]` recurrent-dropout mask (already scaled by 1/(1−p)) or null.
    pub rec_mask: *const f32,
    /// `[rows, I]`
    pub x: *const f32,
    /// `[D, B, H]` or null (zeros)
    pub h0: *const f32,
    /// `[D, B, H]` or null (zeros); LSTM only
    pub c0: *const f32,
    /// `[B]` or null (all `T`)
    pub lengths: *const i32,
    /// `D × dir_params_len`
    pub params: *const f32,
    /// `packed_len`
    pub packed: *mut f32,
    /// `[rows, D·H]`
    pub y: *mut f32,
    /// `[D, B, H]` or null
    pub hn: *mut f32,
    /// `[D, B, H]` or null; LSTM only
    pub cn: *mut f32,
    /// `workspace_len`
    pub work: *mut f32,
}

/// Everything a backward call receives; `x`, `params`, `packed`, `lengths`
/// and `work` must be those of the forward call just made (with `training`),
/// whose cache backward consumes (it overwrites gate activations with their
/// gradients).
pub struct Backward {
    pub cell: Cell,
    pub dims: Dims,
    /// As in the forward call.
    pub reverse: bool,
    /// As in the forward call.
    pub gate: GateAct,
    /// As in the forward call.
    pub rec_mask: *const f32,
    pub x: *const f32,
    pub lengths: *const i32,
    pub params: *const f32,
    pub packed: *mut f32,
    pub work: *mut f32,
    /// `[rows, D·H]` or null (no gradient on outputs)
    pub dy: *const f32,
    /// `[D, B, H]` or null
    pub dhn: *const f32,
    /// `[D, B, H]` or null; LSTM only
    pub dcn: *const f32,
    /// `[rows, I]` or null (not wanted); overwritten
    pub dx: *mut f32,
    /// `[D, B, H]` or null; overwritten
    pub dh0: *mut f32,
    /// `[D, B, H]` or null; LSTM only; overwritten
    pub dc0: *mut f32,
    /// Same layout as `params`; accumulated
    pub grads: *mut f32,
}

/// `q + n`, or null if `q` is null (optional regions).
#[inline(always)]
pub fn offset(q: *const f32, n: usize) -> *const f32 {
    if q.is_null() {
        q
    } else {
        q.wrapping_add(n)
    }
}

/// `q + n`, or null if `q` is null (optional regions).
#[inline(always)]
pub fn offset_mut(q: *mut f32, n: usize) -> *mut f32 {
    if q.is_null() {
        q
    } else {
        q.wrapping_add(n)
    }
}

/// Copy `[B, H]` state `src` (or zeros if null) to `dst`.
///
/// # Safety
/// Pointers valid for `n` floats.
pub unsafe fn load_state(dst: *mut f32, src: *const f32, n: usize) {
    if src.is_null() {
        core::ptr::write_bytes(dst, 0, n);
    } else {
        core::ptr::copy_nonoverlapping(src, dst, n);
    }
}

/// Copy `n` floats to `dst` unless it is null.
///
/// # Safety
/// Pointers valid for `n` floats.
pub unsafe fn store_state(dst: *mut f32, src: *const f32, n: usize) {
    if !dst.is_null() {
        core::ptr::copy_nonoverlapping(src, dst, n);
    }
}

/// Run the forward pass of any cell.
///
/// # Safety
/// See [`Forward`].
pub unsafe fn forward(f: &Forward) {
    match f.cell {
        Cell::RnnTanh | Cell::RnnRelu => rnn::forward_sequence(f),
        Cell::Lstm => lstm::forward_sequence(f),
        Cell::Gru | Cell::GruResetBefore => gru::forward_sequence(f),
    }
}

/// Run the backward pass of any cell.
///
/// # Safety
/// See [`Backward`].
pub unsafe fn backward(g: &Backward) {
    match g.cell {
        Cell::RnnTanh | Cell::RnnRelu => rnn::backward_sequence(g),
        Cell::Lstm => lstm::backward_sequence(g),
        Cell::Gru | Cell::GruResetBefore => gru::backward_sequence(g),
    }
}

#[cfg(test)]
pub mod reference;
#[cfg(test)]
mod tests;

//! Streaming inference: one time step of a whole model in one call.
//!
//! A session compiles its model into a *program* of step records
//! (`program.rs`) and runs it once per time step: no allocation, no
//! per-layer calls. These are the kernels the records run.
//!
//! Recurrent layers keep `[x, h]` side by side in a scratch row and multiply
//! it by one pre-packed weight `[[W_ih]; [W_hh]]ᵀ` (`K = I + H`), so a step is
//! a single GEMM (a GEMV at batch 1) plus the fused gate epilogue. For the GRU
//! with the reset after the product the packed weight has 4H columns
//! (`r`, `z` from both halves; `n_x` from x only; `n_h` from h only) so `r` can
//! scale `n_h` alone; the reset-before GRU needs a second product `(r⊙h)·W_hnᵀ`.

use crate::activations::tanh;
use crate::cells::{step_gemm, Cell, GateAct};
use crate::dense::Act;
use crate::gemm::{self, MatRef};
use crate::quant;
use crate::simd::{for_lanes, F32x4, Lanes};

/// Columns of the packed step weight for a cell.
pub fn packed_cols(cell: Cell, h: usize) -> usize {
    match cell {
        Cell::Gru => 4 * h,
        _ => cell.gates() * h,
    }
}

/// Floats of the packed step weights (`[x, h]` product, plus `W_hn` for the reset-before GRU).
pub fn packed_len(cell: Cell, i: usize, h: usize) -> Option<usize> {
    let k = i.checked_add(h)?;
    let main = gemm::packed_b_len(k, packed_cols(cell, h));
    let extra = if cell == Cell::GruResetBefore { gemm::packed_b_len(h, h) } else { 0 };
    main.checked_add(extra)
}

/// Pack one direction's parameters (`W_ih [G·H, I]`, `W_hh [G·H, H]`) for
/// streaming: the B operand `[I + H, cols]` described in the module comment.
///
/// # Safety
/// `params` holds `dir_params_len(cell, i, h)` floats; `out` `packed_len` floats.
pub unsafe fn pack(cell: Cell, i: usize, h: usize, params: *const f32, out: *mut f32) {
    let gh = cell.gates() * h;
    let w_ih = params;
    let w_hh = params.add(gh * i);
    let cols = packed_cols(cell, h);
    // column c of the packed B: a row of W_ih over a row of W_hh (or zeros)
    let col = |c: usize| -> (Option<*const f32>, Option<*const f32>) {
        let (gate, j) = (c / h, c % h);
        let ih = |g: usize| Some(w_ih.add((g * h + j) * i));
        let hh = |g: usize| Some(w_hh.add((g * h + j) * h));
        match cell {
            // r, z from both halves; n_x from x only; n_h from h only
            Cell::Gru => match gate {
                0 | 1 => (ih(gate), hh(gate)),
                2 => (ih(2), None),
                _ => (None, hh(2)),
            },
            // n's h half is the separate (r⊙h)·W_hnᵀ product below
            Cell::GruResetBefore => (ih(gate), if gate < 2 { hh(gate) } else { None }),
            _ => (ih(gate), hh(gate)),
        }
    };
    gemm::pack_b_stacked_rows(i, h, cols, &col, out);
    if cell == Cell::GruResetBefore {
        // (r⊙h)·W_hnᵀ: B operand W_hnᵀ [H, H]
        let packed_n = out.add(gemm::packed_b_len(i + h, cols));
        gemm::pack_b(h, h, MatRef::t(w_hh.add(2 * h * h), h), packed_n);
    }
}

/// One recurrent layer's step.
pub struct RecurStep {
    pub cell: Cell,
    pub gate: GateAct,
    /// `[B, I]`
    pub inp: *const f32,
    pub i: usize,
    pub h: usize,
    /// [`pack`] output
    pub packed: *const f32,
    pub b_ih: *const f32,
    pub b_hh: *const f32,
    /// state `[B, H]` (updated)
    pub hs: *mut f32,
    /// cell state `[B, H]` (LSTM; updated)
    pub cs: *mut f32,
    /// scratch `[B, I + H]`
    pub xh: *mut f32,
    /// scratch `[B, packed_cols]`
    pub z: *mut f32,
    /// `[B, H]`
    pub out: *mut f32,
}

impl RecurStep {
    /// # Safety
    /// The buffers hold the sizes documented on the fields for batch `b`;
    /// `apack` holds `packed_a_len(b, I + H)` floats.
    pub unsafe fn run(&self, b: usize, apack: *mut f32) {
        let RecurStep { cell, inp, i, h, packed, hs, xh, z, .. } = *self;
        let k = i + h;
        let cols = packed_cols(cell, h);
        // xh[bb] = [x_bb, h_bb]
        for bb in 0..b {
            core::ptr::copy_nonoverlapping(inp.add(bb * i), xh.add(bb * k), i);
            core::ptr::copy_nonoverlapping(hs.add(bb * h), xh.add(bb * k + i), h);
        }
        step_gemm(b, cols, k, xh, apack, packed, z, false);
        let packed_n = packed.wrapping_add(gemm::packed_b_len(k, cols));
        // the reset-before GRU's r⊙h goes to the h half of the scratch row
        self.epilogue(b, (xh.add(i), k), &|rh, nh| gemm::gemv_packed(h, h, rh, 1, packed_n, nh, false));
    }

    /// The gates from `z` (`[B, packed_cols]`, the step's products without
    /// biases): the new state into `hs` (and `cs`) and `out`. Not split between
    /// threads (the product before it is): a second fork per step costs about
    /// what half a 256-unit epilogue saves. For the reset-before GRU, `rh`
    /// (pointer, row stride) is an `[B, H]` scratch for `r ⊙ h` and
    /// `nh(rh, dst)` writes `(r ⊙ h)·W_hnᵀ` to `dst` (`H` floats).
    ///
    /// # Safety
    /// As [`RecurStep::run`].
    #[inline(never)]
    unsafe fn epilogue(&self, b: usize, rh: (*mut f32, usize), nh: &dyn Fn(*const f32, *mut f32)) {
        let RecurStep { cell, gate, h, b_ih, b_hh, hs, cs, z, out, .. } = *self;
        let cols = packed_cols(cell, h);
        match cell {
            Cell::Lstm => {
                for bb in 0..b {
                    let zr = z.add(bb * cols);
                    let (hb, cb, ob) = (hs.add(bb * h), cs.add(bb * h), out.add(bb * h));
                    // The gates first, in place, each a loop whose iterations
                    // are independent (the CPU overlaps several), then the state
                    // update; one loop doing everything per unit ran a chain of
                    // five divisions per four units that the CPU could barely
                    // overlap. Same operations per element.
                    let pre = |l: Lanes, at: usize| l.load(zr.add(at)).add(l.load(b_ih.add(at))).add(l.load(b_hh.add(at)));
                    for_lanes(2 * h, |l| l.store(gate.apply(pre(l, 0)), zr));
                    for_lanes(h, |l| l.store(tanh(pre(l, 2 * h)), zr.add(2 * h)));
                    for_lanes(h, |l| l.store(gate.apply(pre(l, 3 * h)), zr.add(3 * h)));
                    for_lanes(h, |l| {
                        let (ig, fg, gg, og) = (l.load(zr), l.load(zr.add(h)), l.load(zr.add(2 * h)), l.load(zr.add(3 * h)));
                        let c = fg.mul_add(l.load(cb), ig.mul(gg));
                        let hn = og.mul(tanh(c));
                        l.store(c, cb);
                        l.store(hn, hb);
                        l.store(hn, ob);
                    });
                }
            }
            Cell::Gru | Cell::GruResetBefore => {
                let after = cell == Cell::Gru;
                if !after {
                    // n_h = (r⊙h)·W_hnᵀ has no column in z (cols = 3H): it goes to `out`,
                    // which the final loop reads before overwriting
                    for bb in 0..b {
                        let zr = z.add(bb * cols);
                        let hb = hs.add(bb * h);
                        let rh = rh.0.add(bb * rh.1);
                        for_lanes(h, |l| {
                            let r = gate.apply(l.load(zr).add(l.load(b_ih)).add(l.load(b_hh)));
                            l.store(r.mul(l.load(hb)), rh);
                        });
                        nh(rh, out.add(bb * h));
                    }
                }
                for bb in 0..b {
                    let zr = z.add(bb * cols);
                    let (hb, ob) = (hs.add(bb * h), out.add(bb * h));
                    for_lanes(h, |l| {
                        let r = gate.apply(l.load(zr).add(l.load(b_ih)).add(l.load(b_hh)));
                        let zg = gate.apply(l.load(zr.add(h)).add(l.load(b_ih.add(h))).add(l.load(b_hh.add(h))));
                        let xn = l.load(zr.add(2 * h)).add(l.load(b_ih.add(2 * h)));
                        let n = if after {
                            let q = l.load(zr.add(3 * h)).add(l.load(b_hh.add(2 * h)));
                            tanh(xn.add(r.mul(q)))
                        } else {
                            tanh(xn.add(l.load(ob)).add(l.load(b_hh.add(2 * h))))
                        };
                        let hn = zg.mul_add(l.load(hb).sub(n), n);
                        l.store(hn, hb);
                        l.store(hn, ob);
                    });
                }
            }
            Cell::RnnTanh | Cell::RnnRelu => {
                for bb in 0..b {
                    let zr = z.add(bb * cols);
                    let (hb, ob) = (hs.add(bb * h), out.add(bb * h));
                    for_lanes(h, |l| {
                        let pre = l.load(zr).add(l.load(b_ih)).add(l.load(b_hh));
                        let hn = if cell == Cell::RnnRelu { pre.max(F32x4::zero()) } else { tanh(pre) };
                        l.store(hn, hb);
                        l.store(hn, ob);
                    });
                }
            }
        }
    }
}

/// int8 weights of one recurrent layer (see `quant.rs`): packed `W_ih`
/// (`G·H` columns), packed `W_hh` (`G·H` columns; `2H` — `r`, `z` — for the
/// reset-before GRU) and, for the reset-before GRU only, packed `W_hn` (`H`),
/// each with its per-row scales (a record's `program::Q8Desc` holds their addresses).
#[derive(Clone, Copy)]
pub struct Q8Weights {
    pub qx: *const i8,
    pub sx: *const f32,
    pub qh: *const i8,
    pub sh: *const f32,
    pub qn: *const i8,
    pub sn: *const f32,
}

/// Columns of the packed `W_hh` of an int8 layer.
pub fn q8_h_cols(cell: Cell, h: usize) -> usize {
    if cell == Cell::GruResetBefore {
        2 * h
    } else {
        cell.gates() * h
    }
}

/// A recurrent step on int8 weights: the same gates as [`RecurStep`], with the
/// products `x·W_ihᵀ` and `h·W_hhᵀ` from two integer GEMVs (separate
/// activation scales for `x` and `h`, whose ranges differ).
pub struct RecurStepQ8 {
    pub st: RecurStep,
    pub w: Q8Weights,
    /// scratch `[B, G·H]`: the `h` product
    pub zh: *mut f32,
    /// scratch: `quant::act_scratch_len(B, max(I, H))` bytes, 4-byte aligned
    /// (the quantised activation rows and their scales)
    pub a16: *mut i16,
}

impl RecurStepQ8 {
    /// # Safety
    /// The buffers hold the sizes documented on the fields for batch `b`.
    pub unsafe fn run(&self, b: usize) {
        let RecurStep { cell, i, h, .. } = self.st;
        // Batch rows split between threads (in pairs, the kernel's two rows
        // per pass over the weights), each part running the whole step on its
        // rows: one fork per step and the gate updates in parallel too (with
        // the updates on one thread, 2 threads made int8 W2 predict slower
        // than f32). With fewer than two rows per thread the parts would be
        // uneven (2 + 1 rows) or fewer than the threads, so such batches (and
        // a single row) split their products by columns instead
        // (`quant::gemm_rows`), which keeps every thread busy.
        if b < 2 * crate::pool::threads() {
            return self.run_rows(b);
        }
        let cost = cell.gates() * h * (i + h);
        crate::pool::par_ranges(b, cost, 2, |r0, r1| self.rows(r0).run_rows(r1 - r0));
    }

    /// This step for rows `r0..` of the batch: every per-row pointer moved
    /// `r0` rows on (weights, biases and descriptor shared).
    unsafe fn rows(&self, r0: usize) -> RecurStepQ8 {
        let st = &self.st;
        let (i, h) = (st.i, st.h);
        let gh = st.cell.gates() * h;
        let scratch_row = quant::act_scratch_len(1, i.max(h)).unwrap_or(0);
        RecurStepQ8 {
            st: RecurStep {
                inp: st.inp.wrapping_add(r0 * i),
                hs: st.hs.wrapping_add(r0 * h),
                cs: st.cs.wrapping_add(r0 * h),
                xh: st.xh.wrapping_add(r0 * h), // the r⊙h scratch, [B, H]
                z: st.z.wrapping_add(r0 * packed_cols(st.cell, h)),
                out: st.out.wrapping_add(r0 * h),
                ..*st
            },
            w: self.w,
            zh: self.zh.wrapping_add(r0 * gh),
            a16: (self.a16 as *mut u8).wrapping_add(r0 * scratch_row) as *mut i16,
        }
    }

    /// The step for the first `b` rows (on one thread when called from
    /// [`run`](Self::run)'s parts, or split by columns for a lone row).
    unsafe fn run_rows(&self, b: usize) {
        let RecurStep { cell, inp, i, h, hs, xh, z, .. } = self.st;
        let Q8Weights { qx, sx, qh, sh, qn, sn } = self.w;
        let (a16, zh) = (self.a16, self.zh);
        let cols = packed_cols(cell, h);
        let gh = cell.gates() * h;
        let hcols = q8_h_cols(cell, h);
        // Two products, so two forks with threads for a lone row (one job
        // computing both measured no better). Each covers all rows, two per
        // pass over the weights.
        let scratch = a16 as *mut u8;
        quant::gemm_rows(b, i, gh, inp, i, scratch, qx, sx, z, cols, false);
        // into the f32 step's column layout: added onto the x product in
        // place (the same sum, x part + h part), except the reset-after GRU,
        // whose n_h columns go beside n_x
        if cell == Cell::Gru {
            quant::gemm_rows(b, h, hcols, hs, h, scratch, qh, sh, zh, gh, false);
            for bb in 0..b {
                let (zr, zhr) = (z.add(bb * cols), zh.add(bb * gh));
                for_lanes(2 * h, |l| l.store(l.load(zr).add(l.load(zhr)), zr));
                core::ptr::copy_nonoverlapping(zhr.add(2 * h), zr.add(3 * h), h);
            }
        } else {
            quant::gemm_rows(b, h, hcols, hs, h, scratch, qh, sh, z, cols, true);
        }
        self.st.epilogue(b, (xh, h), &|rh, nh| {
            let s = quant::quantize_act(h, rh, a16);
            quant::gemv(h, h, a16, s, qn, sn, nh, false);
        });
    }
}

/// A dense layer on int8 weights: `out [B, O] = act(inp·Wᵀ + bias)`, `qw`
/// the packed int8 `W [O, I]` with per-row scales `sw`, `a16` a scratch of
/// `quant::act_scratch_len(B, I)` bytes.
///
/// # Safety
/// The buffers hold those sizes for batch `b`.
pub unsafe fn dense_q8(
    b: usize,
    i: usize,
    o: usize,
    inp: *const f32,
    qw: *const i8,
    sw: *const f32,
    bias: *const f32,
    out: *mut f32,
    a16: *mut i16,
    act: Act,
) {
    quant::gemm_rows(b, i, o, inp, i, a16 as *mut u8, qw, sw, out, o, false);
    crate::dense::bias_act(b, o, out, bias, act);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::{dir_params_len, forward, packed_len as seq_packed_len, workspace_len, Dims, Forward};
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Stepping a cell T times from the same state equals the sequence kernel.
    #[test]
    fn steps_equal_the_sequence_kernel() {
        // (4, 6): panels of eight columns straddle gate blocks (some columns
        // zero in the GRU) and partial panels; (9, 16): whole panels packed
        // four rows at a time with tails
        for (cell, (i, h)) in [Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru, Cell::GruResetBefore]
            .into_iter()
            .flat_map(|c| [(c, (4usize, 6usize)), (c, (9, 16))])
        {
            for gate in [GateAct::Sigmoid, GateAct::HardSigmoid02] {
                let (t, b) = (5usize, 3usize);
                let np = dir_params_len(cell, i, h).unwrap();
                let params: Vec<f32> = (0..np).map(|k| ((k * 37 % 101) as f32 / 101.0 - 0.5) * 0.9).collect();
                let x: Vec<f32> = (0..t * b * i).map(|k| ((k * 13 % 17) as f32 / 17.0 - 0.5) * 2.0).collect();
                // sequence kernel, time-major
                let d = Dims { t, b, i, h, dirs: 1, batch_first: false };
                let mut work = vec![0.0; workspace_len(cell, &d, false).unwrap()];
                let mut packed = vec![0.0; seq_packed_len(cell, h, 1).unwrap()];
                let mut y = vec![0.0; t * b * h];
                let mut hn = vec![0.0; b * h];
                let mut cn = vec![0.0; b * h];
                unsafe {
                    forward(&Forward {
                        cell,
                        dims: d,
                        training: false,
                        repack: true,
                        reverse: false,
                        gate,
                        rec_mask: core::ptr::null(),
                        x: x.as_ptr(),
                        h0: core::ptr::null(),
                        c0: core::ptr::null(),
                        lengths: core::ptr::null(),
                        params: params.as_ptr(),
                        packed: packed.as_mut_ptr(),
                        y: y.as_mut_ptr(),
                        hn: hn.as_mut_ptr(),
                        cn: if cell == Cell::Lstm { cn.as_mut_ptr() } else { core::ptr::null_mut() },
                        work: work.as_mut_ptr(),
                    });
                }
                // streaming
                let cols = packed_cols(cell, h);
                let mut sp = vec![0.0; packed_len(cell, i, h).unwrap()];
                unsafe { pack(cell, i, h, params.as_ptr(), sp.as_mut_ptr()) };
                let gh = cell.gates() * h;
                let (b_ih, b_hh) = (params[gh * (i + h)..].as_ptr(), params[gh * (i + h + 1)..].as_ptr());
                let mut hs = vec![0.0f32; b * h];
                let mut cs = vec![0.0f32; b * h];
                let mut xh = vec![0.0f32; b * (i + h)];
                let mut z = vec![0.0f32; b * cols];
                let mut out = vec![0.0f32; b * h];
                let mut xin = vec![0.0f32; b * i];
                let mut apack = vec![0.0f32; gemm::packed_a_len(b, i + h)];
                for step_t in 0..t {
                    xin.copy_from_slice(&x[step_t * b * i..(step_t + 1) * b * i]);
                    let st = RecurStep {
                        cell,
                        gate,
                        inp: xin.as_ptr(),
                        i,
                        h,
                        packed: sp.as_ptr(),
                        b_ih,
                        b_hh,
                        hs: hs.as_mut_ptr(),
                        cs: cs.as_mut_ptr(),
                        xh: xh.as_mut_ptr(),
                        z: z.as_mut_ptr(),
                        out: out.as_mut_ptr(),
                    };
                    unsafe { st.run(b, apack.as_mut_ptr()) };
                    for k in 0..b * h {
                        let want = y[step_t * b * h + k];
                        assert!(
                            (out[k] - want).abs() <= 2e-6 * (1.0 + want.abs()),
                            "{cell:?} {gate:?} t{step_t} [{k}]: {} vs {want}",
                            out[k]
                        );
                    }
                }
            }
        }
    }
    /// Quantise rows `[r0, r1)` of `w [.., k]`; returns the packed bytes, the
    /// scales and the dequantised rows.
    fn q8(w: &[f32], k: usize, r0: usize, r1: usize) -> (Vec<i8>, Vec<f32>, Vec<f32>) {
        let n = r1 - r0;
        let mut q = vec![0i8; n * k];
        let mut sc = vec![0.0f32; n];
        let mut p = vec![0i8; quant::packed_len(k, n).unwrap()];
        unsafe {
            quant::quantize_rows(n, k, w[r0 * k..].as_ptr(), true, q.as_mut_ptr(), sc.as_mut_ptr());
            quant::pack(k, n, q.as_ptr(), p.as_mut_ptr());
        }
        let dq = (0..n * k).map(|e| q[e] as f32 * sc[e / k]).collect();
        (p, sc, dq)
    }

    /// An int8 step equals the f32 step on the dequantised weights up to the
    /// activation rounding (int16, ≤ 2⁻¹⁶ of each row's max per element).
    #[test]
    fn int8_steps_follow_the_f32_step_on_dequantised_weights() {
        for cell in [Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru, Cell::GruResetBefore] {
            let (t, b, i, h) = (6usize, 2usize, 5usize, 7usize);
            let gh = cell.gates() * h;
            let np = dir_params_len(cell, i, h).unwrap();
            let params: Vec<f32> = (0..np).map(|k| ((k * 37 % 101) as f32 / 101.0 - 0.5) * 0.9).collect();
            let (w_ih, rest) = params.split_at(gh * i);
            let (w_hh, biases) = rest.split_at(gh * h);
            let (qx, sx, dqx) = q8(w_ih, i, 0, gh);
            let hc = q8_h_cols(cell, h);
            let (qh, sh, dqh) = q8(w_hh, h, 0, hc);
            let (qn, sn, dqn) = if cell == Cell::GruResetBefore { q8(w_hh, h, 2 * h, 3 * h) } else { (vec![0; 32], vec![0.0], vec![]) };
            let dq: Vec<f32> = [&dqx[..], &dqh[..], &dqn[..], biases].concat();
            assert_eq!(dq.len(), np);
            let cols = packed_cols(cell, h);
            let mut sp = vec![0.0; packed_len(cell, i, h).unwrap()];
            unsafe { pack(cell, i, h, dq.as_ptr(), sp.as_mut_ptr()) };
            let (b_ih, b_hh) = (dq[gh * (i + h)..].as_ptr(), dq[gh * (i + h + 1)..].as_ptr());
            let mk = || (vec![0.0f32; b * h], vec![0.0f32; b * h], vec![0.0f32; b * (i + h)], vec![0.0f32; b * cols], vec![0.0f32; b * h]);
            let (mut hs, mut cs, mut xh, mut z, mut out) = mk();
            let (mut hs8, mut cs8, mut rh8, mut z8, mut out8) = mk();
            let mut zh = vec![0.0f32; b * gh];
            let mut a16 = vec![0u32; quant::act_scratch_len(b, i.max(h)).unwrap().div_ceil(4)];
            let mut apack = vec![0.0f32; gemm::packed_a_len(b, i + h)];
            let mut xin = vec![0.0f32; b * i];
            for step_t in 0..t {
                for (e, v) in xin.iter_mut().enumerate() {
                    *v = (((step_t * 31 + e * 7) % 19) as f32 / 19.0 - 0.5) * 3.0;
                }
                let st = |hs: &mut Vec<f32>, cs: &mut Vec<f32>, xh: &mut Vec<f32>, z: &mut Vec<f32>, out: &mut Vec<f32>| RecurStep {
                    cell,
                    gate: GateAct::Sigmoid,
                    inp: xin.as_ptr(),
                    i,
                    h,
                    packed: sp.as_ptr(),
                    b_ih,
                    b_hh,
                    hs: hs.as_mut_ptr(),
                    cs: cs.as_mut_ptr(),
                    xh: xh.as_mut_ptr(),
                    z: z.as_mut_ptr(),
                    out: out.as_mut_ptr(),
                };
                unsafe { st(&mut hs, &mut cs, &mut xh, &mut z, &mut out).run(b, apack.as_mut_ptr()) };
                let q = RecurStepQ8 {
                    st: st(&mut hs8, &mut cs8, &mut rh8, &mut z8, &mut out8),
                    w: Q8Weights { qx: qx.as_ptr(), sx: sx.as_ptr(), qh: qh.as_ptr(), sh: sh.as_ptr(), qn: qn.as_ptr(), sn: sn.as_ptr() },
                    zh: zh.as_mut_ptr(),
                    a16: a16.as_mut_ptr() as *mut i16,
                };
                unsafe { q.run(b) };
                for e in 0..b * h {
                    assert!((out8[e] - out[e]).abs() <= 2e-4, "{cell:?} t{step_t} [{e}]: {} vs {}", out8[e], out[e]);
                }
            }
        }
    }
}

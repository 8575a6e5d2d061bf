//! LSTM over a whole sequence: forward and BPTT backward, side by side.
//!
//! Gates in PyTorch order i, f, g, o (blocks of H in `W_ih [4H, I]`,
//! `W_hh [4H, H]`, `b_ih`, `b_hh`):
//!
//! ```text
//! a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh            [4H]
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c_t = f ⊙ c_{t-1} + i ⊙ g
//! h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Cache row (training), width 7H: `i f g o | tanh(c_t) | c_{t-1} | h_{t-1}`.
//! Backward overwrites `i f g o` with the pre-activation gradients `dA`.

use super::*;
use crate::activations::tanh;
use crate::gemm::{pack_b, sgemm, MatRef};
use crate::pool;

const CELL: Cell = Cell::Lstm;

/// # Safety
/// See [`Forward`]; `f.cell` is LSTM.
pub unsafe fn forward_sequence(f: &Forward) {
    let Dims { b, i, h, dirs, .. } = f.dims;
    let rows = f.dims.rows();
    let gh = 4 * h;
    let cw = cache_width(CELL, h, f.training);
    let (pf, pb) = packed_parts(CELL, h);
    let s = Scratch::at(f.work.add(dirs * rows * cw), CELL, b, h);
    let ldy = dirs * h;
    for d in 0..dirs {
        let p = DirParams::at(f.params as *mut f32, CELL, i, h, d);
        let cache = f.work.add(d * rows * cw);
        let packed = f.packed.add(d * (pf + pb));
        let seq = Seq::new(&f.dims, d, f.reverse, f.lengths);
        let mask = offset(f.rec_mask, d * b * h);

        // All steps' input projections in one GEMM: cache[:, 0..4H] = X·W_ihᵀ.
        input_projection(rows, i, gh, f.x, p.w_ih, cache, cw);
        if f.repack {
            // B operand of the step GEMM: W_hhᵀ [H, 4H].
            pack_b(h, gh, MatRef::t(p.w_hh, h), packed);
        }
        let so = d * b * h;
        load_state(s.h, offset(f.h0, so), b * h);
        load_state(s.c, offset(f.c0, so), b * h);
        seq.for_padded_rows(|r| {
            fill_row(f.y.add(r * ldy + d * h), h, 0.0);
            if f.training {
                fill_row(cache.add(r * cw + 6 * h), h, 0.0);
            }
        });

        for step in 0..seq.steps() {
            // Recurrent product for the whole batch: step = h_{t-1}·W_hhᵀ [B, 4H].
            let hin = masked_state(s.h, mask, s.hm, b * h);
            step_gemm(b, gh, h, hin, s.apack, packed, s.step, false);
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let Some(t) = seq.time(step, bb) else { return };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let z = s.step.add(bb * gh);
                let hs = s.h.add(bb * h);
                let cs = s.c.add(bb * h);
                let y = f.y.add(row * ldy + d * h);
                if f.training {
                    core::ptr::copy_nonoverlapping(cs, a.add(5 * h), h);
                    core::ptr::copy_nonoverlapping(hs, a.add(6 * h), h);
                }
                kernel_gates_forward(h, a, z, p.b_ih, p.b_hh, cs, hs, y, f.gate, f.training);
            });
        }
        store_state(offset_mut(f.hn, so), s.h, b * h);
        store_state(offset_mut(f.cn, so), s.c, b * h);
    }
}

/// The gate epilogue of one batch row at one step: pre-activations from the
/// input projection `a` and the recurrent product `z` plus both biases, the
/// gates, the new cell and hidden state (in place in `cs`, `hs`, and to `y`),
/// and in training the cache row's `i f g o tanh(c)`.
///
/// Out of line on purpose (and named `kernel_*` so wasm-opt keeps it so):
/// inlined into the exported entry point, V8 compiles one 78 KB function,
/// which is slower to tier up and to read in a profile. The closure is forced
/// inline so the full-width loop has no per-element tail branches.
///
/// # Safety
/// `a` readable (writable in training) over `5h`, `z`, `b_ih`, `b_hh` over `4h`,
/// `cs`, `hs`, `y` writable over `h`.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_gates_forward(
    h: usize,
    a: *mut f32,
    z: *const f32,
    b_ih: *const f32,
    b_hh: *const f32,
    cs: *mut f32,
    hs: *mut f32,
    y: *mut f32,
    gate: GateAct,
    training: bool,
) {
    for_lanes(
        h,
        #[inline(always)]
        |l| {
            let pre = |k: usize| l.load(a.add(k * h)).add(l.load(z.add(k * h))).add(l.load(b_ih.add(k * h))).add(l.load(b_hh.add(k * h)));
            let ig = gate.apply(pre(0));
            let fg = gate.apply(pre(1));
            let gg = tanh(pre(2));
            let og = gate.apply(pre(3));
            let c = fg.mul_add(l.load(cs), ig.mul(gg));
            let tc = tanh(c);
            let hn = og.mul(tc);
            if training {
                l.store(ig, a);
                l.store(fg, a.add(h));
                l.store(gg, a.add(2 * h));
                l.store(og, a.add(3 * h));
                l.store(tc, a.add(4 * h));
            }
            l.store(c, cs);
            l.store(hn, hs);
            l.store(hn, y);
        },
    );
}

/// # Safety
/// See [`Backward`]; `g.cell` is LSTM.
pub unsafe fn backward_sequence(g: &Backward) {
    let Dims { b, i, h, dirs, .. } = g.dims;
    let rows = g.dims.rows();
    let gh = 4 * h;
    let cw = cache_width(CELL, h, true);
    let (pf, pb) = packed_parts(CELL, h);
    let s = Scratch::at(g.work.add(dirs * rows * cw), CELL, b, h);
    let ldy = dirs * h;
    let one = F32x4::splat(1.0);
    for d in 0..dirs {
        let p = DirParams::at(g.params as *mut f32, CELL, i, h, d);
        let gp = DirParams::at(g.grads, CELL, i, h, d);
        let cache = g.work.add(d * rows * cw);
        let pbwd = g.packed.add(d * (pf + pb) + pf);
        let seq = Seq::new(&g.dims, d, g.reverse, g.lengths);
        let mask = offset(g.rec_mask, d * b * h);

        // B operand of dh_{t-1} = dA·W_hh: W_hh [4H, H] as is.
        pack_b(gh, h, MatRef::rows(p.w_hh, h), pbwd);
        let so = d * b * h;
        load_state(s.dh, offset(g.dhn, so), b * h);
        load_state(s.dc, offset(g.dcn, so), b * h);

        for step in (0..seq.steps()).rev() {
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let da_step = s.dg_step.add(bb * gh);
                let Some(t) = seq.time(step, bb) else {
                    fill_row(da_step, gh, 0.0);
                    return;
                };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let dhs = s.dh.add(bb * h);
                let dcs = s.dc.add(bb * h);
                let dy = offset(g.dy, row * ldy + d * h);
                for_lanes(h, |l| {
                    let mut dh = l.load(dhs);
                    if !dy.is_null() {
                        dh = dh.add(l.load(dy));
                    }
                    let ig = l.load(a);
                    let fg = l.load(a.add(h));
                    let gg = l.load(a.add(2 * h));
                    let og = l.load(a.add(3 * h));
                    let tc = l.load(a.add(4 * h));
                    let c_prev = l.load(a.add(5 * h));
                    // h = o⊙tanh(c):  do = dh⊙tanh(c),  dc += dh⊙o⊙(1 − tanh²c)
                    let d_o = dh.mul(tc);
                    let dc = l.load(dcs).add(dh.mul(og).mul(one.sub(tc.mul(tc))));
                    // c = f⊙c_prev + i⊙g
                    let di = dc.mul(gg);
                    let dgg = dc.mul(ig);
                    let df = dc.mul(c_prev);
                    l.store(dc.mul(fg), dcs);
                    // through the non-linearities: gate' (σ' = s(1−s)), tanh' = 1 − t²
                    let dai = di.mul(g.gate.grad(ig));
                    let daf = df.mul(g.gate.grad(fg));
                    let dag = dgg.mul(one.sub(gg.mul(gg)));
                    let dao = d_o.mul(g.gate.grad(og));
                    for (k, v) in [dai, daf, dag, dao].into_iter().enumerate() {
                        l.store(v, a.add(k * h));
                        l.store(v, da_step.add(k * h));
                    }
                    // dh_{t-1} has no direct term: it all comes through W_hh below.
                    l.store(F32x4::zero(), dhs);
                });
            });
            // dh_{t-1} += (dA·W_hh) ⊙ m  ([B, 4H] × [4H, H]); inactive rows add 0.
            step_gemm_dh(b, h, gh, s.dg_step, s.apack, pbwd, s.dh, mask, s.step);
        }
        store_state(offset_mut(g.dh0, so), s.dh, b * h);
        store_state(offset_mut(g.dc0, so), s.dc, b * h);

        // Padded rows still hold their input projection: they contribute nothing.
        seq.for_padded_rows(|r| fill_row(cache.add(r * cw), gh, 0.0));
        mask_cached_state(&seq, cache, cw, 6 * h, h, mask);
        // Over all steps at once: dW_ih, db_ih, dX; dW_hh += dAᵀ·H_prev; db_hh.
        input_side_grads(rows, i, gh, cache, cw, g.x, p.w_ih, gp.w_ih, gp.b_ih, g.dx, d > 0);
        sgemm(gh, h, rows, MatRef::t(cache, cw), MatRef::rows(cache.add(6 * h), cw), gp.w_hh, h, true);
        add_column_sums(gp.b_hh, cache, rows, cw, gh);
    }
}

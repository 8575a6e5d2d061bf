//! Simple (Elman) RNN over a whole sequence: forward and BPTT backward.
//!
//! ```text
//! h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   act = tanh | relu
//! ```
//!
//! Cache row (training), width 2H: `h_t | h_{t-1}`. Backward overwrites `h_t`
//! with `dA` (the pre-activation gradient).

use super::*;
use crate::activations::{relu, tanh};
use crate::gemm::{pack_b, sgemm, MatRef};
use crate::pool;

/// # Safety
/// See [`Forward`]; `f.cell` is an RNN.
pub unsafe fn forward_sequence(f: &Forward) {
    let cell = f.cell;
    let use_relu = cell == Cell::RnnRelu;
    let Dims { b, i, h, dirs, .. } = f.dims;
    let rows = f.dims.rows();
    let cw = cache_width(cell, h, f.training);
    let (pf, pb) = packed_parts(cell, h);
    let s = Scratch::at(f.work.add(dirs * rows * cw), cell, b, h);
    let ldy = dirs * h;
    for d in 0..dirs {
        let p = DirParams::at(f.params as *mut f32, cell, i, h, d);
        let cache = f.work.add(d * rows * cw);
        let packed = f.packed.add(d * (pf + pb));
        let seq = Seq::new(&f.dims, d, f.reverse, f.lengths);
        let mask = offset(f.rec_mask, d * b * h);

        input_projection(rows, i, h, f.x, p.w_ih, cache, cw);
        if f.repack {
            pack_b(h, h, MatRef::t(p.w_hh, h), packed);
        }
        let so = d * b * h;
        load_state(s.h, offset(f.h0, so), b * h);
        seq.for_padded_rows(|r| {
            fill_row(f.y.add(r * ldy + d * h), h, 0.0);
            if f.training {
                fill_row(cache.add(r * cw + h), h, 0.0);
            }
        });
        for step in 0..seq.steps() {
            let hin = masked_state(s.h, mask, s.hm, b * h);
            step_gemm(b, h, h, hin, s.apack, packed, s.step, false);
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let Some(t) = seq.time(step, bb) else { return };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let z = s.step.add(bb * h);
                let hs = s.h.add(bb * h);
                let y = f.y.add(row * ldy + d * h);
                if f.training {
                    core::ptr::copy_nonoverlapping(hs, a.add(h), h);
                }
                for_lanes(h, |l| {
                    let pre = l.load(a).add(l.load(z)).add(l.load(p.b_ih)).add(l.load(p.b_hh));
                    let hn = if use_relu { relu(pre) } else { tanh(pre) };
                    if f.training {
                        l.store(hn, a);
                    }
                    l.store(hn, hs);
                    l.store(hn, y);
                });
            });
        }
        store_state(offset_mut(f.hn, so), s.h, b * h);
    }
}

/// # Safety
/// See [`Backward`]; `g.cell` is an RNN.
pub unsafe fn backward_sequence(g: &Backward) {
    let cell = g.cell;
    let use_relu = cell == Cell::RnnRelu;
    let Dims { b, i, h, dirs, .. } = g.dims;
    let rows = g.dims.rows();
    let cw = cache_width(cell, h, true);
    let (pf, pb) = packed_parts(cell, h);
    let s = Scratch::at(g.work.add(dirs * rows * cw), cell, b, h);
    let ldy = dirs * h;
    let one = F32x4::splat(1.0);
    for d in 0..dirs {
        let p = DirParams::at(g.params as *mut f32, cell, i, h, d);
        let gp = DirParams::at(g.grads, cell, i, h, d);
        let cache = g.work.add(d * rows * cw);
        let pbwd = g.packed.add(d * (pf + pb) + pf);
        let seq = Seq::new(&g.dims, d, g.reverse, g.lengths);
        let mask = offset(g.rec_mask, d * b * h);
        pack_b(h, h, MatRef::rows(p.w_hh, h), pbwd);
        let so = d * b * h;
        load_state(s.dh, offset(g.dhn, so), b * h);

        for step in (0..seq.steps()).rev() {
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let das = s.dg_step.add(bb * h);
                let Some(t) = seq.time(step, bb) else {
                    fill_row(das, h, 0.0);
                    return;
                };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let dhs = s.dh.add(bb * h);
                let dy = offset(g.dy, row * ldy + d * h);
                for_lanes(h, |l| {
                    let mut dh = l.load(dhs);
                    if !dy.is_null() {
                        dh = dh.add(l.load(dy));
                    }
                    let hn = l.load(a);
                    // tanh' = 1 − h²; relu' = [h > 0]
                    let da = if use_relu { F32x4::select(hn.gt(F32x4::zero()), dh, F32x4::zero()) } else { dh.mul(one.sub(hn.mul(hn))) };
                    l.store(da, a);
                    l.store(da, das);
                    l.store(F32x4::zero(), dhs);
                });
            });
            step_gemm_dh(b, h, h, s.dg_step, s.apack, pbwd, s.dh, mask, s.step);
        }
        store_state(offset_mut(g.dh0, so), s.dh, b * h);

        seq.for_padded_rows(|r| fill_row(cache.add(r * cw), h, 0.0));
        mask_cached_state(&seq, cache, cw, h, h, mask);
        input_side_grads(rows, i, h, cache, cw, g.x, p.w_ih, gp.w_ih, gp.b_ih, g.dx, d > 0);
        sgemm(h, h, rows, MatRef::t(cache, cw), MatRef::rows(cache.add(h), cw), gp.w_hh, h, true);
        add_column_sums(gp.b_hh, cache, rows, cw, h);
    }
}

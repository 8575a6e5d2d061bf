//! GRU over a whole sequence: forward and BPTT backward, side by side, for
//! both reset placements.
//!
//! Gates in PyTorch order r, z, n (blocks of H in `W_ih [3H, I]`,
//! `W_hh [3H, H]`, `b_ih`, `b_hh`):
//!
//! ```text
//! r = σ(W_ir x + b_ir + W_hr h + b_hr)
//! z = σ(W_iz x + b_iz + W_hz h + b_hz)
//! reset after  (PyTorch, Keras reset_after=True, ONNX linear_before_reset=1):
//!     n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//! reset before (Cho 2014, Keras reset_after=False, ONNX linear_before_reset=0):
//!     n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
//! h' = (1 − z) ⊙ n + z ⊙ h  =  n + z ⊙ (h − n)
//! ```
//!
//! Cache row (training), width 5H: `r z n q | h_{t-1}` with `q = W_hn h + b_hn`
//! (reset after) or `q = r ⊙ h` (reset before). Backward overwrites `r z n`
//! with `dA_r dA_z dA_n` (gradients of the input-side pre-activations) and, for
//! reset after, `q` with `dq` (the gradient of `W_hn h + b_hn`).

use super::*;
use crate::activations::tanh;
use crate::gemm::{pack_b, packed_b_len, sgemm, MatRef};
use crate::pool;

/// # Safety
/// See [`Forward`]; `f.cell` is a GRU.
pub unsafe fn forward_sequence(f: &Forward) {
    let cell = f.cell;
    let after = cell == Cell::Gru;
    let Dims { b, i, h, dirs, .. } = f.dims;
    let rows = f.dims.rows();
    let gh = 3 * h;
    let cw = cache_width(cell, h, f.training);
    let (pf, pb) = packed_parts(cell, h);
    let s = Scratch::at(f.work.add(dirs * rows * cw), cell, b, h);
    let ldy = dirs * h;
    for d in 0..dirs {
        let p = DirParams::at(f.params as *mut f32, cell, i, h, d);
        let cache = f.work.add(d * rows * cw);
        let packed = f.packed.add(d * (pf + pb));
        // reset before: the r,z panels and the n panels are separate B operands.
        let packed_n = packed.add(packed_b_len(h, 2 * h));
        let seq = Seq::new(&f.dims, d, f.reverse, f.lengths);
        let mask = offset(f.rec_mask, d * b * h);

        input_projection(rows, i, gh, f.x, p.w_ih, cache, cw);
        if f.repack {
            if after {
                pack_b(h, gh, MatRef::t(p.w_hh, h), packed);
            } else {
                pack_b(h, 2 * h, MatRef::t(p.w_hh, h), packed);
                pack_b(h, h, MatRef::t(p.w_hh.add(2 * h * h), h), packed_n);
            }
        }
        let so = d * b * h;
        load_state(s.h, offset(f.h0, so), b * h);
        seq.for_padded_rows(|r| {
            fill_row(f.y.add(r * ldy + d * h), h, 0.0);
            if f.training {
                fill_row(cache.add(r * cw + 3 * h), 2 * h, 0.0);
            }
        });

        for step in 0..seq.steps() {
            // The recurrent products see h ⊙ m (recurrent dropout); z ⊙ h does not.
            let hin = masked_state(s.h, mask, s.hm, b * h);
            if after {
                // step = h·W_hhᵀ [B, 3H]
                step_gemm(b, gh, h, hin, s.apack, packed, s.step, false);
            } else {
                // step[:, 0..2H] = h·W_{hr,hz}ᵀ, then r, then step_n = (r⊙h)·W_hnᵀ
                step_gemm(b, 2 * h, h, hin, s.apack, packed, s.step, false);
                pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                    let z = s.step.add(bb * 2 * h);
                    let (hs, rh) = (hin.add(bb * h), s.rh.add(bb * h));
                    let a = match seq.time(step, bb) {
                        Some(t) => cache.add(seq.row(t, bb) * cw),
                        None => {
                            fill_row(rh, h, 0.0);
                            return;
                        }
                    };
                    for_lanes(h, |l| {
                        let r = f.gate.apply(l.load(a).add(l.load(z)).add(l.load(p.b_ih)).add(l.load(p.b_hh)));
                        l.store(r.mul(l.load(hs)), rh);
                    });
                });
                step_gemm(b, h, h, s.rh, s.apack, packed_n, s.dg_step, false);
            }
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let Some(t) = seq.time(step, bb) else { return };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let hs = s.h.add(bb * h);
                let y = f.y.add(row * ldy + d * h);
                // After: z_ptr = [hr hz hn] of 3H. Before: [hr hz] of 2H, and (r⊙h)W_hnᵀ separately.
                let (zrow, zn) = if after {
                    let z = s.step.add(bb * gh);
                    (z, z.add(2 * h))
                } else {
                    (s.step.add(bb * 2 * h), s.dg_step.add(bb * h))
                };
                let rh = s.rh.add(bb * h);
                if f.training {
                    core::ptr::copy_nonoverlapping(hs, a.add(4 * h), h);
                }
                for_lanes(h, |l| {
                    let pre = |k: usize| {
                        l.load(a.add(k * h)).add(l.load(zrow.add(k * h))).add(l.load(p.b_ih.add(k * h))).add(l.load(p.b_hh.add(k * h)))
                    };
                    let r = f.gate.apply(pre(0));
                    let zg = f.gate.apply(pre(1));
                    let xn = l.load(a.add(2 * h)).add(l.load(p.b_ih.add(2 * h)));
                    let q = l.load(zn).add(l.load(p.b_hh.add(2 * h)));
                    let n = if after { tanh(xn.add(r.mul(q))) } else { tanh(xn.add(q)) };
                    let hp = l.load(hs);
                    let hn = zg.mul_add(hp.sub(n), n);
                    if f.training {
                        l.store(r, a);
                        l.store(zg, a.add(h));
                        l.store(n, a.add(2 * h));
                        l.store(if after { q } else { l.load(rh) }, a.add(3 * h));
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
/// See [`Backward`]; `g.cell` is a GRU.
pub unsafe fn backward_sequence(g: &Backward) {
    let cell = g.cell;
    let after = cell == Cell::Gru;
    let Dims { b, i, h, dirs, .. } = g.dims;
    let rows = g.dims.rows();
    let gh = 3 * h;
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
        // reset before: W_{hr,hz} [2H, H] and W_hn [H, H] as separate B operands.
        let pbwd_n = pbwd.add(packed_b_len(2 * h, h));
        let seq = Seq::new(&g.dims, d, g.reverse, g.lengths);
        let mask = offset(g.rec_mask, d * b * h);
        if after {
            pack_b(gh, h, MatRef::rows(p.w_hh, h), pbwd);
        } else {
            pack_b(2 * h, h, MatRef::rows(p.w_hh, h), pbwd);
            pack_b(h, h, MatRef::rows(p.w_hh.add(2 * h * h), h), pbwd_n);
        }
        let so = d * b * h;
        load_state(s.dh, offset(g.dhn, so), b * h);

        for step in (0..seq.steps()).rev() {
            // Pass 1: everything that does not need a recurrent product.
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let dgs = s.dg_step.add(bb * gh);
                let rh = s.rh.add(bb * h);
                let Some(t) = seq.time(step, bb) else {
                    if after {
                        fill_row(dgs, gh, 0.0);
                    } else {
                        fill_row(rh, h, 0.0);
                    }
                    return;
                };
                let row = seq.row(t, bb);
                let a = cache.add(row * cw);
                let dhs = s.dh.add(bb * h);
                let dy = offset(g.dy, row * ldy + d * h);
                let hprev = a.add(4 * h);
                for_lanes(h, |l| {
                    let mut dh = l.load(dhs);
                    if !dy.is_null() {
                        dh = dh.add(l.load(dy));
                    }
                    let r = l.load(a);
                    let zg = l.load(a.add(h));
                    let n = l.load(a.add(2 * h));
                    let q = l.load(a.add(3 * h));
                    let hp = l.load(hprev);
                    // h' = n + z⊙(h − n)
                    let dan = dh.mul(one.sub(zg)).mul(one.sub(n.mul(n)));
                    let daz = dh.mul(hp.sub(n)).mul(g.gate.grad(zg));
                    l.store(dh.mul(zg), dhs); // direct path h → h'
                    l.store(daz, a.add(h));
                    l.store(dan, a.add(2 * h));
                    if after {
                        // n = tanh(xn + r⊙q):  dq = dA_n⊙r,  dr = dA_n⊙q
                        let dq = dan.mul(r);
                        let dar = dan.mul(q).mul(g.gate.grad(r));
                        l.store(dar, a);
                        l.store(dq, a.add(3 * h));
                        l.store(dar, dgs);
                        l.store(daz, dgs.add(h));
                        l.store(dq, dgs.add(2 * h));
                    } else {
                        // dA_n reaches r⊙h through W_hn in pass 2.
                        l.store(dan, rh);
                    }
                });
            });
            if after {
                // dh_{t-1} += ([dA_r dA_z dq]·W_hh) ⊙ m  ([B, 3H] × [3H, H])
                step_gemm_dh(b, h, gh, s.dg_step, s.apack, pbwd, s.dh, mask, s.step);
                continue;
            }
            // Reset before. d(r⊙h) = dA_n·W_hn into s.step [B, H].
            step_gemm(b, h, h, s.rh, s.apack, pbwd_n, s.step, false);
            pool::par_rows(b, EPILOGUE_COST * h, |bb| {
                let dgs = s.dg_step.add(bb * 2 * h);
                let Some(t) = seq.time(step, bb) else {
                    fill_row(dgs, 2 * h, 0.0);
                    return;
                };
                let a = cache.add(seq.row(t, bb) * cw);
                let drh = s.step.add(bb * h);
                let dhs = s.dh.add(bb * h);
                let mb = offset(mask, bb * h);
                let hp = a.add(4 * h);
                for_lanes(h, |l| {
                    let r = l.load(a);
                    let drh = l.load(drh);
                    let m = if mb.is_null() { one } else { l.load(mb) };
                    // r⊙(h⊙m):  dr = d(rh)⊙h⊙m,  dh += d(rh)⊙r⊙m
                    let dar = drh.mul(l.load(hp).mul(m)).mul(g.gate.grad(r));
                    l.store(l.load(dhs).add(drh.mul(r).mul(m)), dhs);
                    l.store(dar, a);
                    l.store(dar, dgs);
                    l.store(l.load(a.add(h)), dgs.add(h));
                });
            });
            // dh_{t-1} += ([dA_r dA_z]·W_{hr,hz}) ⊙ m  ([B, 2H] × [2H, H])
            step_gemm_dh(b, h, 2 * h, s.dg_step, s.apack, pbwd, s.dh, mask, s.step);
        }
        store_state(offset_mut(g.dh0, so), s.dh, b * h);

        seq.for_padded_rows(|r| fill_row(cache.add(r * cw), 4 * h, 0.0));
        mask_cached_state(&seq, cache, cw, 4 * h, h, mask);
        // Input side: dA_r, dA_z, dA_n are the gradients of W_i· x + b_i·.
        input_side_grads(rows, i, gh, cache, cw, g.x, p.w_ih, gp.w_ih, gp.b_ih, g.dx, d > 0);
        let hprev = cache.add(4 * h);
        // Hidden side r, z rows: dW_h{r,z} += dA_{r,z}ᵀ·H_prev, db_h{r,z} += Σ dA_{r,z}.
        sgemm(2 * h, h, rows, MatRef::t(cache, cw), MatRef::rows(hprev, cw), gp.w_hh, h, true);
        add_column_sums(gp.b_hh, cache, rows, cw, 2 * h);
        let w_hn = gp.w_hh.add(2 * h * h);
        let b_hn = gp.b_hh.add(2 * h);
        if after {
            // q = W_hn h + b_hn:  dW_hn += dqᵀ·H_prev,  db_hn += Σ dq.
            sgemm(h, h, rows, MatRef::t(cache.add(3 * h), cw), MatRef::rows(hprev, cw), w_hn, h, true);
            add_column_sums(b_hn, cache.add(3 * h), rows, cw, h);
        } else {
            // n = tanh(… + W_hn (r⊙h) + b_hn):  dW_hn += dA_nᵀ·(r⊙H_prev),  db_hn += Σ dA_n.
            sgemm(h, h, rows, MatRef::t(cache.add(2 * h), cw), MatRef::rows(cache.add(3 * h), cw), w_hn, h, true);
            add_column_sums(b_hn, cache.add(2 * h), rows, cw, h);
        }
    }
}

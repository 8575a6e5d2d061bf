//! Dense (fully connected) layer over rows, forward and backward side by side.
//!
//! ```text
//! z = x·Wᵀ + b        x [R, I], W [O, I] (PyTorch Linear layout), b [O]
//! y = act(z)          act ∈ linear, relu, tanh, sigmoid, softmax (over O)
//! ```
//!
//! Applied per time step on 3-D input: `R = B·T` rows.

use crate::activations::{exp, sigmoid, tanh};
use crate::cells::add_column_sums;
use crate::decl::codes;
use crate::gemm::{sgemm, MatRef};
use crate::simd::{for_lanes, F32x4};

codes! {
    /// A dense layer's activation (applied over `O` for softmax).
    pub enum Act {
        Linear = 0,
        Relu = 1,
        Tanh = 2,
        Sigmoid = 3,
        Softmax = 4,
    }
}

/// Row-wise softmax in place: `y = exp(z − max z) / Σ exp(z − max z)`.
///
/// # Safety
/// `y` holds `rows × n` floats.
pub unsafe fn softmax_rows(y: *mut f32, rows: usize, n: usize) {
    for r in 0..rows {
        let p = y.add(r * n);
        let mut mx = f32::NEG_INFINITY;
        for j in 0..n {
            mx = mx.max(*p.add(j));
        }
        let m = F32x4::splat(mx);
        let mut sum = 0.0f32;
        for_lanes(n, |l| {
            let e = exp(l.load(p).sub(m));
            l.store(e, p);
            let a = e.to_array();
            for v in a.iter().take(l.count) {
                sum += v;
            }
        });
        let inv = F32x4::splat(1.0 / sum);
        for_lanes(n, |l| l.store(l.load(p).mul(inv), p));
    }
}

/// `y = act(x·Wᵀ + b)`; `b` may be null.
///
/// # Safety
/// `x [rows, i]`, `w [o, i]`, `b [o]`, `y [rows, o]` valid; `y` disjoint from the others.
pub unsafe fn forward(rows: usize, i: usize, o: usize, x: *const f32, w: *const f32, b: *const f32, y: *mut f32, act: Act) {
    sgemm(rows, o, i, MatRef::rows(x, i), MatRef::t(w, i), y, o, false);
    bias_act(rows, o, y, b, act);
}

/// `y = act(y + b)` in place over `rows × o` (`b` may be null). Not inlined:
/// a pass over a layer's output, once per call, shared by every caller.
///
/// # Safety
/// `y [rows, o]`, `b [o]` valid.
#[inline(never)]
pub unsafe fn bias_act(rows: usize, o: usize, y: *mut f32, b: *const f32, act: Act) {
    if act == Act::Softmax {
        if !b.is_null() {
            for r in 0..rows {
                let p = y.add(r * o);
                for_lanes(o, |l| l.store(l.load(p).add(l.load(b)), p));
            }
        }
        softmax_rows(y, rows, o);
        return;
    }
    for r in 0..rows {
        let p = y.add(r * o);
        for_lanes(o, |l| {
            let mut z = l.load(p);
            if !b.is_null() {
                z = z.add(l.load(b));
            }
            let v = match act {
                Act::Linear => z,
                Act::Relu => z.max(F32x4::zero()),
                Act::Tanh => tanh(z),
                Act::Sigmoid => sigmoid(z),
                Act::Softmax => unreachable!(),
            };
            l.store(v, p);
        });
    }
}

/// Backward: `dy` (gradient w.r.t. `y`) is turned in place into `dz`; then
/// `dW += dzᵀ·x`, `db += Σ dz` (if `db` non-null), `dx = dz·W` (if `dx`
/// non-null). `y` is the forward output (activations are differentiated from it).
///
/// # Safety
/// As [`forward`], plus `dy [rows, o]`, `dw [o, i]`, `db [o]`, `dx [rows, i]`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward(
    rows: usize,
    i: usize,
    o: usize,
    x: *const f32,
    w: *const f32,
    y: *const f32,
    dy: *mut f32,
    act: Act,
    dw: *mut f32,
    db: *mut f32,
    dx: *mut f32,
) {
    act_backward(rows, o, y, dy, act);
    sgemm(o, i, rows, MatRef::t(dy, o), MatRef::rows(x, i), dw, i, true);
    if !db.is_null() {
        add_column_sums(db, dy, rows, o, o);
    }
    if !dx.is_null() {
        sgemm(rows, i, o, MatRef::rows(dy, o), MatRef::rows(w, i), dx, i, false);
    }
}

/// `dy` (the gradient w.r.t. `y = act(z)`) turned into `dz` in place; `y` the forward output.
///
/// # Safety
/// `y`, `dy` hold `rows × o` floats.
pub unsafe fn act_backward(rows: usize, o: usize, y: *const f32, dy: *mut f32, act: Act) {
    let one = F32x4::splat(1.0);
    for r in 0..rows {
        let (yp, dp) = (y.add(r * o), dy.add(r * o));
        if act == Act::Softmax {
            // dz = y ⊙ (dy − Σ dy⊙y)
            let mut s = 0.0f32;
            for j in 0..o {
                s += *dp.add(j) * *yp.add(j);
            }
            let sv = F32x4::splat(s);
            for_lanes(o, |l| l.store(l.load(yp).mul(l.load(dp).sub(sv)), dp));
            continue;
        }
        for_lanes(o, |l| {
            let yv = l.load(yp);
            let g = l.load(dp);
            let dz = match act {
                Act::Linear => g,
                Act::Relu => F32x4::select(yv.gt(F32x4::zero()), g, F32x4::zero()),
                Act::Tanh => g.mul(one.sub(yv.mul(yv))),
                Act::Sigmoid => g.mul(yv.mul(one.sub(yv))),
                Act::Softmax => unreachable!(),
            };
            l.store(dz, dp);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::testutil::uniform64 as lcg;

    fn reference(rows: usize, i: usize, o: usize, x: &[f64], w: &[f64], b: &[f64], act: Act) -> Vec<f64> {
        let mut y = vec![0.0; rows * o];
        for r in 0..rows {
            for j in 0..o {
                let z: f64 = (0..i).map(|k| x[r * i + k] * w[j * i + k]).sum::<f64>() + b[j];
                y[r * o + j] = match act {
                    Act::Linear | Act::Softmax => z,
                    Act::Relu => z.max(0.0),
                    Act::Tanh => z.tanh(),
                    Act::Sigmoid => 1.0 / (1.0 + (-z).exp()),
                };
            }
            if act == Act::Softmax {
                let row = &mut y[r * o..(r + 1) * o];
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
                for v in row.iter_mut() {
                    *v = (*v - m).exp() / s;
                }
            }
        }
        y
    }

    #[test]
    fn forward_and_gradients_match_reference_and_finite_differences() {
        let mut seed = 3u64;
        for act in [Act::Linear, Act::Relu, Act::Tanh, Act::Sigmoid, Act::Softmax] {
            let (rows, i, o) = (7, 5, 6);
            let x: Vec<f64> = (0..rows * i).map(|_| lcg(&mut seed)).map(|v| v as f32 as f64).collect();
            let w: Vec<f64> = (0..o * i).map(|_| lcg(&mut seed) * 0.8).map(|v| v as f32 as f64).collect();
            let b: Vec<f64> = (0..o).map(|_| lcg(&mut seed) * 0.5).map(|v| v as f32 as f64).collect();
            let wy: Vec<f64> = (0..rows * o).map(|_| lcg(&mut seed)).map(|v| v as f32 as f64).collect();
            let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let (xf, wf, bf) = (f(&x), f(&w), f(&b));
            let mut y = vec![f32::NAN; rows * o];
            unsafe { forward(rows, i, o, xf.as_ptr(), wf.as_ptr(), bf.as_ptr(), y.as_mut_ptr(), act) };
            let want = reference(rows, i, o, &x, &w, &b, act);
            for k in 0..y.len() {
                assert!((y[k] as f64 - want[k]).abs() < 1e-5 * (1.0 + want[k].abs()), "{act:?} y[{k}]");
            }
            let mut dy = f(&wy);
            let mut dw = vec![0.0f32; o * i];
            let mut db = vec![0.0f32; o];
            let mut dx = vec![f32::NAN; rows * i];
            unsafe {
                backward(
                    rows,
                    i,
                    o,
                    xf.as_ptr(),
                    wf.as_ptr(),
                    y.as_ptr(),
                    dy.as_mut_ptr(),
                    act,
                    dw.as_mut_ptr(),
                    db.as_mut_ptr(),
                    dx.as_mut_ptr(),
                )
            };
            let loss =
                |x: &[f64], w: &[f64], b: &[f64]| -> f64 { reference(rows, i, o, x, w, b, act).iter().zip(&wy).map(|(a, c)| a * c).sum() };
            let eps = 1e-6;
            let check = |name: &str, analytic: &[f32], which: usize| {
                let (mut xv, mut wv, mut bv) = (x.clone(), w.clone(), b.clone());
                for k in 0..analytic.len() {
                    let v = match which {
                        0 => &mut xv,
                        1 => &mut wv,
                        _ => &mut bv,
                    };
                    let orig = v[k];
                    v[k] = orig + eps;
                    let lp = loss(&xv, &wv, &bv);
                    let v = match which {
                        0 => &mut xv,
                        1 => &mut wv,
                        _ => &mut bv,
                    };
                    v[k] = orig - eps;
                    let lm = loss(&xv, &wv, &bv);
                    let v = match which {
                        0 => &mut xv,
                        1 => &mut wv,
                        _ => &mut bv,
                    };
                    v[k] = orig;
                    let n = (lp - lm) / (2.0 * eps);
                    let a = analytic[k] as f64;
                    let e = (a - n).abs() / a.abs().max(n.abs()).max(1e-2);
                    assert!(e < 1e-3, "{act:?} d{name}[{k}]: analytic {a} numeric {n}");
                }
            };
            check("x", &dx, 0);
            check("w", &dw, 1);
            check("b", &db, 2);
        }
    }
}

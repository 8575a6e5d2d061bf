//! 1-D convolution over channels-last sequences, as a GEMM over unfolded
//! windows (im2col), forward and backward side by side.
//!
//! ```text
//! x [B, T, Cin]   w [Cout, Cin/G, K] (PyTorch Conv1d layout)   b [Cout]
//! y[b, t, o] = act(b[o] + Σ_{c,k} w[o, c, k] · x[b, t·s + k·d − p, g·Cin/G + c])
//! ```
//!
//! with stride `s`, dilation `d`, `p` zeros on the left (the right padding is
//! implied by `out_steps`) and `o` in group `g`. The unfolded matrix holds one
//! row per output position and, per group, its `Cin/G · K` window values in
//! the weight's `(c, k)` order, so each group is one GEMM with the weight's
//! rows as they are stored: `y_g = col_g · w_gᵀ`. Backward reuses the same
//! matrix: `dw_g += dy_gᵀ · col_g`, then `dcol_g = dy_g · w_g` overwrites it
//! and folds back into `dx` (col2im).
//!
//! The same kernel runs the ONNX `Conv` operator on 1-D inputs (channels
//! first there: the importer transposes around it).

use crate::cells::add_column_sums;
use crate::decl::words;
use crate::dense::{bias_act, Act};
use crate::gemm::{sgemm, MatRef};

words! {
    /// A convolution's geometry, passed as `LEN` u32 from JavaScript in field order.
    pub struct ConvDims: [u32] {
        batch,
        steps,
        in_channels,
        out_channels,
        kernel,
        stride,
        dilation,
        /// Zeros before the first step.
        pad_left,
        groups,
        /// Output positions per sample (the caller's padding rule decides it).
        out_steps,
    }
}

/// A checked geometry in `usize`.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub b: usize,
    pub t: usize,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub s: usize,
    pub d: usize,
    pub p: usize,
    pub g: usize,
    pub tout: usize,
}

impl Geometry {
    /// Validates the words: positive sizes, groups dividing both channel
    /// counts, every window starting inside the input or its left padding (it
    /// may reach past the end, into implied right padding), and every product
    /// that sizes a buffer or a position free of overflow.
    pub fn new(w: &ConvDims) -> Option<Geometry> {
        let u = |v: u32| v as usize;
        let g = Geometry {
            b: u(w.batch),
            t: u(w.steps),
            cin: u(w.in_channels),
            cout: u(w.out_channels),
            k: u(w.kernel),
            s: u(w.stride),
            d: u(w.dilation),
            p: u(w.pad_left),
            g: u(w.groups),
            tout: u(w.out_steps),
        };
        if g.b == 0 || g.t == 0 || g.cin == 0 || g.cout == 0 || g.k == 0 || g.s == 0 || g.d == 0 || g.g == 0 || g.tout == 0 {
            return None;
        }
        if g.cin % g.g != 0 || g.cout % g.g != 0 {
            return None;
        }
        g.d.checked_mul(g.k - 1)?.checked_add(g.t)?.checked_add(g.p)?;
        // the last window must start inside the input plus its left padding
        if (g.tout - 1).checked_mul(g.s)? >= g.t + g.p {
            return None;
        }
        g.rows()?.checked_mul(g.cin.checked_mul(g.k)?.max(g.cout))?;
        g.b.checked_mul(g.t)?.checked_mul(g.cin)?;
        Some(g)
    }

    pub fn rows(&self) -> Option<usize> {
        self.b.checked_mul(self.tout)
    }

    /// Floats of the unfolded matrix (the workspace).
    pub fn col_len(&self) -> usize {
        self.b * self.tout * self.cin * self.k
    }

    fn cin_g(&self) -> usize {
        self.cin / self.g
    }

    fn cout_g(&self) -> usize {
        self.cout / self.g
    }

    /// Whether the unfolded matrix is `x` itself (pointwise, no padding or stride).
    fn identity(&self) -> bool {
        self.k == 1 && self.s == 1 && self.p == 0 && self.tout == self.t
    }
}

/// Unfold `x` into `col [B·Tout, Cin·K]`: row `(b, t)`, column `c·K + k` is
/// `x[b, t·s + k·d − p, c]`, or 0 outside the input.
unsafe fn im2col(g: &Geometry, x: *const f32, col: *mut f32) {
    let ck = g.cin * g.k;
    for b in 0..g.b {
        for t in 0..g.tout {
            let row = col.add((b * g.tout + t) * ck);
            for k in 0..g.k {
                let pos = (t * g.s + k * g.d) as isize - g.p as isize;
                if pos < 0 || pos as usize >= g.t {
                    for c in 0..g.cin {
                        *row.add(c * g.k + k) = 0.0;
                    }
                } else {
                    let src = x.add((b * g.t + pos as usize) * g.cin);
                    for c in 0..g.cin {
                        *row.add(c * g.k + k) = *src.add(c);
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: `dx = Σ` of each window value's gradient at its source.
unsafe fn col2im(g: &Geometry, dcol: *const f32, dx: *mut f32) {
    let ck = g.cin * g.k;
    core::ptr::write_bytes(dx, 0, g.b * g.t * g.cin);
    for b in 0..g.b {
        for t in 0..g.tout {
            let row = dcol.add((b * g.tout + t) * ck);
            for k in 0..g.k {
                let pos = (t * g.s + k * g.d) as isize - g.p as isize;
                if pos < 0 || pos as usize >= g.t {
                    continue;
                }
                let dst = dx.add((b * g.t + pos as usize) * g.cin);
                for c in 0..g.cin {
                    *dst.add(c) += *row.add(c * g.k + k);
                }
            }
        }
    }
}

/// `y [B·Tout, Cout] = act(conv(x) + b)`; `b` may be null. `col` (`col_len`
/// floats) keeps the unfolded input for [`backward`]; unused when the
/// convolution is pointwise (the input is its own unfolding).
///
/// # Safety
/// Regions valid for the geometry; `y` and `col` disjoint from the others.
pub unsafe fn forward(g: &Geometry, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, col: *mut f32, act: Act) {
    let rows = g.b * g.tout;
    let (cig, cog) = (g.cin_g(), g.cout_g());
    let src = if g.identity() {
        x
    } else {
        im2col(g, x, col);
        col
    };
    let ck = g.cin * g.k;
    let wk = cig * g.k;
    for grp in 0..g.g {
        sgemm(rows, cog, wk, MatRef::rows(src.add(grp * wk), ck), MatRef::t(w.add(grp * cog * wk), wk), y.add(grp * cog), g.cout, false);
    }
    bias_act(rows, g.cout, y, bias, act);
}

/// Backward of [`forward`] (same `x`, `w`, `y`, and the `col` it filled):
/// `dy` becomes `dz` in place; `dw += dzᵀ·col`, `db += Σ dz` (if non-null),
/// `dx = col2im(dz·w)` (if non-null; `col` is overwritten on the way).
///
/// # Safety
/// As [`forward`], plus `dy [B·Tout, Cout]`, `dw`, `db`, `dx [B, T, Cin]`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward(
    g: &Geometry,
    x: *const f32,
    w: *const f32,
    y: *const f32,
    dy: *mut f32,
    act: Act,
    col: *mut f32,
    dw: *mut f32,
    db: *mut f32,
    dx: *mut f32,
) {
    let rows = g.b * g.tout;
    let (cig, cog) = (g.cin_g(), g.cout_g());
    crate::dense::act_backward(rows, g.cout, y, dy, act);
    let identity = g.identity();
    let src = if identity { x } else { col as *const f32 };
    let ck = g.cin * g.k;
    let wk = cig * g.k;
    for grp in 0..g.g {
        sgemm(cog, wk, rows, MatRef::t(dy.add(grp * cog), g.cout), MatRef::rows(src.add(grp * wk), ck), dw.add(grp * cog * wk), wk, true);
    }
    if !db.is_null() {
        add_column_sums(db, dy, rows, g.cout, g.cout);
    }
    if dx.is_null() {
        return;
    }
    // pointwise: dx is the unfolded gradient itself
    let dcol = if identity { dx } else { col };
    for grp in 0..g.g {
        sgemm(
            rows,
            wk,
            cog,
            MatRef::rows(dy.add(grp * cog), g.cout),
            MatRef::rows(w.add(grp * cog * wk), wk),
            dcol.add(grp * wk),
            ck,
            false,
        );
    }
    if !identity {
        col2im(g, col, dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::testutil::uniform64 as lcg;

    /// The definition, directly, in float64.
    fn reference(g: &Geometry, x: &[f64], w: &[f64], b: &[f64], act: Act) -> Vec<f64> {
        let (cig, cog) = (g.cin / g.g, g.cout / g.g);
        let mut y = vec![0.0; g.b * g.tout * g.cout];
        for bi in 0..g.b {
            for t in 0..g.tout {
                for o in 0..g.cout {
                    let grp = o / cog;
                    let mut z = b[o];
                    for c in 0..cig {
                        for k in 0..g.k {
                            let pos = (t * g.s + k * g.d) as isize - g.p as isize;
                            if pos >= 0 && (pos as usize) < g.t {
                                z += w[(o * cig + c) * g.k + k] * x[(bi * g.t + pos as usize) * g.cin + grp * cig + c];
                            }
                        }
                    }
                    y[(bi * g.tout + t) * g.cout + o] = match act {
                        Act::Relu => z.max(0.0),
                        Act::Tanh => z.tanh(),
                        _ => z,
                    };
                }
            }
        }
        y
    }

    fn geometry(b: u32, t: u32, cin: u32, cout: u32, k: u32, s: u32, d: u32, p: u32, groups: u32, tout: u32) -> Geometry {
        Geometry::new(&ConvDims {
            batch: b,
            steps: t,
            in_channels: cin,
            out_channels: cout,
            kernel: k,
            stride: s,
            dilation: d,
            pad_left: p,
            groups,
            out_steps: tout,
        })
        .expect("valid geometry")
    }

    #[test]
    fn forward_and_gradients_match_the_definition_and_finite_differences() {
        let mut seed = 5u64;
        // (b, t, cin, cout, k, stride, dilation, pad_left, groups, tout)
        let cases = [
            (2, 7, 3, 4, 3, 1, 1, 0, 1, 5, Act::Linear), // valid
            (2, 7, 3, 4, 3, 1, 1, 1, 1, 7, Act::Tanh),   // same
            (1, 9, 2, 3, 3, 1, 2, 4, 1, 9, Act::Linear), // causal, dilated
            (2, 8, 4, 6, 3, 2, 1, 1, 2, 4, Act::Relu),   // strided, same, two groups
            (3, 5, 4, 5, 1, 1, 1, 0, 1, 5, Act::Linear), // pointwise: no unfolding
            (1, 6, 4, 4, 2, 1, 1, 0, 4, 5, Act::Tanh),   // depthwise
        ];
        for (b, t, cin, cout, k, s, d, p, grp, tout, act) in cases {
            let g = geometry(b, t, cin, cout, k, s, d, p, grp, tout);
            let wlen = g.cout * g.cin / g.g * g.k;
            let x: Vec<f64> = (0..g.b * g.t * g.cin).map(|_| lcg(&mut seed)).collect();
            let w: Vec<f64> = (0..wlen).map(|_| lcg(&mut seed) * 0.7).collect();
            let bias: Vec<f64> = (0..g.cout).map(|_| lcg(&mut seed) * 0.3).collect();
            let wy: Vec<f64> = (0..g.b * g.tout * g.cout).map(|_| lcg(&mut seed)).collect();
            let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let (xf, wf, bf) = (f(&x), f(&w), f(&bias));
            let mut y = vec![f32::NAN; wy.len()];
            let mut col = vec![f32::NAN; g.col_len()];
            unsafe { forward(&g, xf.as_ptr(), wf.as_ptr(), bf.as_ptr(), y.as_mut_ptr(), col.as_mut_ptr(), act) };
            let want = reference(&g, &x, &w, &bias, act);
            for (i, (a, e)) in y.iter().zip(&want).enumerate() {
                assert!((*a as f64 - e).abs() < 1e-5 * (1.0 + e.abs()), "case {:?} y[{i}] {a} vs {e}", (b, t, cin, cout, k, s, d, p, grp));
            }
            let mut dy = f(&wy);
            let mut dw = vec![0.0f32; wlen];
            let mut db = vec![0.0f32; g.cout];
            let mut dx = vec![f32::NAN; xf.len()];
            unsafe {
                backward(
                    &g,
                    xf.as_ptr(),
                    wf.as_ptr(),
                    y.as_ptr(),
                    dy.as_mut_ptr(),
                    act,
                    col.as_mut_ptr(),
                    dw.as_mut_ptr(),
                    db.as_mut_ptr(),
                    dx.as_mut_ptr(),
                )
            };
            let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 { reference(&g, x, w, b, act).iter().zip(&wy).map(|(a, c)| a * c).sum() };
            let eps = 1e-6;
            let numeric = |which: usize, i: usize| {
                let (mut xv, mut wv, mut bv) = (x.clone(), w.clone(), bias.clone());
                let v = [&mut xv, &mut wv, &mut bv].into_iter().nth(which).unwrap();
                v[i] += eps;
                let (xp, wp, bp) = (xv.clone(), wv.clone(), bv.clone());
                let v = [&mut xv, &mut wv, &mut bv].into_iter().nth(which).unwrap();
                v[i] -= 2.0 * eps;
                (loss(&xp, &wp, &bp) - loss(&xv, &wv, &bv)) / (2.0 * eps)
            };
            for (which, name, got) in [(0, "x", &dx), (1, "w", &dw), (2, "b", &db)] {
                for (i, a) in got.iter().enumerate() {
                    let n = numeric(which, i);
                    let e = (*a as f64 - n).abs() / a.abs().max(n.abs() as f32).max(1e-2) as f64;
                    assert!(e < 1e-3, "case {:?} d{name}[{i}]: {a} vs {n}", (b, t, cin, cout, k, s, d, p, grp));
                }
            }
        }
    }

    #[test]
    fn geometry_refuses_windows_outside_the_input() {
        let w = |tout: u32, p: u32, groups: u32| ConvDims {
            batch: 1,
            steps: 5,
            in_channels: 4,
            out_channels: 6,
            kernel: 3,
            stride: 2,
            dilation: 1,
            pad_left: p,
            groups,
            out_steps: tout,
        };
        assert!(Geometry::new(&w(2, 0, 1)).is_some());
        assert!(Geometry::new(&w(3, 0, 1)).is_some()); // the last window reaches into right padding
        assert!(Geometry::new(&w(4, 0, 1)).is_none()); // starts past the end
        assert!(Geometry::new(&w(2, 0, 3)).is_none()); // 3 does not divide 4
        assert!(Geometry::new(&w(2, 0, 0)).is_none());
    }
}

//! Element-wise merges of same-shaped tensors, and strided row copies: what
//! the graph's merge, concatenate, repeat and gradient-accumulation steps
//! compute, forward and backward side by side.
//!
//! ```text
//! Add       y = Σ x_i                 dx_i = dy
//! Subtract  y = x_0 − x_1             dx_0 = dy, dx_1 = −dy
//! Multiply  y = Π x_i                 dx_i = dy · Π_{j≠i} x_j
//! Average   y = (Σ x_i) / k           dx_i = dy / k
//! Maximum   y = max_i x_i             dx_i = dy where x_i is the first maximum, else 0
//! Minimum   y = min_i x_i             dx_i = dy where x_i is the first minimum, else 0
//! ```
//!
//! `Multiply`'s backward takes the product of the others directly (prefix
//! and suffix), never `y / x_i`, so a zero input gives the right gradient.

use crate::decl::codes;
use crate::simd::for_lanes;

codes! {
    /// An element-wise merge of `k` tensors.
    pub enum Merge {
        Add = 0,
        Subtract = 1,
        Multiply = 2,
        Average = 3,
        Maximum = 4,
        Minimum = 5,
    }
}

impl Merge {
    /// Inputs the merge takes: `(min, max)`.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Merge::Subtract => (2, 2),
            _ => (2, usize::MAX),
        }
    }
}

/// `y[n] = op(x_0, …, x_{k-1})`.
///
/// # Safety
/// Each `xs[i]` and `y` hold `n` floats; `y` may alias none of them.
pub unsafe fn merge_forward(op: Merge, n: usize, xs: &[*const f32], y: *mut f32) {
    let k = xs.len();
    core::ptr::copy_nonoverlapping(xs[0], y, n);
    for &x in &xs[1..] {
        match op {
            Merge::Add | Merge::Average => for_lanes(n, |l| l.store(l.load(y).add(l.load(x)), y)),
            Merge::Subtract => for_lanes(n, |l| l.store(l.load(y).sub(l.load(x)), y)),
            Merge::Multiply => for_lanes(n, |l| l.store(l.load(y).mul(l.load(x)), y)),
            Merge::Maximum => {
                for e in 0..n {
                    // the first maximum wins ties (backward routes to it)
                    if *x.add(e) > *y.add(e) {
                        *y.add(e) = *x.add(e);
                    }
                }
            }
            Merge::Minimum => {
                for e in 0..n {
                    if *x.add(e) < *y.add(e) {
                        *y.add(e) = *x.add(e);
                    }
                }
            }
        }
    }
    if op == Merge::Average {
        let inv = 1.0 / k as f32;
        for_lanes(n, |l| l.store(l.load(y).mul(crate::simd::F32x4::splat(inv)), y));
    }
}

/// The gradients of [`merge_forward`]: `dxs[i] = ∂y/∂x_i · dy` (overwritten;
/// null where not wanted).
///
/// # Safety
/// `xs[i]`, `dy` and the non-null `dxs[i]` hold `n` floats; the `dxs` are
/// disjoint from each other and from the inputs.
pub unsafe fn merge_backward(op: Merge, n: usize, xs: &[*const f32], dy: *const f32, dxs: &[*mut f32]) {
    let k = xs.len();
    match op {
        Merge::Add | Merge::Average => {
            let s = crate::simd::F32x4::splat(if op == Merge::Average { 1.0 / k as f32 } else { 1.0 });
            for &dx in dxs.iter().filter(|p| !p.is_null()) {
                for_lanes(n, |l| l.store(l.load(dy).mul(s), dx));
            }
        }
        Merge::Subtract => {
            if !dxs[0].is_null() {
                core::ptr::copy_nonoverlapping(dy, dxs[0], n);
            }
            if !dxs[1].is_null() {
                let dx = dxs[1];
                for_lanes(n, |l| l.store(l.load(dy).neg(), dx));
            }
        }
        Merge::Multiply => {
            for (i, &dx) in dxs.iter().enumerate() {
                if dx.is_null() {
                    continue;
                }
                // dy times every other input, in input order
                core::ptr::copy_nonoverlapping(dy, dx, n);
                for (j, &x) in xs.iter().enumerate() {
                    if j != i {
                        for_lanes(n, |l| l.store(l.load(dx).mul(l.load(x)), dx));
                    }
                }
            }
        }
        Merge::Maximum | Merge::Minimum => {
            for &dx in dxs.iter().filter(|p| !p.is_null()) {
                core::ptr::write_bytes(dx, 0, n);
            }
            for e in 0..n {
                let mut best = 0;
                for j in 1..k {
                    let (v, b) = (*xs[j].add(e), *xs[best].add(e));
                    if (op == Merge::Maximum && v > b) || (op == Merge::Minimum && v < b) {
                        best = j;
                    }
                }
                if !dxs[best].is_null() {
                    *dxs[best].add(e) = *dy.add(e);
                }
            }
        }
    }
}

/// `y[n] += a · x[n]` (gradient accumulation and scaling).
///
/// # Safety
/// `x`, `y` hold `n` floats and do not overlap.
pub unsafe fn axpy(n: usize, a: f32, x: *const f32, y: *mut f32) {
    let s = crate::simd::F32x4::splat(a);
    for_lanes(n, |l| l.store(l.load(x).mul_add(s, l.load(y)), y));
}

/// `rows` rows of `len` floats, row `r` from source row `r / src_rep` (row
/// stride `ss`) to destination row `r / dst_rep` (row stride `ds`), copied
/// or (with `acc`) added. `src_rep = n` repeats each source row `n` times (a
/// repeat); `dst_rep = n` with `acc` sums each `n` rows into one (its
/// gradient); both 1 is a strided copy (concatenate, split).
///
/// # Safety
/// The rows lie in their buffers, and `src` and `dst` do not overlap.
pub unsafe fn copy_rows(
    rows: usize,
    len: usize,
    src: *const f32,
    ss: usize,
    src_rep: usize,
    dst: *mut f32,
    ds: usize,
    dst_rep: usize,
    acc: bool,
) {
    for r in 0..rows {
        let (s, d) = (src.add((r / src_rep) * ss), dst.add((r / dst_rep) * ds));
        if acc {
            for_lanes(len, |l| l.store(l.load(d).add(l.load(s)), d));
        } else {
            core::ptr::copy_nonoverlapping(s, d, len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::testutil::uniform as lcg;

    /// Every merge against its f64 definition, and every gradient against
    /// central finite differences of Σ w·y (odd n: the lanes' tails).
    #[test]
    fn merges_and_their_gradients() {
        let n = 11;
        let mut seed = 5;
        for (op, _) in Merge::VARIANTS.iter().map(|(n, o)| (*o, *n)) {
            for k in [2usize, 3] {
                if op == Merge::Subtract && k != 2 {
                    continue;
                }
                let mut xs: Vec<Vec<f32>> = (0..k).map(|_| (0..n).map(|_| lcg(&mut seed)).collect()).collect();
                xs[0][3] = 0.0; // a zero for Multiply's gradient
                let w: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
                let f = |xs: &[Vec<f32>], e: usize| -> f64 {
                    let v: Vec<f64> = xs.iter().map(|x| x[e] as f64).collect();
                    match op {
                        Merge::Add => v.iter().sum(),
                        Merge::Subtract => v[0] - v[1],
                        Merge::Multiply => v.iter().product(),
                        Merge::Average => v.iter().sum::<f64>() / k as f64,
                        Merge::Maximum => v.iter().cloned().fold(f64::MIN, f64::max),
                        Merge::Minimum => v.iter().cloned().fold(f64::MAX, f64::min),
                    }
                };
                let ptrs: Vec<*const f32> = xs.iter().map(|x| x.as_ptr()).collect();
                let mut y = vec![0.0f32; n];
                unsafe { merge_forward(op, n, &ptrs, y.as_mut_ptr()) };
                for e in 0..n {
                    assert!((y[e] as f64 - f(&xs, e)).abs() < 1e-6, "{op:?} k{k} [{e}]");
                }
                let mut dxs: Vec<Vec<f32>> = vec![vec![f32::NAN; n]; k];
                let dptrs: Vec<*mut f32> = dxs.iter_mut().map(|d| d.as_mut_ptr()).collect();
                unsafe { merge_backward(op, n, &ptrs, w.as_ptr(), &dptrs) };
                for i in 0..k {
                    for e in 0..n {
                        let h = 1e-3f32;
                        let mut p = xs.clone();
                        p[i][e] += h;
                        let mut m = xs.clone();
                        m[i][e] -= h;
                        let num = (f(&p, e) - f(&m, e)) * w[e] as f64 / (2.0 * h as f64);
                        assert!((dxs[i][e] as f64 - num).abs() < 1e-3, "{op:?} k{k} dx{i}[{e}]: {} vs {num}", dxs[i][e]);
                    }
                }
            }
        }
    }

    #[test]
    fn strided_copies_repeat_and_sum() {
        let src: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 2 rows of 3
        let mut dst = vec![0.0f32; 10]; // 2 rows of stride 5
        unsafe { copy_rows(2, 3, src.as_ptr(), 3, 1, dst.as_mut_ptr(), 5, 1, false) };
        assert_eq!(dst, [0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 5.0, 0.0, 0.0]);
        let mut rep = vec![0.0f32; 12]; // each of the 2 rows twice
        unsafe { copy_rows(4, 3, src.as_ptr(), 3, 2, rep.as_mut_ptr(), 3, 1, false) };
        assert_eq!(rep, [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0]);
        let mut sum = vec![1.0f32; 6]; // each pair of rows summed onto one
        unsafe { copy_rows(4, 3, rep.as_ptr(), 3, 1, sum.as_mut_ptr(), 3, 2, true) };
        assert_eq!(sum, [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        let mut y = vec![1.0f32; 5];
        unsafe { axpy(5, -2.0, src.as_ptr(), y.as_mut_ptr()) };
        assert_eq!(y, [1.0, -1.0, -3.0, -5.0, -7.0]);
    }
}

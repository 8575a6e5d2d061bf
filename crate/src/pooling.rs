//! Pooling over the steps of channels-last sequences `x [B, T, C]`, forward
//! and backward: windows (`pool` steps every `stride`, `pad_left` steps of
//! padding that never wins a max nor counts in an average, as Keras and
//! TensorFlow), and the whole sequence (global), where each sample's valid
//! steps are its `lengths` (masking): padded steps are never pooled.
//!
//! Max pooling records the winning step per output (`arg`, u32) so backward
//! routes each gradient to exactly one input, the first maximum on ties (as
//! PyTorch and TensorFlow).

use crate::decl::{codes, words};

codes! {
    /// What a pooling layer takes from each window.
    pub enum Pool {
        Max = 0,
        Average = 1,
    }
}

words! {
    /// A windowed pooling's geometry, passed as `LEN` u32 in field order.
    pub struct PoolDims: [u32] {
        batch,
        steps,
        channels,
        pool,
        stride,
        /// Padding steps before the first (never pooled).
        pad_left,
        out_steps,
    }
}

/// A checked windowed-pooling geometry.
#[derive(Clone, Copy, Debug)]
pub struct Windows {
    pub b: usize,
    pub t: usize,
    pub c: usize,
    pub pool: usize,
    pub s: usize,
    pub p: usize,
    pub tout: usize,
}

impl Windows {
    /// Positive sizes, and every window holding at least one real step: the
    /// first ends after step 0 (`pad_left < pool`) and the last starts before
    /// the end.
    pub fn new(w: &PoolDims) -> Option<Windows> {
        let u = |v: u32| v as usize;
        let g = Windows {
            b: u(w.batch),
            t: u(w.steps),
            c: u(w.channels),
            pool: u(w.pool),
            s: u(w.stride),
            p: u(w.pad_left),
            tout: u(w.out_steps),
        };
        if g.b == 0 || g.t == 0 || g.c == 0 || g.pool == 0 || g.s == 0 || g.tout == 0 || g.p >= g.pool {
            return None;
        }
        if (g.tout - 1).checked_mul(g.s)? >= g.t + g.p {
            return None;
        }
        g.b.checked_mul(g.t.max(g.tout))?.checked_mul(g.c)?;
        Some(g)
    }

    pub fn out_len(&self) -> usize {
        self.b * self.tout * self.c
    }

    pub fn in_len(&self) -> usize {
        self.b * self.t * self.c
    }

    /// The real steps `[lo, hi)` of output position `t`'s window.
    fn window(&self, t: usize) -> (usize, usize) {
        let start = t * self.s;
        let lo = start.saturating_sub(self.p);
        let hi = (start + self.pool - self.p).min(self.t);
        (lo, hi)
    }
}

/// `y [B, Tout, C]`: each window's max or mean over its real steps. `arg`
/// (max only, may be null) receives the winning step per output.
///
/// # Safety
/// `x [B, T, C]`, `y` and `arg` `[B, Tout, C]` valid and disjoint.
pub unsafe fn windows_forward(kind: Pool, g: &Windows, x: *const f32, y: *mut f32, arg: *mut u32) {
    for b in 0..g.b {
        for t in 0..g.tout {
            let (lo, hi) = g.window(t);
            let out = y.add((b * g.tout + t) * g.c);
            let first = x.add((b * g.t + lo) * g.c);
            core::ptr::copy_nonoverlapping(first, out, g.c);
            match kind {
                Pool::Max => {
                    let a = if arg.is_null() { None } else { Some(arg.add((b * g.tout + t) * g.c)) };
                    if let Some(a) = a {
                        for c in 0..g.c {
                            *a.add(c) = lo as u32;
                        }
                    }
                    for s in lo + 1..hi {
                        let row = x.add((b * g.t + s) * g.c);
                        for c in 0..g.c {
                            if *row.add(c) > *out.add(c) {
                                *out.add(c) = *row.add(c);
                                if let Some(a) = a {
                                    *a.add(c) = s as u32;
                                }
                            }
                        }
                    }
                }
                Pool::Average => {
                    for s in lo + 1..hi {
                        let row = x.add((b * g.t + s) * g.c);
                        for c in 0..g.c {
                            *out.add(c) += *row.add(c);
                        }
                    }
                    let inv = 1.0 / (hi - lo) as f32;
                    for c in 0..g.c {
                        *out.add(c) *= inv;
                    }
                }
            }
        }
    }
}

/// `dx [B, T, C]` (overwritten) from `dy [B, Tout, C]`: to the winner (max,
/// `arg` from the training forward) or shared evenly over the window's real
/// steps (average).
///
/// # Safety
/// As [`windows_forward`], plus `dy`, `dx`.
pub unsafe fn windows_backward(kind: Pool, g: &Windows, dy: *const f32, arg: *const u32, dx: *mut f32) {
    core::ptr::write_bytes(dx, 0, g.in_len());
    for b in 0..g.b {
        for t in 0..g.tout {
            let d = dy.add((b * g.tout + t) * g.c);
            match kind {
                Pool::Max => {
                    let a = arg.add((b * g.tout + t) * g.c);
                    for c in 0..g.c {
                        *dx.add((b * g.t + *a.add(c) as usize) * g.c + c) += *d.add(c);
                    }
                }
                Pool::Average => {
                    let (lo, hi) = g.window(t);
                    let inv = 1.0 / (hi - lo) as f32;
                    for s in lo..hi {
                        let row = dx.add((b * g.t + s) * g.c);
                        for c in 0..g.c {
                            *row.add(c) += *d.add(c) * inv;
                        }
                    }
                }
            }
        }
    }
}

/// Valid steps of sample `b`: its length, or all `t` (`lengths` null).
#[inline(always)]
unsafe fn valid(lengths: *const i32, b: usize, t: usize) -> usize {
    if lengths.is_null() {
        t
    } else {
        (*lengths.add(b)).clamp(0, t as i32) as usize
    }
}

/// `y [B, C]`: the max or mean over each sample's valid steps (0 for an empty
/// sample); `arg` (max, may be null) the winning step per `(b, c)`.
///
/// # Safety
/// `x [B, T, C]`, `lengths [B]` (or null), `y` and `arg` `[B, C]` valid.
pub unsafe fn global_forward(kind: Pool, b: usize, t: usize, c: usize, lengths: *const i32, x: *const f32, y: *mut f32, arg: *mut u32) {
    for bi in 0..b {
        let n = valid(lengths, bi, t);
        let out = y.add(bi * c);
        core::ptr::write_bytes(out, 0, c);
        if n == 0 {
            if !arg.is_null() {
                core::ptr::write_bytes(arg.add(bi * c), 0xff, c);
            }
            continue;
        }
        let g = Windows { b: 1, t: n, c, pool: n, s: 1, p: 0, tout: 1 };
        windows_forward(kind, &g, x.add(bi * t * c), out, if arg.is_null() { arg } else { arg.add(bi * c) });
    }
}

/// `dx [B, T, C]` (overwritten; padded steps get 0) from `dy [B, C]`.
///
/// # Safety
/// As [`global_forward`], plus `dy`, `dx`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn global_backward(
    kind: Pool,
    b: usize,
    t: usize,
    c: usize,
    lengths: *const i32,
    dy: *const f32,
    arg: *const u32,
    dx: *mut f32,
) {
    core::ptr::write_bytes(dx, 0, b * t * c);
    for bi in 0..b {
        let n = valid(lengths, bi, t);
        if n == 0 {
            continue;
        }
        let g = Windows { b: 1, t: n, c, pool: n, s: 1, p: 0, tout: 1 };
        // the sample's valid steps are the first n rows of its block; windows_backward zeroes only those
        windows_backward(kind, &g, dy.add(bi * c), if arg.is_null() { arg } else { arg.add(bi * c) }, dx.add(bi * t * c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::testutil::uniform as lcg;

    /// Pooling by its definition: the real steps of each window, listed.
    fn reference(kind: Pool, g: &Windows, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; g.out_len()];
        for b in 0..g.b {
            for t in 0..g.tout {
                let steps: Vec<usize> = (0..g.pool)
                    .map(|k| (t * g.s + k) as isize - g.p as isize)
                    .filter(|&s| s >= 0 && (s as usize) < g.t)
                    .map(|s| s as usize)
                    .collect();
                for c in 0..g.c {
                    let vals = steps.iter().map(|&s| x[(b * g.t + s) * g.c + c]);
                    y[(b * g.tout + t) * g.c + c] = match kind {
                        Pool::Max => vals.fold(f32::NEG_INFINITY, f32::max),
                        Pool::Average => vals.map(|v| v as f64).sum::<f64>() as f32 / steps.len() as f32,
                    };
                }
            }
        }
        y
    }

    #[test]
    fn windows_match_the_definition_and_gradients_sum_to_their_inputs() {
        let mut seed = 9u64;
        // (t, pool, stride, pad_left, tout): valid, same with padding, overlapping windows
        for (t, pool, s, p, tout) in [(8, 2, 2, 0, 4), (7, 3, 2, 1, 4), (6, 3, 1, 1, 6), (5, 4, 1, 0, 2)] {
            for kind in [Pool::Max, Pool::Average] {
                let g = Windows::new(&PoolDims { batch: 2, steps: t, channels: 3, pool, stride: s, pad_left: p, out_steps: tout }).unwrap();
                let x: Vec<f32> = (0..g.in_len()).map(|_| lcg(&mut seed)).collect();
                let mut y = vec![f32::NAN; g.out_len()];
                let mut arg = vec![u32::MAX; g.out_len()];
                unsafe { windows_forward(kind, &g, x.as_ptr(), y.as_mut_ptr(), arg.as_mut_ptr()) };
                let want = reference(kind, &g, &x);
                for (a, e) in y.iter().zip(&want) {
                    assert!((a - e).abs() < 1e-6, "{kind:?} {:?}", (t, pool, s, p));
                }
                // the gradient of Σ y⊙dy: max sends dy to its winner; average spreads it evenly
                let dy: Vec<f32> = (0..g.out_len()).map(|_| lcg(&mut seed)).collect();
                let mut dx = vec![f32::NAN; g.in_len()];
                unsafe { windows_backward(kind, &g, dy.as_ptr(), arg.as_ptr(), dx.as_mut_ptr()) };
                let eps = 1e-3f32;
                for i in 0..x.len() {
                    let mut xp = x.clone();
                    xp[i] += eps;
                    let mut xm = x.clone();
                    xm[i] -= eps;
                    let l = |v: &[f32]| reference(kind, &g, v).iter().zip(&dy).map(|(a, b)| (a * b) as f64).sum::<f64>();
                    let n = (l(&xp) - l(&xm)) / (2.0 * eps as f64);
                    assert!((dx[i] as f64 - n).abs() < 1e-3, "{kind:?} dx[{i}] {} vs {n}", dx[i]);
                }
            }
        }
    }

    #[test]
    fn global_pooling_ignores_padded_steps() {
        let (b, t, c) = (3, 4, 2);
        let x: Vec<f32> = (0..b * t * c).map(|i| (i as f32 * 0.37).sin()).collect();
        let lengths = [4i32, 2, 0];
        for kind in [Pool::Max, Pool::Average] {
            let mut y = vec![f32::NAN; b * c];
            let mut arg = vec![0u32; b * c];
            unsafe { global_forward(kind, b, t, c, lengths.as_ptr(), x.as_ptr(), y.as_mut_ptr(), arg.as_mut_ptr()) };
            for bi in 0..b {
                for ci in 0..c {
                    let vals: Vec<f32> = (0..lengths[bi] as usize).map(|s| x[(bi * t + s) * c + ci]).collect();
                    let want = match (kind, vals.is_empty()) {
                        (_, true) => 0.0,
                        (Pool::Max, _) => vals.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
                        (Pool::Average, _) => vals.iter().sum::<f32>() / vals.len() as f32,
                    };
                    assert!((y[bi * c + ci] - want).abs() < 1e-6);
                }
            }
            let dy = vec![1.0f32; b * c];
            let mut dx = vec![f32::NAN; b * t * c];
            unsafe { global_backward(kind, b, t, c, lengths.as_ptr(), dy.as_ptr(), arg.as_ptr(), dx.as_mut_ptr()) };
            for bi in 0..b {
                let s: f32 = dx[bi * t * c..(bi + 1) * t * c].iter().sum();
                assert!((s - if lengths[bi] > 0 { c as f32 } else { 0.0 }).abs() < 1e-6);
                for st in lengths[bi] as usize..t {
                    assert_eq!(dx[(bi * t + st) * c], 0.0);
                }
            }
        }
    }
}

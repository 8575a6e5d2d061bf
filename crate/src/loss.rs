//! Losses with their gradient in the same pass (Keras definitions).
//!
//! Each row `r` of `pred [R, N]` has a loss `L_r`; the result is the weighted
//! mean `Σ w_r L_r / Σ w_r` (weights default to 1; a weight of 0 drops a row,
//! e.g. a padded time step), and `grad = ∂(mean)/∂pred`.
//!
//! | kind | L_r | input |
//! |---|---|---|
//! | Mse | mean_j (p − t)² | predictions |
//! | Mae | mean_j \|p − t\| | predictions |
//! | Bce | mean_j −[t log p̃ + (1−t) log(1−p̃)], p̃ = clip(p, ε, 1−ε) | probabilities |
//! | BceLogits | mean_j max(z,0) − z t + log(1 + e^−\|z\|) | logits (sigmoid fused) |
//! | Cce | −Σ_j t_j log clip(p_j / Σp, ε, 1−ε) | probabilities |
//! | CceLogits | −Σ_j t_j log softmax(z)_j | logits (softmax fused) |
//! | SparseCce | −log clip(p_c / Σp, ε, 1−ε) | probabilities, class index c |
//! | SparseCceLogits | −log softmax(z)_c | logits (softmax fused) |
//! | DistillLogits | α·τ²·KL(p ‖ softmax(z/τ)) + (1−α)·(−log softmax(z)_c) | logits (softmax fused) |
//!
//! Knowledge distillation (Hinton et al. 2015): the target row is `[p (n), c,
//! τ, α]` — the teacher's probabilities at temperature τ, the hard class, the
//! temperature and the mix — and `∂L/∂z = α·τ·(softmax(z/τ) − p) +
//! (1−α)·(softmax(z) − onehot(c))` (the τ² keeps the soft gradients' scale
//! independent of τ).
//!
//! ε = 1e-7 as in Keras. The fused forms are what the model uses when the last
//! layer's sigmoid/softmax meets a cross-entropy: exact and stable for any
//! logits, with gradient `σ(z) − t` / `softmax(z) − t`.
//!
//! Sparse targets are class indices stored as i32 (checked in `[0, N)` by the ABI).

use crate::decl::codes;

const EPS: f64 = 1e-7;

codes! {
    /// The losses (`Logits` forms take logits and fuse the activation).
    pub enum Loss {
        Mse = 0,
        Mae = 1,
        Bce = 2,
        BceLogits = 3,
        Cce = 4,
        CceLogits = 5,
        SparseCce = 6,
        SparseCceLogits = 7,
        DistillLogits = 8,
    }
}

impl Loss {
    pub fn sparse(self) -> bool {
        matches!(self, Loss::SparseCce | Loss::SparseCceLogits)
    }
    /// f32 target values per row of `n` predictions.
    pub fn target_width(self, n: usize) -> usize {
        match self {
            Loss::SparseCce | Loss::SparseCceLogits => 1,
            Loss::DistillLogits => n + 3,
            _ => n,
        }
    }
}

/// Weighted mean loss over rows; writes `grad` (same shape as `pred`) unless null.
/// Row math is in f64 (the rows are short; the accuracy is free).
///
/// # Safety
/// `pred [rows, n]`, `target [rows, n]` (f32) or `[rows]` (i32, sparse kinds),
/// `weights [rows]` or null, `grad [rows, n]` or null, all valid.
pub unsafe fn loss(kind: Loss, rows: usize, n: usize, pred: *const f32, target: *const u8, weights: *const f32, grad: *mut f32) -> f64 {
    let mut wsum = 0.0f64;
    for r in 0..rows {
        wsum += if weights.is_null() { 1.0 } else { *weights.add(r) as f64 };
    }
    if wsum <= 0.0 {
        if !grad.is_null() {
            core::ptr::write_bytes(grad, 0, rows * n);
        }
        return 0.0;
    }
    let mut total = 0.0f64;
    let nf = n as f64;
    for r in 0..rows {
        let w = if weights.is_null() { 1.0 } else { *weights.add(r) as f64 };
        let p = pred.add(r * n);
        let g = if grad.is_null() { core::ptr::null_mut() } else { grad.add(r * n) };
        let scale = w / wsum;
        let put = |j: usize, v: f64| {
            if !g.is_null() {
                *g.add(j) = (v * scale) as f32;
            }
        };
        let pv = |j: usize| *p.add(j) as f64;
        let lr = match kind {
            Loss::DistillLogits => {
                let t = (target as *const f32).add(r * (n + 3));
                let tv = |j: usize| *t.add(j) as f64;
                let (c, tau, alpha) = (tv(n) as usize, tv(n + 1), tv(n + 2));
                let (lse, zmax) = log_sum_exp(p, n);
                // log-sum-exp of z/τ
                let m = zmax / tau;
                let lse_t = m + (0..n).map(|j| (pv(j) / tau - m).exp()).sum::<f64>().ln();
                let mut kl = 0.0;
                for j in 0..n {
                    let (pt, log_qt) = (tv(j), pv(j) / tau - lse_t);
                    if pt > 0.0 {
                        kl += pt * (pt.ln() - log_qt);
                    }
                    let hard = (pv(j) - lse).exp() - if j == c { 1.0 } else { 0.0 };
                    put(j, alpha * tau * (log_qt.exp() - pt) + (1.0 - alpha) * hard);
                }
                alpha * tau * tau * kl + (1.0 - alpha) * (lse - pv(c))
            }
            Loss::Mse | Loss::Mae | Loss::Bce | Loss::BceLogits | Loss::Cce | Loss::CceLogits => {
                let t = (target as *const f32).add(r * n);
                let tv = |j: usize| *t.add(j) as f64;
                match kind {
                    Loss::Mse => {
                        let mut s = 0.0;
                        for j in 0..n {
                            let d = pv(j) - tv(j);
                            s += d * d;
                            put(j, 2.0 * d / nf);
                        }
                        s / nf
                    }
                    Loss::Mae => {
                        let mut s = 0.0;
                        for j in 0..n {
                            let d = pv(j) - tv(j);
                            s += d.abs();
                            put(
                                j,
                                if d > 0.0 {
                                    1.0
                                } else if d < 0.0 {
                                    -1.0
                                } else {
                                    0.0
                                } / nf,
                            );
                        }
                        s / nf
                    }
                    Loss::Bce => {
                        let mut s = 0.0;
                        for j in 0..n {
                            let (pj, tj) = (pv(j), tv(j));
                            let c = pj.clamp(EPS, 1.0 - EPS);
                            s += -(tj * c.ln() + (1.0 - tj) * (1.0 - c).ln());
                            let inside = pj > EPS && pj < 1.0 - EPS;
                            put(j, if inside { (c - tj) / (c * (1.0 - c)) / nf } else { 0.0 });
                        }
                        s / nf
                    }
                    Loss::BceLogits => {
                        let mut s = 0.0;
                        for j in 0..n {
                            let (z, tj) = (pv(j), tv(j));
                            s += z.max(0.0) - z * tj + (-z.abs()).exp().ln_1p();
                            put(j, (1.0 / (1.0 + (-z).exp()) - tj) / nf);
                        }
                        s / nf
                    }
                    Loss::Cce => {
                        let sum: f64 = (0..n).map(pv).sum();
                        // dL/dq_j = −t_j / q_j (inside the clip), dq_j/dp_k = (δ_jk − q_j) / Σp
                        let mut l = 0.0;
                        let mut gq_dot_q = 0.0;
                        for j in 0..n {
                            let q = pv(j) / sum;
                            let c = q.clamp(EPS, 1.0 - EPS);
                            l -= tv(j) * c.ln();
                            if q > EPS && q < 1.0 - EPS {
                                gq_dot_q += -tv(j) / q * q;
                            }
                        }
                        for k in 0..n {
                            let q = pv(k) / sum;
                            let gq = if q > EPS && q < 1.0 - EPS { -tv(k) / q } else { 0.0 };
                            put(k, (gq - gq_dot_q) / sum);
                        }
                        l
                    }
                    Loss::CceLogits => {
                        let (lse, _) = log_sum_exp(p, n);
                        let mut l = 0.0;
                        let mut tsum = 0.0;
                        for j in 0..n {
                            l -= tv(j) * (pv(j) - lse);
                            tsum += tv(j);
                        }
                        for j in 0..n {
                            put(j, (pv(j) - lse).exp() * tsum - tv(j));
                        }
                        l
                    }
                    _ => unreachable!(),
                }
            }
            Loss::SparseCce | Loss::SparseCceLogits => {
                let c = *(target as *const i32).add(r) as usize;
                if kind == Loss::SparseCceLogits {
                    let (lse, _) = log_sum_exp(p, n);
                    for j in 0..n {
                        put(j, (pv(j) - lse).exp() - if j == c { 1.0 } else { 0.0 });
                    }
                    lse - pv(c)
                } else {
                    let sum: f64 = (0..n).map(pv).sum();
                    let q = pv(c) / sum;
                    let inside = q > EPS && q < 1.0 - EPS;
                    // L = −log(p_c / Σp): dL/dp_k = 1/Σp − [k = c]/p_c
                    for k in 0..n {
                        put(k, if inside { 1.0 / sum - if k == c { 1.0 / pv(c) } else { 0.0 } } else { 0.0 });
                    }
                    -q.clamp(EPS, 1.0 - EPS).ln()
                }
            }
        };
        total += w * lr;
    }
    total / wsum
}

/// `(log Σ exp z_j, max z)` in f64.
unsafe fn log_sum_exp(p: *const f32, n: usize) -> (f64, f64) {
    let mut m = f64::NEG_INFINITY;
    for j in 0..n {
        m = m.max(*p.add(j) as f64);
    }
    let s: f64 = (0..n).map(|j| (*p.add(j) as f64 - m).exp()).sum();
    (m + s.ln(), m)
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Gradients of every kind against central differences of the loss itself,
    /// with row weights (one row dropped) and values inside the clip range.
    #[test]
    fn gradients_match_finite_differences() {
        let (rows, n) = (5, 4);
        let mut seed = 11u64;
        for kind in [Loss::Mse, Loss::Mae, Loss::Bce, Loss::BceLogits, Loss::Cce, Loss::CceLogits, Loss::SparseCce, Loss::SparseCceLogits] {
            let logits = matches!(kind, Loss::BceLogits | Loss::CceLogits | Loss::SparseCceLogits | Loss::Mse | Loss::Mae);
            let pred: Vec<f32> = (0..rows * n)
                .map(|_| if logits { (lcg(&mut seed) * 4.0 - 2.0) as f32 } else { (0.05 + 0.9 * lcg(&mut seed)) as f32 })
                .collect();
            let target_f: Vec<f32> = (0..rows * n).map(|_| lcg(&mut seed) as f32).collect();
            let target_i: Vec<i32> = (0..rows).map(|r| (r % n) as i32).collect();
            let weights: Vec<f32> = vec![1.0, 0.5, 0.0, 2.0, 1.0];
            let t = if kind.sparse() { target_i.as_ptr() as *const u8 } else { target_f.as_ptr() as *const u8 };
            let mut grad = vec![f32::NAN; rows * n];
            unsafe { loss(kind, rows, n, pred.as_ptr(), t, weights.as_ptr(), grad.as_mut_ptr()) };
            let eps = 1e-3f32;
            for k in 0..rows * n {
                let mut pp = pred.clone();
                pp[k] += eps;
                let lp = unsafe { loss(kind, rows, n, pp.as_ptr(), t, weights.as_ptr(), core::ptr::null_mut()) };
                pp[k] -= 2.0 * eps;
                let lm = unsafe { loss(kind, rows, n, pp.as_ptr(), t, weights.as_ptr(), core::ptr::null_mut()) };
                let num = (lp - lm) / (2.0 * (eps as f64));
                let a = grad[k] as f64;
                assert!((a - num).abs() <= 2e-3 * a.abs().max(num.abs()).max(1e-1), "{kind:?} grad[{k}] {a} vs {num}");
            }
        }
    }

    #[test]
    fn known_values() {
        // Keras: mse([[0,1],[0,0]], [[1,1],[1,0]]) = 0.5
        let p = [1.0f32, 1.0, 1.0, 0.0];
        let t = [0.0f32, 1.0, 0.0, 0.0];
        let l = unsafe { loss(Loss::Mse, 2, 2, p.as_ptr(), t.as_ptr() as *const u8, core::ptr::null(), core::ptr::null_mut()) };
        assert!((l - 0.5).abs() < 1e-12);
        // sparse CE of uniform logits over 4 classes = ln 4
        let z = [0.3f32; 4];
        let c = [2i32];
        let l = unsafe { loss(Loss::SparseCceLogits, 1, 4, z.as_ptr(), c.as_ptr() as *const u8, core::ptr::null(), core::ptr::null_mut()) };
        assert!((l - 4f64.ln()).abs() < 1e-9);
        // fused and unfused cross-entropy agree on softmax probabilities
        let z = [1.0f32, -2.0, 0.5];
        let s: f64 = z.iter().map(|&v| (v as f64).exp()).sum();
        let pr: Vec<f32> = z.iter().map(|&v| ((v as f64).exp() / s) as f32).collect();
        let t = [0.2f32, 0.3, 0.5];
        let a = unsafe { loss(Loss::CceLogits, 1, 3, z.as_ptr(), t.as_ptr() as *const u8, core::ptr::null(), core::ptr::null_mut()) };
        let b = unsafe { loss(Loss::Cce, 1, 3, pr.as_ptr(), t.as_ptr() as *const u8, core::ptr::null(), core::ptr::null_mut()) };
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        // stable for huge logits
        let z = [1000.0f32, -1000.0];
        let t = [0.0f32, 1.0];
        let l = unsafe { loss(Loss::BceLogits, 1, 2, z.as_ptr(), t.as_ptr() as *const u8, core::ptr::null(), core::ptr::null_mut()) };
        assert!((l - 1000.0).abs() < 1e-6);
    }

    /// Distillation: gradient against central differences; α = 0 is the
    /// sparse cross-entropy; a student equal to the teacher has zero soft loss.
    #[test]
    fn distillation_loss() {
        let (rows, n) = (4, 5);
        let mut seed = 5u64;
        let z: Vec<f32> = (0..rows * n).map(|_| (lcg(&mut seed) * 4.0 - 2.0) as f32).collect();
        for &(tau, alpha) in &[(2.0f32, 0.7f32), (1.0, 1.0), (4.0, 0.0)] {
            let mut t = vec![0.0f32; rows * (n + 3)];
            for r in 0..rows {
                let raw: Vec<f64> = (0..n).map(|_| lcg(&mut seed) + 0.05).collect();
                let s: f64 = raw.iter().sum();
                for j in 0..n {
                    t[r * (n + 3) + j] = (raw[j] / s) as f32;
                }
                t[r * (n + 3) + n] = (r % n) as f32;
                t[r * (n + 3) + n + 1] = tau;
                t[r * (n + 3) + n + 2] = alpha;
            }
            let w = [1.0f32, 0.5, 0.0, 2.0];
            let mut g = vec![0.0f32; rows * n];
            unsafe { loss(Loss::DistillLogits, rows, n, z.as_ptr(), t.as_ptr() as *const u8, w.as_ptr(), g.as_mut_ptr()) };
            for k in 0..rows * n {
                let mut zz = z.clone();
                zz[k] += 1e-3;
                let lp =
                    unsafe { loss(Loss::DistillLogits, rows, n, zz.as_ptr(), t.as_ptr() as *const u8, w.as_ptr(), core::ptr::null_mut()) };
                zz[k] -= 2e-3;
                let lm =
                    unsafe { loss(Loss::DistillLogits, rows, n, zz.as_ptr(), t.as_ptr() as *const u8, w.as_ptr(), core::ptr::null_mut()) };
                let num = (lp - lm) / 2e-3;
                assert!((num - g[k] as f64).abs() < 2e-3 * (1.0 + num.abs()), "τ {tau} α {alpha} [{k}]: {} vs {num}", g[k]);
            }
            if alpha == 0.0 {
                let c: Vec<i32> = (0..rows).map(|r| (r % n) as i32).collect();
                let sparse =
                    unsafe { loss(Loss::SparseCceLogits, rows, n, z.as_ptr(), c.as_ptr() as *const u8, w.as_ptr(), core::ptr::null_mut()) };
                let d =
                    unsafe { loss(Loss::DistillLogits, rows, n, z.as_ptr(), t.as_ptr() as *const u8, w.as_ptr(), core::ptr::null_mut()) };
                assert!((sparse - d).abs() < 1e-12);
            }
        }
        // the teacher's own softened distribution: KL = 0, gradient 0 (α = 1)
        let tau = 3.0f64;
        let mut t = vec![0.0f32; n + 3];
        let m = z[..n].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let s: f64 = (0..n).map(|j| ((z[j] as f64 - m) / tau).exp()).sum();
        for j in 0..n {
            t[j] = (((z[j] as f64 - m) / tau).exp() / s) as f32;
        }
        t[n + 1] = tau as f32;
        t[n + 2] = 1.0;
        let mut g = vec![1.0f32; n];
        let l = unsafe { loss(Loss::DistillLogits, 1, n, z.as_ptr(), t.as_ptr() as *const u8, core::ptr::null(), g.as_mut_ptr()) };
        assert!(l.abs() < 1e-6, "{l}");
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
    }
}

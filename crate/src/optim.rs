//! Optimizers over one flat parameter buffer, with gradient clipping inside.
//!
//! Parameters, gradients and the optimizer's state (`s1`, `s2`) share one
//! layout, so one call updates a whole model. Update rules follow Keras 3
//! (`keras/src/optimizers/{sgd,adam,adamw,rmsprop}.py`):
//!
//! ```text
//! SGD      v = μ v − lr g;  w += v   (nesterov: w += μ v − lr g;  μ = 0: w −= lr g)
//! Adam     m += (g − m)(1 − β1);  v += (g² − v)(1 − β2)
//!          α = lr √(1 − β2^t) / (1 − β1^t);  w −= α m / (√v + ε)
//! AdamW    w −= lr λ w, then Adam
//! RMSprop  a = ρ a + (1 − ρ) g²   (centered: b = ρ b + (1 − ρ) g, a' = a − b²)
//!          δ = lr g / √(a' + ε);  momentum: m = μ m + δ, w −= m;  else w −= δ
//! ```
//!
//! Clipping, before the update: `clip_value` clamps each gradient element to
//! ±clip_value; `clip_norm` rescales all gradients so their global L2 norm is
//! at most `clip_norm`. Both 0 = off. The global norm (after value clipping,
//! before norm clipping) is returned.

use crate::decl::{codes, words};
use crate::simd::{for_lanes, F32x4};

codes! {
    /// The optimizers.
    pub enum Kind {
        Sgd = 0,
        Adam = 1,
        AdamW = 2,
        RmsProp = 3,
    }
}

words! {
    /// Hyper-parameters, passed as `LEN` f32 from JavaScript in field order.
    pub struct Hyper: [f32] {
        lr,
        beta1,
        beta2,
        eps,
        /// SGD / RMSprop momentum
        momentum,
        rho,
        weight_decay,
        /// 1-based step count (Adam bias correction)
        step,
        /// 1 for Nesterov momentum
        nesterov,
        /// 1 for centred RMSprop
        centered,
        clip_norm,
        clip_value,
    }
}

/// Clip in place; returns the global norm before norm-clipping.
///
/// # Safety
/// `g` holds `n` floats.
pub unsafe fn clip(g: *mut f32, n: usize, clip_value: f32, clip_norm: f32) -> f32 {
    if clip_value > 0.0 {
        let (lo, hi) = (F32x4::splat(-clip_value), F32x4::splat(clip_value));
        for_lanes(n, |l| l.store(l.load(g).max(lo).min(hi), g));
    }
    // sum of squares in f32 lanes per chunk, accumulated in f64
    let mut total = 0.0f64;
    let chunk = 4096;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let p = g.add(start);
        let mut acc = F32x4::zero();
        for_lanes(len, |l| {
            let v = l.load(p);
            acc = v.mul_add(v, acc);
        });
        total += acc.sum() as f64;
        start += len;
    }
    let norm = total.sqrt() as f32;
    if clip_norm > 0.0 && norm > clip_norm {
        let s = F32x4::splat(clip_norm / norm);
        for_lanes(n, |l| l.store(l.load(g).mul(s), g));
    }
    norm
}

/// One optimizer step over `n` parameters. `s1`, `s2` are the state buffers
/// (SGD momentum in `s1`; Adam m, v; RMSprop mean-square in `s1`, momentum or
/// mean-gradient in `s2`) and must start at zero.
///
/// # Safety
/// All buffers hold `n` floats (`s2` may be null where unused).
pub unsafe fn step(kind: Kind, n: usize, w: *mut f32, g: *mut f32, s1: *mut f32, s2: *mut f32, h: &Hyper) -> f32 {
    let norm = clip(g, n, h.clip_value, h.clip_norm);
    // element-wise: split between threads in ranges, the same numbers either way
    crate::pool::par_ranges(n, UPDATE_COST, 4, |a, b| {
        let off = |p: *mut f32| if p.is_null() { p } else { p.add(a) };
        update(kind, b - a, w.add(a), g.add(a), off(s1), off(s2), h);
    });
    norm
}

/// Multiply-add equivalents of one parameter's update (Adam: ~12 operations and a square root).
const UPDATE_COST: usize = 16;

/// The update of [`step`] over `n` parameters (after clipping).
unsafe fn update(kind: Kind, n: usize, w: *mut f32, g: *mut f32, s1: *mut f32, s2: *mut f32, h: &Hyper) {
    let lr = F32x4::splat(h.lr);
    match kind {
        Kind::Sgd => {
            let mu = F32x4::splat(h.momentum);
            if h.momentum == 0.0 {
                for_lanes(n, |l| l.store(l.load(w).sub(lr.mul(l.load(g))), w));
            } else {
                for_lanes(n, |l| {
                    let gv = l.load(g);
                    let v = mu.mul(l.load(s1)).sub(lr.mul(gv));
                    l.store(v, s1);
                    let upd = if h.nesterov != 0.0 { mu.mul(v).sub(lr.mul(gv)) } else { v };
                    l.store(l.load(w).add(upd), w);
                });
            }
        }
        Kind::Adam | Kind::AdamW => {
            let t = h.step as f64;
            let alpha = (h.lr as f64 * (1.0 - (h.beta2 as f64).powf(t)).sqrt() / (1.0 - (h.beta1 as f64).powf(t))) as f32;
            let (a, b1c, b2c, eps) = (F32x4::splat(alpha), F32x4::splat(1.0 - h.beta1), F32x4::splat(1.0 - h.beta2), F32x4::splat(h.eps));
            let decay = F32x4::splat(1.0 - h.lr * h.weight_decay);
            let adamw = kind == Kind::AdamW && h.weight_decay != 0.0;
            for_lanes(n, |l| {
                let gv = l.load(g);
                let m = l.load(s1);
                let m = m.add(gv.sub(m).mul(b1c));
                let v = l.load(s2);
                let v = v.add(gv.mul(gv).sub(v).mul(b2c));
                l.store(m, s1);
                l.store(v, s2);
                let mut wv = l.load(w);
                if adamw {
                    wv = wv.mul(decay);
                }
                l.store(wv.sub(a.mul(m).div(v.sqrt().add(eps))), w);
            });
        }
        Kind::RmsProp => {
            let (rho, rho1, eps, mu) = (F32x4::splat(h.rho), F32x4::splat(1.0 - h.rho), F32x4::splat(h.eps), F32x4::splat(h.momentum));
            let centered = h.centered != 0.0;
            let momentum = h.momentum != 0.0;
            // s2 holds the mean gradient (centered) or the momentum; not both
            for_lanes(n, |l| {
                let gv = l.load(g);
                let a = rho.mul(l.load(s1)).add(rho1.mul(gv.mul(gv)));
                l.store(a, s1);
                let mut denom = a;
                if centered {
                    let b = rho.mul(l.load(s2)).add(rho1.mul(gv));
                    l.store(b, s2);
                    denom = a.sub(b.mul(b));
                }
                let delta = lr.mul(gv).div(denom.add(eps).sqrt());
                let upd = if momentum && !centered {
                    let m = mu.mul(l.load(s2)).add(delta);
                    l.store(m, s2);
                    m
                } else {
                    delta
                };
                l.store(l.load(w).sub(upd), w);
            });
        }
    }
}

/// Add L1/L2 regularisation gradients (`l1·sign(w) + 2·l2·w`) into `g` and
/// return the penalty `l1 Σ|w| + l2 Σ w²`.
///
/// # Safety
/// `w`, `g` hold `n` floats.
pub unsafe fn regularize(n: usize, w: *const f32, g: *mut f32, l1: f32, l2: f32) -> f64 {
    let mut pen = 0.0f64;
    for k in 0..n {
        let wv = *w.add(k);
        pen += (l1 * wv.abs()) as f64 + (l2 * wv * wv) as f64;
        let sgn = if wv > 0.0 {
            1.0
        } else if wv < 0.0 {
            -1.0
        } else {
            0.0
        };
        *g.add(k) += l1 * sgn + 2.0 * l2 * wv;
    }
    pen
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn hyper(lr: f32) -> Hyper {
        Hyper { lr, beta1: 0.9, beta2: 0.999, eps: 1e-7, momentum: 0.0, rho: 0.9, step: 1.0, ..Default::default() }
    }

    /// Scalar float64 transcription of the Keras update rules, for comparison.
    fn reference(kind: Kind, h: &Hyper, w: &mut [f64], g: &[f64], s1: &mut [f64], s2: &mut [f64]) {
        let (lr, mu) = (h.lr as f64, h.momentum as f64);
        for k in 0..w.len() {
            match kind {
                Kind::Sgd => {
                    if mu == 0.0 {
                        w[k] -= lr * g[k];
                    } else {
                        s1[k] = mu * s1[k] - lr * g[k];
                        w[k] += if h.nesterov != 0.0 { mu * s1[k] - lr * g[k] } else { s1[k] };
                    }
                }
                Kind::Adam | Kind::AdamW => {
                    let (b1, b2, t) = (h.beta1 as f64, h.beta2 as f64, h.step as f64);
                    if kind == Kind::AdamW {
                        w[k] -= lr * h.weight_decay as f64 * w[k];
                    }
                    s1[k] += (g[k] - s1[k]) * (1.0 - b1);
                    s2[k] += (g[k] * g[k] - s2[k]) * (1.0 - b2);
                    let alpha = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
                    w[k] -= alpha * s1[k] / (s2[k].sqrt() + h.eps as f64);
                }
                Kind::RmsProp => {
                    let rho = h.rho as f64;
                    s1[k] = rho * s1[k] + (1.0 - rho) * g[k] * g[k];
                    let mut denom = s1[k];
                    if h.centered != 0.0 {
                        s2[k] = rho * s2[k] + (1.0 - rho) * g[k];
                        denom -= s2[k] * s2[k];
                    }
                    let delta = lr * g[k] / (denom + h.eps as f64).sqrt();
                    if mu != 0.0 && h.centered == 0.0 {
                        s2[k] = mu * s2[k] + delta;
                        w[k] -= s2[k];
                    } else {
                        w[k] -= delta;
                    }
                }
            }
        }
    }

    #[test]
    fn every_optimizer_matches_its_update_rule_over_several_steps() {
        let n = 11;
        let configs: Vec<(Kind, Hyper)> = vec![
            (Kind::Sgd, hyper(0.1)),
            (Kind::Sgd, Hyper { momentum: 0.9, ..hyper(0.1) }),
            (Kind::Sgd, Hyper { momentum: 0.9, nesterov: 1.0, ..hyper(0.1) }),
            (Kind::Adam, hyper(0.01)),
            (Kind::AdamW, Hyper { weight_decay: 0.05, ..hyper(0.01) }),
            (Kind::RmsProp, hyper(0.01)),
            (Kind::RmsProp, Hyper { momentum: 0.5, ..hyper(0.01) }),
            (Kind::RmsProp, Hyper { centered: 1.0, ..hyper(0.01) }),
        ];
        for (kind, h0) in configs {
            let mut w: Vec<f32> = (0..n).map(|k| (k as f32 * 0.37).sin()).collect();
            let mut w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let (mut s1, mut s2) = (vec![0.0f32; n], vec![0.0f32; n]);
            let (mut r1, mut r2) = (vec![0.0f64; n], vec![0.0f64; n]);
            for t in 1..=5 {
                let g: Vec<f32> = (0..n).map(|k| ((k * t) as f32 * 0.61).cos()).collect();
                let g64: Vec<f64> = g.iter().map(|&v| v as f64).collect();
                let h = Hyper { step: t as f32, ..h0 };
                let mut gm = g.clone();
                unsafe { step(kind, n, w.as_mut_ptr(), gm.as_mut_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), &h) };
                reference(kind, &h, &mut w64, &g64, &mut r1, &mut r2);
            }
            for k in 0..n {
                assert!((w[k] as f64 - w64[k]).abs() < 1e-5, "{kind:?} {h0:?} w[{k}] {} vs {}", w[k], w64[k]);
            }
        }
    }

    #[test]
    fn clipping_by_value_and_global_norm() {
        let mut g = vec![3.0f32, -4.0, 0.0, 0.0, 0.0];
        let norm = unsafe { clip(g.as_mut_ptr(), 5, 0.0, 1.0) };
        assert!((norm - 5.0).abs() < 1e-6);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] + 0.8).abs() < 1e-6);
        let mut g = vec![3.0f32, -4.0, 0.5];
        unsafe { clip(g.as_mut_ptr(), 3, 1.0, 0.0) };
        assert_eq!(g, vec![1.0, -1.0, 0.5]);
    }

    #[test]
    fn regularizer_gradient_and_penalty() {
        let w = [1.0f32, -2.0, 0.0];
        let mut g = [0.0f32; 3];
        let pen = unsafe { regularize(3, w.as_ptr(), g.as_mut_ptr(), 0.1, 0.01) };
        assert!((pen - (0.1 * 3.0 + 0.01 * 5.0)).abs() < 1e-7);
        assert!((g[0] - (0.1 + 0.02)).abs() < 1e-7 && (g[1] - (-0.1 - 0.04)).abs() < 1e-7 && g[2] == 0.0);
    }
}

//! Vectorised `exp`, `sigmoid` and `tanh` on [`F32x4`].
//!
//! Error bounds (measured by `tests` below against f64 over a dense sweep of
//! [-20, 20] plus the subnormal/overflow edges; the same code runs on the host
//! and in wasm, so the bound holds for both):
//!
//! - `exp`: Cephes `expf` range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, degree-5
//!   polynomial; relative error ≤ 2.5e-7 for x in [-87, 88]. Inputs are clamped to
//!   that range, so the result is always finite and non-zero.
//! - `sigmoid(x) = 1 / (1 + exp(-x))`: absolute error ≤ 1.2e-7, relative error
//!   ≤ 4e-7 for x ≥ -80 (below that the true value is < 2e-35).
//! - `tanh`: odd polynomial (Cephes `tanhf`) for |x| < 0.625, where it keeps full
//!   relative precision near 0; `1 − 2/(exp(2|x|) + 1)` with the sign restored
//!   above (|x| clamped at 10, where tanh rounds to ±1 in f32). Relative
//!   error ≤ 4e-7 everywhere.

use crate::simd::F32x4;

const EXP_HI: f32 = 88.0;
const EXP_LO: f32 = -87.0;
const LOG2E: f32 = core::f32::consts::LOG2_E;
// ln2 split in a part exact in f32 and a correction (Cody–Waite).
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;

#[inline(always)]
pub fn exp(x: F32x4) -> F32x4 {
    let x = x.min(F32x4::splat(EXP_HI)).max(F32x4::splat(EXP_LO));
    let n = x.mul(F32x4::splat(LOG2E)).round();
    let r = n
        .mul(F32x4::splat(LN2_HI))
        .neg()
        .add(x)
        .sub(n.mul(F32x4::splat(LN2_LO)));
    let mut p = F32x4::splat(1.987_569_1e-4);
    p = p.mul_add(r, F32x4::splat(1.398_199_9e-3));
    p = p.mul_add(r, F32x4::splat(8.333_452e-3));
    p = p.mul_add(r, F32x4::splat(4.166_579_6e-2));
    p = p.mul_add(r, F32x4::splat(1.666_666_5e-1));
    p = p.mul_add(r, F32x4::splat(5.000_000_1e-1));
    let y = p.mul(r.mul(r)).add(r).add(F32x4::splat(1.0));
    y.mul(n.exp2_int())
}

#[inline(always)]
pub fn sigmoid(x: F32x4) -> F32x4 {
    let one = F32x4::splat(1.0);
    one.div(one.add(exp(x.neg())))
}

#[inline(always)]
pub fn tanh(x: F32x4) -> F32x4 {
    let ax = x.abs();
    // Small |x|: x + x³·P(x²).
    let z = x.mul(x);
    let mut p = F32x4::splat(-5.704_988_7e-3);
    p = p.mul_add(z, F32x4::splat(2.063_908_9e-2));
    p = p.mul_add(z, F32x4::splat(-5.373_971_6e-2));
    p = p.mul_add(z, F32x4::splat(1.333_144_2e-1));
    p = p.mul_add(z, F32x4::splat(-3.333_328_2e-1));
    let small = p.mul(z).mul_add(x, x);
    // Large |x|: 1 − 2 / (exp(2|x|) + 1), clamped so exp stays finite.
    let one = F32x4::splat(1.0);
    let ac = ax.min(F32x4::splat(10.0));
    let e = exp(ac.add(ac));
    let large = one
        .sub(F32x4::splat(2.0).div(e.add(one)))
        .with_sign_of(x);
    F32x4::select(ax.lt(F32x4::splat(0.625)), small, large)
}

#[inline(always)]
pub fn relu(x: F32x4) -> F32x4 {
    x.max(F32x4::zero())
}

/// Scalar helpers that run the vector code on one lane (for reference paths
/// and tests; the kernels use the vector forms directly).
pub fn sigmoid_scalar(x: f32) -> f32 {
    sigmoid(F32x4::splat(x)).to_array()[0]
}
pub fn tanh_scalar(x: f32) -> f32 {
    tanh(F32x4::splat(x)).to_array()[0]
}
pub fn exp_scalar(x: f32) -> f32 {
    exp(F32x4::splat(x)).to_array()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> impl Iterator<Item = f32> {
        (-200_000..=200_000)
            .map(|i| i as f32 * 1e-4)
            .chain([1e-30, -1e-30, 1e-8, -1e-8, 0.0, -0.0, 0.6249, 0.625, 0.6251, 9.0, -9.0, 30.0, -30.0])
    }

    #[test]
    fn exp_relative_error() {
        let mut worst = 0.0f64;
        for x in sweep().chain((-870..=880).map(|i| i as f32 * 0.1)) {
            let got = exp_scalar(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst <= 2.5e-7, "exp worst relative error {worst:e}");
    }

    #[test]
    fn sigmoid_error() {
        let (mut abs, mut rel) = (0.0f64, 0.0f64);
        for x in sweep() {
            let got = sigmoid_scalar(x) as f64;
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            abs = abs.max((got - want).abs());
            rel = rel.max(((got - want) / want).abs());
        }
        assert!(abs <= 1.2e-7, "sigmoid worst abs error {abs:e}");
        assert!(rel <= 4e-7, "sigmoid worst rel error {rel:e}");
        assert_eq!(sigmoid_scalar(1000.0), 1.0);
        assert!(sigmoid_scalar(-1000.0) >= 0.0 && sigmoid_scalar(-1000.0) < 1e-37);
    }

    #[test]
    fn tanh_error() {
        let mut rel = 0.0f64;
        for x in sweep() {
            let got = tanh_scalar(x) as f64;
            let want = (x as f64).tanh();
            if want != 0.0 {
                rel = rel.max(((got - want) / want).abs());
            } else {
                assert_eq!(got, 0.0);
            }
        }
        assert!(rel <= 4e-7, "tanh worst rel error {rel:e}");
        assert_eq!(tanh_scalar(50.0), 1.0);
        assert_eq!(tanh_scalar(-50.0), -1.0);
        assert!(tanh_scalar(f32::NAN).is_nan());
    }
}

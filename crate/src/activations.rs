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
//! - `sigmoid_gate(x) = ½·tanh(x/2) + ½`, the recurrent cells' gates: absolute
//!   error ≤ 2.5e-7 (2.3e-7 worst on the sweep), exactly 0 below x ≈ −15.8
//!   and 1 above 15.8, where it is monotone only to a few units of 2⁻²⁵ (no
//!   relative bound near 0, which gates do not need). Fewer operations and a
//!   shorter dependency chain than `sigmoid`'s exp and division: W2 predict
//!   3–4 % faster (docs/PERF-NOTES.md).
//! - `tanh`: a rational minimax approximation, odd numerator over even
//!   denominator (Eigen's `ptanh_float` coefficients), |x| clamped at 7.905
//!   where tanh rounds to ±1 in f32. Relative error ≤ 4e-7 everywhere (3.97e-7
//!   worst on the sweep), full relative precision near 0. The relaxed build's
//!   fused multiply–adds round differently: ±0.9999998 at saturation instead
//!   of ±1 (the tests assert each build's saturation).

use crate::simd::F32x4;

const EXP_HI: f32 = 88.0;
const EXP_LO: f32 = -87.0;
const LOG2E: f32 = core::f32::consts::LOG2_E;
// ln2 split in a part exact in f32 and a correction (Cody–Waite).
#[allow(clippy::excessive_precision)] // exactly 0.693359375 = 355/512 in f32: the split needs every digit
const LN2_HI: f32 = 0.693_359_375;
#[allow(clippy::excessive_precision)] // the constant as published; the f32 it rounds to is what runs
const LN2_LO: f32 = -2.121_944_4e-4;

#[inline(always)]
#[allow(clippy::excessive_precision)] // coefficients as published; the f32 they round to is what runs
pub fn exp(x: F32x4) -> F32x4 {
    let x = x.min(F32x4::splat(EXP_HI)).max(F32x4::splat(EXP_LO));
    // n = round(x·log2 e) by adding 1.5·2^23: the sum's low mantissa bits hold
    // n, so 2^n is `(bits + 127) << 23` (the magic's own bits shift out). Two
    // instructions where `nearest` + `trunc_sat` took six in V8's x64 code.
    let magic = F32x4::splat(12_582_912.0);
    let t = x.mul(F32x4::splat(LOG2E)).add(magic);
    let n = t.sub(magic);
    let r = n.mul(F32x4::splat(LN2_HI)).neg().add(x).sub(n.mul(F32x4::splat(LN2_LO)));
    let mut p = F32x4::splat(1.987_569_1e-4);
    p = p.mul_add(r, F32x4::splat(1.398_199_9e-3));
    p = p.mul_add(r, F32x4::splat(8.333_452e-3));
    p = p.mul_add(r, F32x4::splat(4.166_579_6e-2));
    p = p.mul_add(r, F32x4::splat(1.666_666_5e-1));
    p = p.mul_add(r, F32x4::splat(5.000_000_1e-1));
    let y = p.mul(r.mul(r)).add(r).add(F32x4::splat(1.0));
    y.mul(t.pow2_from_magic())
}

#[inline(always)]
pub fn sigmoid(x: F32x4) -> F32x4 {
    let one = F32x4::splat(1.0);
    one.div(one.add(exp(x.neg())))
}

/// The logistic function for gates (see the module comment): through [`tanh`].
#[inline(always)]
pub fn sigmoid_gate(x: F32x4) -> F32x4 {
    let half = F32x4::splat(0.5);
    tanh(x.mul(half)).mul_add(half, half)
}

#[inline(always)]
#[allow(clippy::excessive_precision)] // coefficients as published; the f32 they round to is what runs
pub fn tanh(x: F32x4) -> F32x4 {
    // Rational minimax approximation (the coefficients of Eigen's `ptanh_float`):
    // odd degree-13 numerator over even degree-6 denominator on |x| ≤ 7.9053,
    // where tanh already rounds to ±1 in f32. One division and 11 FMAs (the
    // exp-based form it replaced: W2's LSTM gate epilogue 25 → 21 ms).
    let c = F32x4::splat(7.905_311);
    let xc = x.min(c).max(c.neg());
    let x2 = xc.mul(xc);
    let mut p = F32x4::splat(-2.760_768_5e-16);
    p = p.mul_add(x2, F32x4::splat(2.000_187_9e-13));
    p = p.mul_add(x2, F32x4::splat(-8.604_671_5e-11));
    p = p.mul_add(x2, F32x4::splat(5.122_297e-8));
    p = p.mul_add(x2, F32x4::splat(1.485_722_4e-5));
    p = p.mul_add(x2, F32x4::splat(6.372_619_3e-4));
    p = p.mul_add(x2, F32x4::splat(4.893_524_6e-3));
    let mut q = F32x4::splat(1.198_258_4e-6);
    q = q.mul_add(x2, F32x4::splat(1.185_347_1e-4));
    q = q.mul_add(x2, F32x4::splat(2.268_434_6e-3));
    q = q.mul_add(x2, F32x4::splat(4.893_525_2e-3));
    xc.mul(p).div(q)
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
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `got` is the saturated value `want` (±1, 0): exactly, except where
    /// `mul_add` is fused (the relaxed build), which saturates 2.4e-7 short.
    fn saturated(got: f32, want: f32) {
        if cfg!(target_feature = "relaxed-simd") {
            assert!((got - want).abs() <= 2.5e-7, "{got} vs {want}");
        } else {
            assert_eq!(got, want);
        }
    }

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
    fn gate_sigmoid_error() {
        let mut abs = 0.0f64;
        let gate = |x: f32| sigmoid_gate(F32x4::splat(x)).to_array()[0];
        for x in sweep().chain([-1e4, -100.0, -16.0, 16.0, 100.0, 1e4]) {
            let got = gate(x) as f64;
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            abs = abs.max((got - want).abs());
            assert!((0.0..=1.0).contains(&got), "gate sigmoid({x}) = {got}");
        }
        assert!(abs <= 2.5e-7, "gate sigmoid worst abs error {abs:e}");
        for (x, want) in [(-20.0, 0.0), (0.0, 0.5), (20.0, 1.0)] {
            saturated(gate(x), want);
        }
        assert!(gate(f32::NAN).is_nan());
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
        saturated(tanh_scalar(50.0), 1.0);
        saturated(tanh_scalar(-50.0), -1.0);
        assert!(tanh_scalar(f32::NAN).is_nan());
    }
}

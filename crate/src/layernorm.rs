//! Layer normalisation over the last dimension, forward and backward.
//!
//! ```text
//! μ = mean(x),  σ² = mean((x − μ)²),  r = 1/√(σ² + ε)
//! x̂ = (x − μ)·r,  y = γ ⊙ x̂ + β
//! dx = r/N · (N·g − Σg − x̂·Σ(g⊙x̂)),  g = dy ⊙ γ
//! ```
//! `stats [rows, 2]` keeps (μ, r) for backward.

/// # Safety
/// `x, y [rows, n]`, `gamma, beta [n]`, `stats [rows, 2]`.
pub unsafe fn forward(rows: usize, n: usize, x: *const f32, gamma: *const f32, beta: *const f32, eps: f32, y: *mut f32, stats: *mut f32) {
    for r in 0..rows {
        let xr = x.add(r * n);
        let mut mean = 0.0f64;
        for j in 0..n {
            mean += *xr.add(j) as f64;
        }
        mean /= n as f64;
        let mut var = 0.0f64;
        for j in 0..n {
            let d = *xr.add(j) as f64 - mean;
            var += d * d;
        }
        var /= n as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        *stats.add(2 * r) = mean as f32;
        *stats.add(2 * r + 1) = rstd as f32;
        let yr = y.add(r * n);
        for j in 0..n {
            let xh = ((*xr.add(j) as f64 - mean) * rstd) as f32;
            *yr.add(j) = xh * *gamma.add(j) + *beta.add(j);
        }
    }
}

/// # Safety
/// As [`forward`], with `dy, dx [rows, n]`, `dgamma, dbeta [n]` (accumulated).
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward(
    rows: usize,
    n: usize,
    x: *const f32,
    gamma: *const f32,
    stats: *const f32,
    dy: *const f32,
    dgamma: *mut f32,
    dbeta: *mut f32,
    dx: *mut f32,
) {
    let nf = n as f64;
    for r in 0..rows {
        let (xr, dyr) = (x.add(r * n), dy.add(r * n));
        let mean = *stats.add(2 * r) as f64;
        let rstd = *stats.add(2 * r + 1) as f64;
        let (mut sg, mut sgx) = (0.0f64, 0.0f64);
        for j in 0..n {
            let xh = (*xr.add(j) as f64 - mean) * rstd;
            let d = *dyr.add(j) as f64;
            *dgamma.add(j) += (d * xh) as f32;
            *dbeta.add(j) += d as f32;
            let g = d * *gamma.add(j) as f64;
            sg += g;
            sgx += g * xh;
        }
        if dx.is_null() {
            continue;
        }
        let dxr = dx.add(r * n);
        for j in 0..n {
            let xh = (*xr.add(j) as f64 - mean) * rstd;
            let g = *dyr.add(j) as f64 * *gamma.add(j) as f64;
            *dxr.add(j) = (rstd / nf * (nf * g - sg - xh * sgx)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn gradients_match_finite_differences() {
        let (rows, n) = (3, 5);
        let x: Vec<f32> = (0..rows * n).map(|k| ((k * 7 % 11) as f32 * 0.3 - 1.2).sin() * 2.0).collect();
        let gamma: Vec<f32> = (0..n).map(|k| 0.5 + k as f32 * 0.2).collect();
        let beta: Vec<f32> = (0..n).map(|k| k as f32 * 0.1 - 0.2).collect();
        let wy: Vec<f32> = (0..rows * n).map(|k| (k as f32 * 0.9).cos()).collect();
        let eps = 1e-5;
        let loss = |x: &[f32], g: &[f32], b: &[f32]| -> f64 {
            let mut y = vec![0.0f32; rows * n];
            let mut st = vec![0.0f32; rows * 2];
            unsafe { forward(rows, n, x.as_ptr(), g.as_ptr(), b.as_ptr(), eps, y.as_mut_ptr(), st.as_mut_ptr()) };
            y.iter().zip(&wy).map(|(a, c)| *a as f64 * *c as f64).sum()
        };
        let mut y = vec![0.0f32; rows * n];
        let mut st = vec![0.0f32; rows * 2];
        unsafe { forward(rows, n, x.as_ptr(), gamma.as_ptr(), beta.as_ptr(), eps, y.as_mut_ptr(), st.as_mut_ptr()) };
        let (mut dg, mut db, mut dx) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; rows * n]);
        unsafe {
            backward(rows, n, x.as_ptr(), gamma.as_ptr(), st.as_ptr(), wy.as_ptr(), dg.as_mut_ptr(), db.as_mut_ptr(), dx.as_mut_ptr())
        };
        let h = 1e-3f32;
        let num = |which: usize, k: usize| -> f64 {
            let (mut a, mut g, mut b) = (x.clone(), gamma.clone(), beta.clone());
            let v = match which {
                0 => &mut a,
                1 => &mut g,
                _ => &mut b,
            };
            v[k] += h;
            let lp = loss(&a, &g, &b);
            let v = match which {
                0 => &mut a,
                1 => &mut g,
                _ => &mut b,
            };
            v[k] -= 2.0 * h;
            let lm = loss(&a, &g, &b);
            (lp - lm) / (2.0 * h as f64)
        };
        for (which, an) in [(0usize, &dx), (1, &dg), (2, &db)] {
            for k in 0..an.len() {
                let nm = num(which, k);
                assert!((an[k] as f64 - nm).abs() < 2e-3 * (1.0 + nm.abs()), "ln grad {which}[{k}]: {} vs {nm}", an[k]);
            }
        }
    }
}

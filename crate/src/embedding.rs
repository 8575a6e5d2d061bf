//! Embedding lookup: `y[r] = W[id[r]]`, `W [V, E]`; backward scatter-adds
//! `dW[id[r]] += dy[r]`. Ids are checked in `[0, V)` before the kernel runs.

use crate::simd::for_lanes;

/// # Safety
/// `ids [rows]` in `[0, v)`, `w [v, e]`, `y [rows, e]`.
pub unsafe fn forward(rows: usize, e: usize, ids: *const i32, w: *const f32, y: *mut f32) {
    for r in 0..rows {
        let src = w.add(*ids.add(r) as usize * e);
        core::ptr::copy_nonoverlapping(src, y.add(r * e), e);
    }
}

/// # Safety
/// As [`forward`], with `dy [rows, e]` and `dw [v, e]` (accumulated).
pub unsafe fn backward(rows: usize, e: usize, ids: *const i32, dy: *const f32, dw: *mut f32) {
    for r in 0..rows {
        let dst = dw.add(*ids.add(r) as usize * e);
        let src = dy.add(r * e);
        for_lanes(e, |l| l.store(l.load(dst).add(l.load(src)), dst));
    }
}

#[cfg(test)]
mod tests {
    // compiled to wasm32 (scripts/test-wasm.sh) the tests run under wasm-bindgen-test
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    #[test]
    fn lookup_and_scatter_add() {
        let w: Vec<f32> = (0..12).map(|v| v as f32).collect(); // V=4, E=3
        let ids = [2i32, 0, 2];
        let mut y = vec![0.0f32; 9];
        unsafe { super::forward(3, 3, ids.as_ptr(), w.as_ptr(), y.as_mut_ptr()) };
        assert_eq!(y, vec![6.0, 7.0, 8.0, 0.0, 1.0, 2.0, 6.0, 7.0, 8.0]);
        let dy: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut dw = vec![0.0f32; 12];
        unsafe { super::backward(3, 3, ids.as_ptr(), dy.as_ptr(), dw.as_mut_ptr()) };
        assert_eq!(dw, vec![3.0, 4.0, 5.0, 0.0, 0.0, 0.0, 6.0 + 0.0, 8.0, 10.0, 0.0, 0.0, 0.0]);
    }
}

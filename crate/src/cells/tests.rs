//! Tests of the cells (on the host, and compiled to wasm32): forward against
//! the float64 reference, and every gradient of backward against central
//! finite differences of that reference.

use super::reference;
use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Case {
    cell: Cell,
    t: usize,
    b: usize,
    i: usize,
    h: usize,
    dirs: usize,
    batch_first: bool,
    lengths: Option<Vec<i32>>,
    with_state: bool,
    reverse: bool,
    rec_mask: bool,
    gate: GateAct,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

struct Inputs {
    x: Vec<f64>,
    h0: Option<Vec<f64>>,
    c0: Option<Vec<f64>>,
    params: Vec<f64>,
    // loss weights: L = Σ y⊙wy + Σ hn⊙whn + Σ cn⊙wcn
    wy: Vec<f64>,
    whn: Vec<f64>,
    wcn: Vec<f64>,
    mask: Option<Vec<f64>>,
}

impl Case {
    fn dims(&self) -> Dims {
        Dims { t: self.t, b: self.b, i: self.i, h: self.h, dirs: self.dirs, batch_first: self.batch_first }
    }
    fn state_len(&self) -> usize {
        self.dirs * self.b * self.h
    }
    fn inputs(&self, seed: u64) -> Inputs {
        let mut r = Rng(seed);
        let rows = self.t * self.b;
        let np = self.dirs * dir_params_len(self.cell, self.i, self.h).unwrap();
        let lstm = self.cell.has_cell_state();
        Inputs {
            x: r.vec(rows * self.i, 1.0),
            h0: self.with_state.then(|| r.vec(self.state_len(), 0.8)),
            c0: (self.with_state && lstm).then(|| r.vec(self.state_len(), 0.8)),
            params: r.vec(np, 0.6),
            wy: r.vec(rows * self.dirs * self.h, 1.0),
            whn: r.vec(self.state_len(), 1.0),
            wcn: if lstm { r.vec(self.state_len(), 1.0) } else { vec![0.0; self.state_len()] },
            // inverted-dropout mask: 0 or 1/(1−p) with p = 0.25
            mask: self.rec_mask.then(|| (0..self.state_len()).map(|_| if r.next() < -0.5 { 0.0 } else { 4.0 / 3.0 }).collect()),
        }
    }
    fn reference(&self, inp: &Inputs) -> reference::RefOut {
        reference::forward(
            self.cell,
            self.t,
            self.b,
            self.i,
            self.h,
            self.dirs,
            self.batch_first,
            &inp.x,
            inp.h0.as_deref(),
            inp.c0.as_deref(),
            self.lengths.as_deref(),
            &inp.params,
            self.reverse,
            inp.mask.as_deref(),
            self.gate as u32,
        )
    }
    fn loss(&self, inp: &Inputs) -> f64 {
        let o = self.reference(inp);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        dot(&o.y, &inp.wy) + dot(&o.hn, &inp.whn) + dot(&o.cn, &inp.wcn)
    }
}

struct KernelOut {
    y: Vec<f32>,
    hn: Vec<f32>,
    cn: Vec<f32>,
    dx: Vec<f32>,
    dh0: Vec<f32>,
    dc0: Vec<f32>,
    grads: Vec<f32>,
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn ptr_or_null(v: &Option<Vec<f32>>) -> *const f32 {
    v.as_ref().map_or(core::ptr::null(), |v| v.as_ptr())
}

/// Run our forward then backward (with dy = wy, dhn = whn, dcn = wcn) on
/// NaN-filled workspaces, so any read of memory the kernels did not write shows.
fn run_kernels(case: &Case, inp: &Inputs) -> KernelOut {
    let d = case.dims();
    let cell = case.cell;
    let rows = d.rows();
    let lstm = cell.has_cell_state();
    let x = f32s(&inp.x);
    let params = f32s(&inp.params);
    let h0 = inp.h0.as_ref().map(|v| f32s(v));
    let c0 = inp.c0.as_ref().map(|v| f32s(v));
    let (wy, whn, wcn) = (f32s(&inp.wy), f32s(&inp.whn), f32s(&inp.wcn));
    let mut work = vec![f32::NAN; workspace_len(cell, &d, true).unwrap()];
    let mut packed = vec![f32::NAN; packed_len(cell, d.h, d.dirs).unwrap()];
    let mut y = vec![f32::NAN; rows * d.dirs * d.h];
    let mut hn = vec![f32::NAN; case.state_len()];
    let mut cn = vec![f32::NAN; case.state_len()];
    let lengths = case.lengths.as_ref().map_or(core::ptr::null(), |l| l.as_ptr());
    let mask = inp.mask.as_ref().map(|v| f32s(v));
    let mask_ptr = ptr_or_null(&mask);
    unsafe {
        forward(&Forward {
            cell,
            dims: d,
            training: true,
            repack: true,
            reverse: case.reverse,
            gate: case.gate,
            rec_mask: mask_ptr,
            x: x.as_ptr(),
            h0: ptr_or_null(&h0),
            c0: ptr_or_null(&c0),
            lengths,
            params: params.as_ptr(),
            packed: packed.as_mut_ptr(),
            y: y.as_mut_ptr(),
            hn: hn.as_mut_ptr(),
            cn: if lstm { cn.as_mut_ptr() } else { core::ptr::null_mut() },
            work: work.as_mut_ptr(),
        });
    }
    let mut dx = vec![f32::NAN; rows * d.i];
    let mut dh0 = vec![f32::NAN; case.state_len()];
    let mut dc0 = vec![f32::NAN; case.state_len()];
    // Gradients accumulate: start from a known offset and remove it after.
    let mut grads = vec![0.25f32; params.len()];
    unsafe {
        backward(&Backward {
            cell,
            dims: d,
            reverse: case.reverse,
            gate: case.gate,
            rec_mask: mask_ptr,
            x: x.as_ptr(),
            lengths,
            params: params.as_ptr(),
            packed: packed.as_mut_ptr(),
            work: work.as_mut_ptr(),
            dy: wy.as_ptr(),
            dhn: whn.as_ptr(),
            dcn: if lstm { wcn.as_ptr() } else { core::ptr::null() },
            dx: dx.as_mut_ptr(),
            dh0: dh0.as_mut_ptr(),
            dc0: if lstm { dc0.as_mut_ptr() } else { core::ptr::null_mut() },
            grads: grads.as_mut_ptr(),
        });
    }
    for g in grads.iter_mut() {
        *g -= 0.25;
    }
    KernelOut { y, hn, cn, dx, dh0, dc0, grads }
}

fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut bad = vec![];
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        // false for NaN, so a NaN output is a mismatch
        let within = (g as f64 - w).abs() <= atol + rtol * w.abs();
        if !within {
            bad.push(format!("[{k}] got {g} want {w}"));
        }
    }
    assert!(bad.is_empty(), "{what}: {} mismatches, first: {:?}", bad.len(), &bad[..bad.len().min(5)]);
}

/// Central differences of the f64 reference loss w.r.t. every element of the
/// vector chosen by `pick`.
fn numeric_grad(case: &Case, inp: &mut Inputs, pick: fn(&mut Inputs) -> Option<&mut Vec<f64>>) -> Vec<f64> {
    let n = pick(inp).map_or(0, |v| v.len());
    let eps = 1e-6;
    (0..n)
        .map(|k| {
            let orig = pick(inp).unwrap()[k];
            pick(inp).unwrap()[k] = orig + eps;
            let lp = case.loss(inp);
            pick(inp).unwrap()[k] = orig - eps;
            let lm = case.loss(inp);
            pick(inp).unwrap()[k] = orig;
            (lp - lm) / (2.0 * eps)
        })
        .collect()
}

/// Worst `|a − n| / max(|a|, |n|, 1e-2)` (the floor keeps float32 rounding of
/// near-zero gradients from dominating).
fn worst_rel(analytic: &[f32], numeric: &[f64]) -> (f64, usize) {
    let mut worst = (0.0, 0);
    for (k, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let a = a as f64;
        let e = (a - n).abs() / a.abs().max(n.abs()).max(1e-2);
        if e > worst.0 || e.is_nan() {
            worst = (e, k);
        }
    }
    worst
}

fn check_case(case: &Case, seed: u64) {
    let mut inp = case.inputs(seed);
    let out = run_kernels(case, &inp);
    let want = case.reference(&inp);
    let name = format!(
        "{:?} T{} B{} I{} H{} D{} bf{} len{:?} state{} rev{} mask{} {:?}",
        case.cell,
        case.t,
        case.b,
        case.i,
        case.h,
        case.dirs,
        case.batch_first,
        case.lengths,
        case.with_state,
        case.reverse,
        case.rec_mask,
        case.gate
    );
    assert_close(&format!("{name} y"), &out.y, &want.y, 1e-5, 1e-5);
    assert_close(&format!("{name} hn"), &out.hn, &want.hn, 1e-5, 1e-5);
    if case.cell.has_cell_state() {
        assert_close(&format!("{name} cn"), &out.cn, &want.cn, 1e-5, 1e-5);
    }
    type Pick = fn(&mut Inputs) -> Option<&mut Vec<f64>>;
    let checks: [(&str, &[f32], Pick); 4] = [
        ("params", &out.grads, |i| Some(&mut i.params)),
        ("x", &out.dx, |i| Some(&mut i.x)),
        ("h0", &out.dh0, |i| i.h0.as_mut()),
        ("c0", &out.dc0, |i| i.c0.as_mut()),
    ];
    for (what, analytic, pick) in checks {
        let numeric = numeric_grad(case, &mut inp, pick);
        if numeric.is_empty() {
            continue;
        }
        let (e, k) = worst_rel(analytic, &numeric);
        assert!(e < 1e-3, "{name}: d{what}[{k}] analytic {} numeric {} (rel {e:e})", analytic[k], numeric[k]);
    }
}

const CELLS: [Cell; 5] = [Cell::RnnTanh, Cell::RnnRelu, Cell::Lstm, Cell::Gru, Cell::GruResetBefore];

#[test]
fn gradients_match_finite_differences_in_every_configuration() {
    let mut seed = 1;
    for cell in CELLS {
        for dirs in [1, 2] {
            for batch_first in [false, true] {
                for lengths in [None, Some(vec![4, 1, 0, 3])] {
                    for (with_state, reverse, rec_mask, gate) in [
                        (false, false, false, GateAct::Sigmoid),
                        (true, false, false, GateAct::HardSigmoid02),
                        (true, dirs == 1, true, GateAct::HardSigmoidSixth),
                    ] {
                        let case = Case {
                            cell,
                            t: 4,
                            b: 4,
                            i: 3,
                            h: 5,
                            dirs,
                            batch_first,
                            lengths: lengths.clone(),
                            with_state,
                            reverse,
                            rec_mask,
                            gate,
                        };
                        check_case(&case, seed);
                        seed += 1;
                    }
                }
            }
        }
    }
}

#[test]
fn odd_sizes_match_reference_and_gradients() {
    let mut seed = 100;
    for cell in CELLS {
        for &(t, b, i, h) in &[(1, 1, 1, 1), (3, 1, 2, 3), (2, 5, 1, 17), (5, 6, 7, 8), (2, 9, 4, 4)] {
            let case = Case {
                cell,
                t,
                b,
                i,
                h,
                dirs: 2,
                batch_first: true,
                lengths: None,
                with_state: true,
                reverse: false,
                rec_mask: false,
                gate: GateAct::Sigmoid,
            };
            check_case(&case, seed);
            seed += 1;
        }
    }
}

#[test]
fn long_sequences_do_not_drift() {
    for cell in CELLS {
        let case = Case {
            cell,
            t: 500,
            b: 2,
            i: 3,
            h: 9,
            dirs: 1,
            batch_first: false,
            lengths: None,
            with_state: true,
            reverse: false,
            rec_mask: false,
            gate: GateAct::Sigmoid,
        };
        let inp = case.inputs(7);
        let out = run_kernels(&case, &inp);
        let want = case.reference(&inp);
        assert_close(&format!("{cell:?} T500 y"), &out.y, &want.y, 1e-5, 1e-5);
    }
}

#[test]
fn inference_mode_matches_training_mode() {
    for cell in CELLS {
        let case = Case {
            cell,
            t: 6,
            b: 3,
            i: 4,
            h: 6,
            dirs: 2,
            batch_first: false,
            lengths: Some(vec![6, 2, 5]),
            with_state: true,
            reverse: false,
            rec_mask: false,
            gate: GateAct::Sigmoid,
        };
        let inp = case.inputs(3);
        let d = case.dims();
        let x = f32s(&inp.x);
        let params = f32s(&inp.params);
        let h0 = inp.h0.as_ref().map(|v| f32s(v));
        let c0 = inp.c0.as_ref().map(|v| f32s(v));
        let mut work = vec![f32::NAN; workspace_len(cell, &d, false).unwrap()];
        let mut packed = vec![f32::NAN; packed_len(cell, d.h, d.dirs).unwrap()];
        let mut y = vec![f32::NAN; d.rows() * d.dirs * d.h];
        let mut hn = vec![f32::NAN; case.state_len()];
        unsafe {
            forward(&Forward {
                cell,
                dims: d,
                training: false,
                repack: true,
                reverse: false,
                gate: GateAct::Sigmoid,
                rec_mask: core::ptr::null(),
                x: x.as_ptr(),
                h0: ptr_or_null(&h0),
                c0: ptr_or_null(&c0),
                lengths: case.lengths.as_ref().unwrap().as_ptr(),
                params: params.as_ptr(),
                packed: packed.as_mut_ptr(),
                y: y.as_mut_ptr(),
                hn: hn.as_mut_ptr(),
                cn: core::ptr::null_mut(),
                work: work.as_mut_ptr(),
            });
        }
        let want = case.reference(&inp);
        assert_close(&format!("{cell:?} inference y"), &y, &want.y, 1e-5, 1e-5);
        assert_close(&format!("{cell:?} inference hn"), &hn, &want.hn, 1e-5, 1e-5);
    }
}

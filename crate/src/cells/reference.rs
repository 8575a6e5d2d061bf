//! A float64 reference of the three cells, written independently of the
//! kernels: one sample, one time step, one unit at a time, the textbook
//! equations in PyTorch's gate order and packed-sequence semantics. Tests use
//! it for forward parity and central finite differences.

use super::Cell;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The gate activation: 0 sigmoid, 1 clip(0.2x + 0.5), 2 clip(x/6 + 0.5).
pub fn gate(kind: u32, x: f64) -> f64 {
    match kind {
        0 => sigmoid(x),
        1 => (0.2 * x + 0.5).clamp(0.0, 1.0),
        _ => (x / 6.0 + 0.5).clamp(0.0, 1.0),
    }
}

pub struct RefOut {
    /// `[rows, D·H]` in the same row order as the input
    pub y: Vec<f64>,
    /// `[D, B, H]`
    pub hn: Vec<f64>,
    /// `[D, B, H]` (LSTM; zeros otherwise)
    pub cn: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
pub fn forward(
    cell: Cell,
    t_len: usize,
    b_len: usize,
    i_len: usize,
    h_len: usize,
    dirs: usize,
    batch_first: bool,
    x: &[f64],
    h0: Option<&[f64]>,
    c0: Option<&[f64]>,
    lengths: Option<&[i32]>,
    params: &[f64],
    reverse: bool,
    rec_mask: Option<&[f64]>,
    gate_kind: u32,
) -> RefOut {
    let sigmoid = |x: f64| gate(gate_kind, x);
    let g_len = cell.gates();
    let gh = g_len * h_len;
    let row = |t: usize, b: usize| if batch_first { b * t_len + t } else { t * b_len + b };
    let mut y = vec![0.0; t_len * b_len * dirs * h_len];
    let mut hn = vec![0.0; dirs * b_len * h_len];
    let mut cn = vec![0.0; dirs * b_len * h_len];
    let per_dir = gh * (i_len + h_len + 2);
    for d in 0..dirs {
        let base = d * per_dir;
        let w_ih = |g: usize, k: usize| params[base + g * i_len + k];
        let w_hh = |g: usize, k: usize| params[base + gh * i_len + g * h_len + k];
        let b_ih = |g: usize| params[base + gh * (i_len + h_len) + g];
        let b_hh = |g: usize| params[base + gh * (i_len + h_len + 1) + g];
        for b in 0..b_len {
            let len = lengths.map_or(t_len, |l| l[b] as usize);
            let mut h: Vec<f64> = (0..h_len).map(|j| h0.map_or(0.0, |v| v[(d * b_len + b) * h_len + j])).collect();
            let mut c: Vec<f64> = (0..h_len).map(|j| c0.map_or(0.0, |v| v[(d * b_len + b) * h_len + j])).collect();
            let times: Vec<usize> = if d == 1 || reverse { (0..len).rev().collect() } else { (0..len).collect() };
            // recurrent dropout: h ⊙ m wherever h enters a recurrent product
            let m: Vec<f64> = (0..h_len).map(|j| rec_mask.map_or(1.0, |v| v[(d * b_len + b) * h_len + j])).collect();
            for t in times {
                let xr = &x[row(t, b) * i_len..][..i_len];
                // ax[g] = W_ih x + b_ih, ah[g] = W_hh h + b_hh, per gate row g
                let ax: Vec<f64> = (0..gh).map(|g| (0..i_len).map(|k| w_ih(g, k) * xr[k]).sum::<f64>() + b_ih(g)).collect();
                let ah: Vec<f64> = (0..gh).map(|g| (0..h_len).map(|k| w_hh(g, k) * h[k] * m[k]).sum::<f64>() + b_hh(g)).collect();
                let mut h_new = vec![0.0; h_len];
                match cell {
                    Cell::RnnTanh | Cell::RnnRelu => {
                        for j in 0..h_len {
                            let a = ax[j] + ah[j];
                            h_new[j] = if cell == Cell::RnnTanh { a.tanh() } else { a.max(0.0) };
                        }
                    }
                    Cell::Lstm => {
                        for j in 0..h_len {
                            let ig = sigmoid(ax[j] + ah[j]);
                            let fg = sigmoid(ax[h_len + j] + ah[h_len + j]);
                            let gg = (ax[2 * h_len + j] + ah[2 * h_len + j]).tanh();
                            let og = sigmoid(ax[3 * h_len + j] + ah[3 * h_len + j]);
                            c[j] = fg * c[j] + ig * gg;
                            h_new[j] = og * c[j].tanh();
                        }
                    }
                    Cell::Gru => {
                        for j in 0..h_len {
                            let r = sigmoid(ax[j] + ah[j]);
                            let z = sigmoid(ax[h_len + j] + ah[h_len + j]);
                            let n = (ax[2 * h_len + j] + r * ah[2 * h_len + j]).tanh();
                            h_new[j] = (1.0 - z) * n + z * h[j];
                        }
                    }
                    Cell::GruResetBefore => {
                        let r: Vec<f64> = (0..h_len).map(|j| sigmoid(ax[j] + ah[j])).collect();
                        for j in 0..h_len {
                            let z = sigmoid(ax[h_len + j] + ah[h_len + j]);
                            let rec: f64 =
                                (0..h_len).map(|k| w_hh(2 * h_len + j, k) * r[k] * h[k] * m[k]).sum::<f64>() + b_hh(2 * h_len + j);
                            let n = (ax[2 * h_len + j] + rec).tanh();
                            h_new[j] = (1.0 - z) * n + z * h[j];
                        }
                    }
                }
                h = h_new;
                y[row(t, b) * dirs * h_len + d * h_len..][..h_len].copy_from_slice(&h);
            }
            hn[(d * b_len + b) * h_len..][..h_len].copy_from_slice(&h);
            cn[(d * b_len + b) * h_len..][..h_len].copy_from_slice(&c);
        }
    }
    RefOut { y, hn, cn }
}

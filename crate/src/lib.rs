//! recurrent-core: the numeric kernels of recurrent-wasm.
//!
//! Kernels only: they take pointers (offsets into wasm linear memory) and
//! sizes, never allocate per call, and know nothing of JavaScript. The single
//! file with `#[wasm_bindgen]` exports is `abi.rs`; what crosses it as numbers
//! is declared once (`decl.rs`, `contract.rs`).
//!
//! Figures in comments name the benchmark workloads W1–W5 (W1: a batch-1
//! LSTM step, I = 64, H = 256; W2: that LSTM over B = 32, T = 100), defined
//! with how they are measured in docs/PERF-NOTES.md.

#![cfg_attr(all(target_arch = "wasm32", target_feature = "atomics"), feature(stdarch_wasm_atomic_wait))]

pub mod activations;
pub mod attention;
pub mod cells;
pub mod contract;
pub mod conv;
mod decl;
pub mod dense;
pub mod elementwise;
pub mod embedding;
pub mod gemm;
pub mod layernorm;
pub mod loss;
pub mod optim;
pub mod pool;
pub mod pooling;
pub mod program;
pub mod quant;
pub mod region;
pub mod simd;
pub mod status;
pub mod stream;
#[cfg(test)]
mod testutil;

#[cfg(target_arch = "wasm32")]
pub mod abi;

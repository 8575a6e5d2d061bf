//! recurrent-core: the numeric kernels of recurrent-wasm.
//!
//! Kernels only: they take pointers (offsets into wasm linear memory) and
//! sizes, never allocate per call, and know nothing of JavaScript. The single
//! file with `#[wasm_bindgen]` exports is `abi.rs`.

#![cfg_attr(all(target_arch = "wasm32", target_feature = "atomics"), feature(stdarch_wasm_atomic_wait))]

pub mod contract;

pub mod activations;
pub mod cells;
pub mod dense;
pub mod embedding;
pub mod gemm;
pub mod layernorm;
pub mod loss;
pub mod optim;
pub mod pool;
pub mod program;
pub mod quant;
pub mod region;
pub mod simd;
pub mod status;
pub mod stream;

#[cfg(target_arch = "wasm32")]
pub mod abi;

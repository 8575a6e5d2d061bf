# Sourced by build-wasm.sh and profile.sh: what happens to a cargo-built .wasm
# before it ships — wasm-bindgen's JS glue, then wasm-opt.
#   bindgen_and_optimise <cargo .wasm> <glue dir> <optimised .wasm> [more wasm-opt flags…]
# (needs WASM_BINDGEN from .tools/toolchain.env)
bindgen_and_optimise() {
  local raw=$1 glue=$2 wasm=$3
  shift 3
  "$WASM_BINDGEN" --target web --out-dir "$glue" --out-name recurrent_core "$raw"
  # --no-inline comes first (passes run in order): wasm-opt would otherwise
  # inline every single-caller micro-kernel, and V8 allocates registers worse
  # in big functions (see crate/src/gemm.rs).
  node_modules/.bin/wasm-opt '--no-inline=*kernel_*' -O3 --low-memory-unused "$@" "$glue/recurrent_core_bg.wasm" -o "$wasm"
}

# Sourced by build-wasm.sh and profile.sh: what happens to a cargo-built .wasm
# before it ships — wasm-bindgen's JS glue, then wasm-opt.
#   bindgen <cargo .wasm> <glue dir>
#   optimise <bindgen'd .wasm> <optimised .wasm> [more wasm-opt flags…]
#   bindgen_and_optimise <cargo .wasm> <glue dir> <optimised .wasm> [more wasm-opt flags…]
# (needs WASM_BINDGEN from .tools/toolchain.env)
bindgen() {
  "$WASM_BINDGEN" --target web --out-dir "$2" --out-name recurrent_core "$1"
}

optimise() {
  local in=$1 out=$2
  shift 2
  # --no-inline comes first (passes run in order): wasm-opt would otherwise
  # inline every single-caller micro-kernel, and V8 allocates registers worse
  # in big functions (see crate/src/gemm.rs).
  node_modules/.bin/wasm-opt '--no-inline=*kernel_*' -O3 --low-memory-unused "$@" "$in" -o "$out"
}

bindgen_and_optimise() {
  local raw=$1 glue=$2 wasm=$3
  shift 3
  bindgen "$raw" "$glue"
  optimise "$glue/recurrent_core_bg.wasm" "$wasm" "$@"
}

#!/usr/bin/env bash
# Build the Rust core for wasm32-unknown-unknown twice — simd128, and simd128 +
# relaxed-simd (chosen at load where the engine validates it) — run the
# wasm-bindgen CLI on each and optimise with wasm-opt (npm binaryen; Debian's
# binaryen is too old for relaxed SIMD). Output: ts/wasm/ (generated, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/toolchain.env ] || bash scripts/toolchain.sh
# shellcheck disable=SC1091
source .tools/toolchain.env
out=ts/wasm
mkdir -p "$out"

build() { # name, target features
  local name=$1 features=$2 dir=target/wasm-$1
  local -a extra=()
  [ -n "$WASM_BUILD_STD" ] && extra+=("$WASM_BUILD_STD")
  RUSTC="$WASM_RUSTC" RUSTC_BOOTSTRAP="${WASM_BOOTSTRAP:-}" \
    RUSTFLAGS="-C target-feature=$features" CARGO_TARGET_DIR="$dir" \
    "$WASM_CARGO" build --quiet --release --target wasm32-unknown-unknown -p recurrent-core "${extra[@]}"
  local tmp
  tmp=$(mktemp -d)
  "$WASM_BINDGEN" --target web --out-dir "$tmp" --out-name recurrent_core \
    "$dir/wasm32-unknown-unknown/release/recurrent_core.wasm"
  local wasm_name=recurrent_core_bg.wasm
  [ "$name" = simd ] || wasm_name=recurrent_core_${name}_bg.wasm
  # --no-inline comes first (passes run in order): wasm-opt would otherwise
  # inline every single-caller micro-kernel, and V8 allocates registers worse
  # in big functions (see crate/src/gemm.rs).
  node_modules/.bin/wasm-opt '--no-inline=*kernel_*' -O3 --low-memory-unused --strip-debug --strip-producers \
    "$tmp/recurrent_core_bg.wasm" -o "$out/$wasm_name"
  if [ "$name" = simd ]; then
    cp "$tmp/recurrent_core.js" "$tmp/recurrent_core.d.ts" "$out/"
  elif ! cmp -s "$tmp/recurrent_core.js" "$out/recurrent_core.js"; then
    echo "build-wasm: the $name build's JS glue differs from the simd build's" >&2
    exit 1
  fi
  rm -rf "$tmp"
  echo "built $out/$wasm_name ($(wc -c <"$out/$wasm_name") bytes)"
}

build simd "+simd128"
build relaxed "+simd128,+relaxed-simd"

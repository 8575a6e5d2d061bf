#!/usr/bin/env bash
# The core's unit tests compiled to wasm32 and run in Node by wasm-bindgen-test
# (the runner of the pinned wasm-bindgen CLI in .tools): the real simd128 lanes
# (and the relaxed build's fused madd with its 5-row tile), where `cargo test`
# on the host runs the portable [f32; 4] fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/toolchain.env ] || bash scripts/toolchain.sh
# shellcheck disable=SC1091
source .tools/toolchain.env
if [ "$TOOLCHAIN_MODE" != rustup ]; then
  echo "test-wasm: needs rustup's wasm32 target with its std (the Debian toolchain rebuilds std per build); skipped" >&2
  exit 0
fi
runner="$(dirname "$WASM_BINDGEN")/wasm-bindgen-test-runner"
run() { # label, target features, Node flags (NODE_ARGS: read by the runner)
  echo "== cargo test (wasm32, $1${WASM_PACK:+, wasm-pack test --node})"
  local -a cmd=("$WASM_CARGO" test --release --target wasm32-unknown-unknown -p recurrent-core)
  [ -n "${WASM_PACK:-}" ] && cmd=("$WASM_PACK" test --node --release crate)
  # (no --quiet to cargo: it would pass it on to the runner, which refuses it)
  PATH="$(dirname "$WASM_BINDGEN"):$PATH" NODE_ARGS="$3" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$runner" \
    RUSTFLAGS="-C target-feature=$2" CARGO_TARGET_DIR="$PWD/target/wasm-test-$1" "${cmd[@]}" 2>&1 |
    grep -v "^\s*\(Compiling\|Finished\|Running\|Blocking\|Downloaded\|Downloading\)\|failed to get wasm-pack version" || return 1
}
run simd128 +simd128 ""
# Node 20 validates relaxed SIMD only behind a V8 flag (22 and later without)
run relaxed +simd128,+relaxed-simd --experimental-wasm-relaxed-simd

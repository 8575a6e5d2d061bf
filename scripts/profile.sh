#!/usr/bin/env bash
# Profile a streaming loop (bench/stream-loop.mjs) with Linux perf, wasm
# functions by name: re-runs wasm-bindgen and wasm-opt on the last relaxed
# build keeping the name section (`wasm-opt -g`; the shipped build drops it),
# puts that .wasm in a copy of dist/, and records with V8's jitdump so
# `perf annotate` shows the machine code V8 generated.
#   bash scripts/profile.sh [lstm|gru] [f32|int8]      (after npm run build)
#   then: perf annotate -i "$out/perf.data" --stdio -s '<symbol from the report>'
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "profile: needs perf (Debian: linux-perf)" >&2; exit 1; }
raw=target/wasm-relaxed/wasm32-unknown-unknown/release/recurrent_core.wasm
[ -f "$raw" ] && [ -f dist/index.js ] && [ -f .tools/toolchain.env ] || { echo "profile: run npm run build first" >&2; exit 1; }
# shellcheck disable=SC1091
source .tools/toolchain.env
# shellcheck source=scripts/wasm-post.sh
source scripts/wasm-post.sh
out=$(mktemp -d)
cp -r dist "$out/dist"
bindgen_and_optimise "$raw" "$out/bindgen" "$out/dist/recurrent_core_relaxed_bg.wasm" -g
flags=()
[ "$(node -p 'process.versions.node.split(".")[0] < 22')" = true ] && flags+=(--experimental-wasm-relaxed-simd)
(cd "$out" && perf record -q -k 1 -F 5000 -o perf.raw node "${flags[@]}" --perf-prof \
  "$OLDPWD/bench/stream-loop.mjs" "${1:-lstm}" "${2:-f32}" 3000 "$out/dist")
(cd "$out" && perf inject -j -i perf.raw -o perf.data)
perf report -i "$out/perf.data" --no-children --sort sym 2>/dev/null | grep '%' | head -15
echo "profile: $out/perf.data"

#!/usr/bin/env bash
# The test command (README: `npm test`): formatters and linters, the core's
# tests (native, and compiled to wasm32 with simd128 and relaxed SIMD), the
# build, then every vitest suite against the built wasm and package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
# shellcheck disable=SC1091
source .tools/toolchain.env
bash scripts/lint.sh
echo "== cargo test (native, portable SIMD fallback)"
"$HOST_CARGO" test --release --quiet -p recurrent-core
echo "== cargo test (native, 5-row micro-tile of the relaxed-SIMD build)"
"$HOST_CARGO" test --release --quiet -p recurrent-core --features mr5
bash scripts/test-wasm.sh
echo "== build (wasm + package)"
bash scripts/build.sh
echo "== typecheck"
node_modules/.bin/tsc --noEmit
echo "== vitest"
node_modules/.bin/vitest run "$@"

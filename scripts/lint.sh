#!/usr/bin/env bash
# Formatters and linters of both languages, zero warnings: rustfmt and clippy
# (host, and wasm32 with simd128 and with relaxed SIMD, whose code paths
# differ), Biome for TypeScript and JavaScript. `npm test` and CI run this;
# `npm run lint -- --fix` applies the formatters.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/toolchain.env ] || bash scripts/toolchain.sh
# shellcheck disable=SC1091
source .tools/toolchain.env
if [ "${1:-}" = --fix ]; then
  "$HOST_CARGO" fmt
  node_modules/.bin/biome check --write .
  exit 0
fi
echo "== rustfmt"
"$HOST_CARGO" fmt --check
echo "== clippy (host)"
"$HOST_CARGO" clippy --quiet --release -p recurrent-core --all-targets -- -D warnings
if [ "$TOOLCHAIN_MODE" = rustup ]; then
  for f in +simd128 +simd128,+relaxed-simd; do
    echo "== clippy (wasm32 $f)"
    RUSTFLAGS="-C target-feature=$f" CARGO_TARGET_DIR="target/clippy-wasm${f//[+,]/-}" \
      "$HOST_CARGO" clippy --quiet --release -p recurrent-core --all-targets --target wasm32-unknown-unknown -- -D warnings
  done
fi
echo "== biome"
node_modules/.bin/biome ci --error-on-warnings .

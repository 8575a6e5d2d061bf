#!/usr/bin/env bash
# Everything `npm install` (prepare) and `npm test` need: toolchain, wasm, package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bash scripts/build-wasm.sh
node_modules/.bin/tsup
cp ts/wasm/recurrent_core_bg.wasm ts/wasm/recurrent_core_relaxed_bg.wasm dist/

#!/usr/bin/env bash
# Everything `npm install` (prepare) and `npm test` need: toolchain, wasm, package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bash scripts/build-wasm.sh
npm run --silent build:ts

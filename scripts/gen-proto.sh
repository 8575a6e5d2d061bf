#!/usr/bin/env bash
# Regenerate the protobuf-es TypeScript for the ONNX schema (committed; run after updating proto/onnx.proto).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf ts/io/onnx/gen
node_modules/.bin/buf generate
echo "generated: $(ls ts/io/onnx/gen)"

#!/usr/bin/env bash
# Regenerate the protobuf-es TypeScript for the ONNX schema (committed; run after
# updating proto/onnx.proto). The generators are fetched on demand: they are not
# devDependencies because their per-platform binary packages would have to be
# in every lockfile install.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf ts/io/onnx/gen
npm exec --yes --package=@bufbuild/buf@1.75.0 --package=@bufbuild/protoc-gen-es@2.17.0 -- buf generate
echo "generated: $(ls ts/io/onnx/gen)"

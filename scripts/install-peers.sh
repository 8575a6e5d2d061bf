#!/usr/bin/env bash
# brain.js for `npm run bench -- --peers`, installed into .tools/peers rather
# than as a devDependency: it pulls gpu.js → headless-gl, whose install step
# downloads a prebuilt binary (unreachable here) or compiles against X11/GL
# headers, which would break `npm ci`. Installed with --ignore-scripts, as the
# CPU path we benchmark needs none of those binaries. The other peers
# (tfjs + wasm backend, onnxruntime-web/-node) are devDependencies.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.tools/peers
mkdir -p "$dir"
want="brain.js@1.6.1"
if [ ! -f "$dir/.installed" ] || [ "$(cat "$dir/.installed")" != "$want" ]; then
  [ -f "$dir/package.json" ] || echo '{"name":"peers","private":true}' >"$dir/package.json"
  echo "[peers] installing $want into $dir" >&2
  (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --ignore-scripts $want >/dev/null 2>&1) && echo "$want" >"$dir/.installed" || echo "[peers] some peers could not be installed" >&2
fi

#!/usr/bin/env bash
# The JavaScript runtimes the real-runtime tests run the package in, installed
# without downloading any browser or binary from outside the package registries:
#   - Chromium from Debian's packages (apt, as root), driven by playwright-core;
#   - workerd, Deno and Bun from npm (their packages ship the binaries),
#     installed into .tools/runtimes (not devDependencies: their per-platform
#     binary packages would have to be resolvable for every platform by npm ci).
# Missing pieces are reported; the tests skip them with the printed reason.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { echo "[runtimes] $*" >&2; }
dir=.tools/runtimes
mkdir -p "$dir"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q chromium >/dev/null 2>&1; } || say "chromium could not be installed"
  else
    say "chromium is not installed (apt-get install chromium as root)"
  fi
fi

want="playwright-core@1.65.1 workerd@1.20261117.1 deno@2.9.6 bun@1.4.5"
if [ ! -f "$dir/.installed" ] || [ "$(cat "$dir/.installed")" != "$want" ]; then
  say "installing $want into $dir"
  [ -f "$dir/package.json" ] || echo '{"name":"runtimes","private":true}' >"$dir/package.json"
  if (cd "$dir" && npm install --no-audit --no-fund --no-package-lock $want >/dev/null 2>&1); then
    echo "$want" >"$dir/.installed"
  else
    say "some runtimes could not be installed from npm"
  fi
fi
for b in workerd deno bun; do
  if [ -x "$dir/node_modules/.bin/$b" ] && "$dir/node_modules/.bin/$b" --version >/dev/null 2>&1; then
    say "$b: $("$dir/node_modules/.bin/$b" --version 2>&1 | head -1)"
  else
    say "$b: not available"
  fi
done
command -v chromium >/dev/null 2>&1 && say "chromium: $(chromium --version 2>/dev/null)"
exit 0

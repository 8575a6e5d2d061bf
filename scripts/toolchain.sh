#!/usr/bin/env bash
# Find (or install) a Rust toolchain that can build wasm32-unknown-unknown with
# SIMD, and the wasm-bindgen CLI of exactly the version pinned in crate/Cargo.toml.
# Writes the choice to .tools/toolchain.env for scripts/build-wasm.sh.
#
# Order of preference:
#   1. rustup with the wasm32-unknown-unknown target (installed, or added now);
#   2. Debian's rustc-web/cargo-web (rustc 1.96 at /usr/bin) with the std source
#      (rust-web-src): std is rebuilt for wasm with -Zbuild-std;
#   3. when neither is present and we are root on Debian: apt-get install that
#      second toolchain;
#   4. otherwise stop and say what to install.
# RECURRENT_WASM_TOOLCHAIN=rustup|debian forces one of the first two (CI tests both).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="$root/.tools"
mkdir -p "$tools"
env_file="$tools/toolchain.env"

say() { echo "[toolchain] $*" >&2; }

wb_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' crate/Cargo.toml)
[ -n "$wb_version" ] || { say "cannot read the pinned wasm-bindgen version from crate/Cargo.toml"; exit 1; }

debian_ready() {
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] &&
    [ -d "$(/usr/bin/rustc --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/std" ] &&
    { [ -x /usr/bin/rust-lld ] || command -v lld-22 >/dev/null 2>&1 || command -v wasm-ld >/dev/null 2>&1; } &&
    /usr/bin/rustc --print target-list 2>/dev/null | grep -qx wasm32-unknown-unknown
}

rustup_ready() {
  command -v rustup >/dev/null 2>&1 &&
    rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

install_debian() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  say "installing Debian's wasm-capable Rust toolchain (rustc-web cargo-web rust-web-src rust-web-llvm lld-22)"
  export DEBIAN_FRONTEND=noninteractive
  local pkgs="rustc-web cargo-web rust-web-src rust-web-llvm lld-22"
  if ! apt-get install -y -q $pkgs >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q $pkgs >/dev/null
  fi
  debian_ready || { say "installed the Debian packages but the toolchain is still incomplete"; return 1; }
}

mode=""
forced=${RECURRENT_WASM_TOOLCHAIN:-auto}
if [ "$forced" = debian ]; then
  debian_ready || install_debian || { say "RECURRENT_WASM_TOOLCHAIN=debian but the Debian toolchain is missing and cannot be installed"; exit 1; }
  mode=debian
elif [ "$forced" = rustup ]; then
  rustup_ready || { command -v rustup >/dev/null 2>&1 && rustup target add wasm32-unknown-unknown >/dev/null; } || true
  rustup_ready || { say "RECURRENT_WASM_TOOLCHAIN=rustup but rustup cannot provide wasm32-unknown-unknown"; exit 1; }
  mode=rustup
elif rustup_ready; then
  mode=rustup
elif command -v rustup >/dev/null 2>&1 && timeout 120 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 && rustup_ready; then
  say "added the wasm32-unknown-unknown target with rustup"
  mode=rustup
elif debian_ready; then
  mode=debian
elif install_debian; then
  mode=debian
else
  cat >&2 <<EOF
[toolchain] No Rust toolchain that can build wasm32-unknown-unknown was found.
Install one of:
  - rustup, then: rustup target add wasm32-unknown-unknown
  - on Debian/Ubuntu (as root):
      apt-get install -y rustc-web cargo-web rust-web-src rust-web-llvm lld-22
and run this script again (npm install runs it).
EOF
  exit 1
fi

if [ "$mode" = rustup ]; then
  cargo_bin=$(command -v cargo)
  rustc_bin=$(rustup which rustc)
  build_std=""
  bootstrap=""
else
  cargo_bin=/usr/bin/cargo
  rustc_bin=/usr/bin/rustc
  build_std="-Zbuild-std=std,panic_abort"
  bootstrap=1
fi

# The threaded build rebuilds std with atomics (-Zbuild-std), which needs the
# std sources: Debian's toolchain has them (rust-web-src); rustup here cannot
# add rust-src. Installed when missing and we may (root on Debian); otherwise
# the threaded build is skipped and the package runs single-threaded.
mt_rustc="" mt_cargo="" mt_missing=""
if debian_ready || install_debian 2>/dev/null; then
  mt_rustc=/usr/bin/rustc
  mt_cargo=/usr/bin/cargo
else
  mt_missing="Debian's rustc-web, cargo-web, rust-web-src, lld-22 are not installed"
  say "threaded build skipped: $mt_missing"
fi

# Host cargo for `cargo install` and `cargo test`: rustup's if present, else Debian's.
host_cargo=$(command -v cargo || echo /usr/bin/cargo)

# wasm-bindgen CLI: must match the library version exactly.
wb_bin=""
for cand in "$tools/bin/wasm-bindgen" "$(command -v wasm-bindgen || true)"; do
  if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" --version 2>/dev/null | grep -q " $wb_version\$"; then
    wb_bin=$cand
    break
  fi
done
if [ -z "$wb_bin" ]; then
  say "installing wasm-bindgen-cli $wb_version into .tools (a few minutes, once)"
  "$host_cargo" install wasm-bindgen-cli --version "$wb_version" --locked --root "$tools" --quiet
  wb_bin="$tools/bin/wasm-bindgen"
fi

# wasm-pack drives the single-threaded builds and the wasm32 test run where it
# can (rustup's wasm32 target, wasm-bindgen from .tools on PATH, wasm-opt from
# npm binaryen: nothing downloaded); without it the scripts call cargo and
# wasm-bindgen themselves. RECURRENT_WASM_NO_WASM_PACK=1 skips it.
wp_version=0.15.1
wp_bin=""
if [ "$mode" = rustup ] && [ -z "${RECURRENT_WASM_NO_WASM_PACK:-}" ]; then
  if [ -x "$tools/bin/wasm-pack" ] && "$tools/bin/wasm-pack" --version 2>/dev/null | grep -q " $wp_version\$"; then
    wp_bin="$tools/bin/wasm-pack"
  else
    say "installing wasm-pack $wp_version into .tools (a few minutes, once)"
    if "$host_cargo" install wasm-pack --version "$wp_version" --locked --root "$tools" --quiet; then
      wp_bin="$tools/bin/wasm-pack"
    else
      say "wasm-pack could not be installed; the builds call cargo and wasm-bindgen directly"
    fi
  fi
fi

cat >"$env_file" <<EOF
TOOLCHAIN_MODE=$mode
WASM_CARGO=$cargo_bin
WASM_RUSTC=$rustc_bin
WASM_BUILD_STD="$build_std"
WASM_BOOTSTRAP=$bootstrap
WASM_BINDGEN=$wb_bin
WASM_PACK=$wp_bin
HOST_CARGO=$host_cargo
MT_RUSTC=$mt_rustc
MT_CARGO=$mt_cargo
MT_MISSING="$mt_missing"
EOF
say "using $mode toolchain ($("$rustc_bin" --version)), wasm-bindgen $wb_version${wp_bin:+, wasm-pack $wp_version}"

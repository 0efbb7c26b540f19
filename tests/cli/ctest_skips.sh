#!/usr/bin/env bash
# scripts/ctest_skips.sh (test.sh's summary) names each skipped test with the
# reason it printed, from a ctest run's output and LastTest.log.
#   bash tests/cli/ctest_skips.sh [path/to/llamajoule]   (the binary is not used)
set -uo pipefail
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/Testing/Temporary"
cat >"$tmp/Testing/Temporary/LastTest.log" <<'LOG'
1/3 Testing: test_a
1/3 Test: test_a
Command: "/x/test_a"
Directory: /x
"test_a" start time: Dec 06 10:57 UTC
Output:
----------------------------------------------------------
[ PASSED ] 1 test(s).
<end of output>
2/3 Testing: test_cuda_kernels
2/3 Test: test_cuda_kernels
Command: "/x/test_cuda_kernels"
Directory: /x
"test_cuda_kernels" start time: Dec 06 10:57 UTC
Output:
----------------------------------------------------------
no CUDA device: no NVIDIA driver (libcuda.so.1 not found)
<end of output>
3/3 Testing: cli_silent
Output:
----------------------------------------------------------
<end of output>
LOG
printf '%s\n' "100% tests passed, 0 tests failed out of 3" "" "The following tests did not run:" \
  $'\t  2 - test_cuda_kernels (Skipped)' $'\t  3 - cli_silent (Skipped)' >"$tmp/out"
got=$(bash scripts/ctest_skips.sh "$tmp" "$tmp/out")
want=$'  test_cuda_kernels: no CUDA device: no NVIDIA driver (libcuda.so.1 not found)\n  cli_silent: (no reason printed)'
if [[ $got == "$want" ]]; then echo "ok: skipped tests and their reasons"; else echo "FAIL: got: $got"; exit 1; fi
printf '100%% tests passed\n' >"$tmp/out"
[[ -z $(bash scripts/ctest_skips.sh "$tmp" "$tmp/out") ]] && echo "ok: nothing when none skipped" || { echo "FAIL: output with no skips"; exit 1; }

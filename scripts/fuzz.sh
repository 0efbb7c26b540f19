#!/usr/bin/env bash
# Builds the libFuzzer targets (clang) and runs each one for a fixed time from
# its seed corpus (fuzz/corpus/<target without "fuzz_">, or fuzz/corpus/<target>),
# copied to a scratch folder so that the committed seeds stay as they are.
# Fails on a finding (the input is kept as build-fuzz/findings/<target>/crash-*)
# or on a target without seeds. Skips, saying why, where clang cannot build
# fuzzers.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
cc=${LLAMAJOULE_FUZZ_CC:-clang}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$probe/f.c"
if ! command -v "$cc" >/dev/null || ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/f.c" -o "$probe/f" 2>/dev/null; then
  echo "fuzz: skipped: $cc cannot build libFuzzer targets (needs clang with -fsanitize=fuzzer)" >&2
  exit 0
fi

cmake -S . -B build-fuzz -DLLAMAJOULE_FUZZ=ON -DCMAKE_C_COMPILER="$cc" -DLLAMAJOULE_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo | grep -E "llamajoule|Error" >&2 || true
cmake --build build-fuzz -j"$(nproc)" >&2

fails=0
for src in fuzz/fuzz_*.c; do
  target=$(basename "$src" .c)
  seeds=fuzz/corpus/${target#fuzz_}
  [[ -d $seeds ]] || seeds=fuzz/corpus/$target
  if [[ ! -d $seeds ]] || [[ -z $(ls -A "$seeds") ]]; then
    echo "fuzz: $target has no seed corpus (fuzz/corpus/${target#fuzz_})" >&2
    fails=$((fails + 1))
    continue
  fi
  run=build-fuzz/corpus-run/$target findings=build-fuzz/findings/$target
  rm -rf "$run" "$findings" && mkdir -p "$run" "$findings"
  cp "$seeds"/* "$run"/
  log=build-fuzz/$target.log
  if "build-fuzz/$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
      -artifact_prefix="$findings/" "$run" >"$log" 2>&1; then
    echo "fuzz: $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n1) from $(ls "$seeds" | wc -l) seeds" >&2
  else
    echo "fuzz: $target: FINDING (log $log, input in $findings/):" >&2
    grep -m3 -E 'ERROR|SUMMARY|deadly' "$log" >&2 || tail -n 5 "$log" >&2
    fails=$((fails + 1))
  fi
done
exit $((fails > 0))

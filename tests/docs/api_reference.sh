#!/usr/bin/env bash
# The C API reference: `cmake --build BUILD --target docs` runs Doxygen on the
# public headers with warnings as errors (an undocumented function, struct,
# field or status code fails it), and every function, struct and status code
# the headers declare has its entry in the generated HTML.
#   bash tests/docs/api_reference.sh BUILD_DIR DOXYGEN   (DOXYGEN empty: skip)
set -u
build=${1:?usage: api_reference.sh BUILD_DIR DOXYGEN}
doxygen=${2:-}
fail() { echo "FAIL: $*"; exit 1; }
if [[ -z "$doxygen" ]]; then
  echo "skip: doxygen was not found when CMake configured this build (apt-get install doxygen, then re-run cmake)"
  exit 77
fi
docs_dir="$build/docs"
rm -rf "$docs_dir/html"
log=$(cmake --build "$build" --target docs 2>&1) || fail "the docs target failed (warnings are errors):
$log"
if grep -E "(warning|error):" <<<"$log"; then fail "doxygen reported the lines above"; fi
html="$docs_dir/html"
[[ -f "$html/index.html" && -f "$html/meter_8h.html" && -f "$html/error_8h.html" ]] || fail "no reference under $html"
grep -q "examples/meter_region/main.c" "$html/index.html" || fail "the main page does not point to the example"

# Every public function, type and status code declared in the headers has an entry.
headers=(include/llamajoule/*.h)
mapfile -t funcs < <(grep -hoE '^[a-z][a-z0-9_ *]*[ *](lj_[a-z0-9_]+)\(' "${headers[@]}" | grep -oE 'lj_[a-z0-9_]+\($' | tr -d '(' | sort -u)
(( ${#funcs[@]} >= 50 )) || fail "found only ${#funcs[@]} functions in ${headers[*]}: the extraction is broken"
for f in "${funcs[@]}"; do
  grep -q "$f()&#160;:" "$html/globals_func.html" || fail "function $f has no entry in the reference"
done
mapfile -t types < <(grep -hoE '^\} (lj_[a-z_]+);' "${headers[@]}" | grep -oE 'lj_[a-z_]+' | sort -u)
for t in "${types[@]}"; do
  grep -qE ">$t<|>$t&#160;:" "$html/annotated.html" "$html/globals_type.html" "$html/globals_enum.html" ||
    fail "type $t has no entry in the reference"
done
mapfile -t codes < <(grep -hoE '^  (LJ_[A-Z_]+) = -?[0-9]' include/llamajoule/error.h | grep -oE 'LJ_[A-Z_]+')
(( ${#codes[@]} == 10 )) || fail "expected 10 status codes in error.h, found ${#codes[@]}"
for c in "${codes[@]}"; do
  grep -q ">$c&#160;:" "$html/globals_eval.html" || fail "status code $c has no entry in the reference"
done
# A field's description made it through (trailing ///< comments).
grep -q "counter_energy_j - idle_power_w" "$html/structlj__window__result.html" ||
  fail "lj_window_result's field descriptions are missing"
echo "ok: ${#funcs[@]} functions, ${#types[@]} types, ${#codes[@]} status codes documented; $html/index.html"

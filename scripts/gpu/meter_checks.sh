#!/usr/bin/env bash
# The power meter's checks on a real GPU, from prebuilt portable binaries:
#   nvidia-smi -q (clocks, temperature, throttle reasons) before and after;
#   llamajoule devices --characterize  (update periods, call costs, counter
#     resolution, driver-buffer interval, counter vs buffer on a GEMM burst);
#   llamajoule idle --seconds 10;
#   llamajoule meter -- gemm_burst --seconds 5              (counter vs buffer within 3%)
#   llamajoule meter -- gemm_burst ... --burst-ms 20 --period-ms 100
#   llamajoule meter -- sleep 10                            (sampler CPU cost, default periods: < 2%;
#                                                            counter every 1 s and at begin/end)
#   where that CPU goes: meter with one period changed at a time, and
#   nvml_cpu_probe (each NVML call's wall and CPU time) when BIN_DIR has it
# Every output and the .db files go to OUT_DIR; summary.txt says pass/fail.
#
#   bash scripts/gpu/meter_checks.sh BIN_DIR OUT_DIR
# BIN_DIR holds llamajoule and gemm_burst (cmake -DLLAMAJOULE_PORTABLE=ON
# -DCMAKE_BUILD_TYPE=Release). Reads the GPU only: never changes its clocks,
# power limit or persistence mode.
set -uo pipefail
bin_dir=$(cd "${1:?usage: meter_checks.sh BIN_DIR OUT_DIR}" && pwd)
out_dir=${2:?usage: meter_checks.sh BIN_DIR OUT_DIR}
mkdir -p "$out_dir"
results=$(cd "$out_dir" && pwd)
lj="$bin_dir/llamajoule"
gemm="$bin_dir/gemm_burst"
summary="$results/summary.txt"
export LLAMAJOULE_STORE="$results/idle.db"  # idle writes here; meter --idle auto finds it
# The CUDA toolkit's and the driver's libraries, wherever this image keeps them.
for d in /usr/local/cuda/lib64 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
  [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done

# cuBLASLt from a Python wheel when the toolkit's lib64 lacks it.
if ldd "$lj" | grep -q "not found"; then
  for lib in $(find / -xdev -name 'libcublasLt.so.13' -o -name 'libcudart.so.13' 2>/dev/null | head -n 4); do
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$lib")"
  done
fi

note() { echo "$*" | tee -a "$summary"; }
fails=0
check() {  # condition-text, awk condition over the given numbers
  local what=$1 cond=$2; shift 2
  if awk "BEGIN { exit !($cond) }" "$@" </dev/null; then note "PASS: $what"; else note "FAIL: $what"; fails=$((fails + 1)); fi
}
# The diff, mean W and seconds of the "0 ..." row of a meter summary.
row_field() {  # file, column name (counter|buffer|diff|mean|peak|secs|above|idle)
  local col
  case $2 in counter) col=1 ;; buffer) col=2 ;; diff) col=3 ;; mean) col=4 ;; peak) col=5 ;; secs) col=6 ;; above) col=7 ;; idle) col=8 ;; esac
  # the name has spaces: read the last 8 columns of the GPU 0 row
  grep -E '^0 ' "$1" | head -n1 | awk -v c="$col" '{ print $(NF - 8 + c) }' | tr -d '%+'
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname), kernel $(uname -r)"
  nvidia-smi --query-gpu=name,driver_version,pci.bus_id,uuid,power.limit --format=csv 2>&1
  echo "llamajoule: $("$lj" --version 2>&1)"
  ldd "$lj" | grep -E "cuda|cublas|nvidia|not found" || true
} 2>&1 | tee -a "$summary"

{ echo "===== before"; nvidia-smi -q -d CLOCK,TEMPERATURE,PERFORMANCE,POWER; } >"$results/nvidia-smi.txt" 2>&1

# 1. devices, then --characterize (text and JSON)
{
  echo "\$ llamajoule devices"; "$lj" devices 2>&1; echo "exit $?"
  echo; echo "\$ llamajoule devices --characterize -o characterize.db"
  "$lj" devices --characterize -o "$results/characterize.db" 2>&1; echo "exit $?"
} >"$results/devices_idle.txt"
cat "$results/devices_idle.txt"
grep -E "GEMM .*continuous" "$results/devices_idle.txt" | head -n1 | grep -oE '\([+-][0-9.]+%\)' | tr -d '()%+' >"$results/.gemm_diff" || true
[[ -s "$results/.gemm_diff" ]] && check "devices --characterize: GEMM counter vs buffer within 3% ($(cat "$results/.gemm_diff")%)" \
  "sqrt(($(cat "$results/.gemm_diff"))^2) <= 3"
rm -f "$results/.gemm_diff"

# 2. idle power with a CUDA context
{ echo; echo "\$ llamajoule idle --seconds 10"; "$lj" idle --seconds 10 2>&1; echo "exit $?"; } >"$results/.idle"
cat "$results/.idle" | tee -a "$results/devices_idle.txt"
rm -f "$results/.idle"

# 3. meter around the GEMM load: continuous, bursts; then an idle program for the CPU cost
run_meter() {  # label, then the program and its arguments
  local label=$1; shift
  echo; echo "\$ llamajoule meter -o meter.db -- $*   [$label]"
  "$lj" meter -o "$results/meter.db" -- "$@" 2>&1
  echo "exit $?"
}
run_meter continuous "$gemm" --seconds 5 >"$results/meter_gemm.log"
cp "$results/meter_gemm.log" "$results/.continuous"
run_meter bursts "$gemm" --seconds 5 --burst-ms 20 --period-ms 100 >>"$results/meter_gemm.log"
tail -n +1 "$results/meter_gemm.log" | sed -n '/\[bursts\]/,$p' >"$results/.bursts"
run_meter sleep sleep 10 >>"$results/meter_gemm.log"
sed -n '/\[sleep\]/,$p' "$results/meter_gemm.log" >"$results/.sleep"
# The same load read through nvidia-smi instead of NVML (for comparison only).
{ echo; echo "\$ llamajoule meter --source nvidia-smi -- gemm_burst --seconds 3   [nvidia-smi]"
  "$lj" meter --source nvidia-smi -- "$gemm" --seconds 3 2>&1; echo "exit $?"; } >>"$results/meter_gemm.log"
cat "$results/meter_gemm.log"

d=$(row_field "$results/.continuous" diff); s=$(row_field "$results/.continuous" secs)
check "meter gemm_burst --seconds 5: counter vs buffer within 3% over >= 2 s (diff ${d}%, ${s} s)" \
  "sqrt(($d)^2) <= 3 && $s >= 2"
d=$(row_field "$results/.bursts" diff); s=$(row_field "$results/.bursts" secs)
note "INFO: meter gemm bursts 20 ms / 100 ms: counter vs buffer diff ${d}% over ${s} s"
for f in continuous bursts sleep; do
  cpu=$(grep -oE 'sampler: [0-9.]+%' "$results/.$f" | grep -oE '[0-9.]+')
  note "INFO: sampler CPU during '$f': ${cpu}% of one core"
done
cpu=$(grep -oE 'sampler: [0-9.]+%' "$results/.sleep" | grep -oE '[0-9.]+')
check "sampler CPU cost at default settings < 2% of one core (${cpu}%)" "$cpu < 2"
rm -f "$results/.continuous" "$results/.bursts" "$results/.sleep"

# 4. Where the sampler's CPU goes: one period changed at a time (idle GPU, 5 s each).
cpu_of() { "$lj" meter "$@" -- sleep 5 2>&1 | grep -oE 'sampler: [0-9.]+%' | grep -oE '[0-9.]+'; }
{
  echo "sampler CPU, % of one core, 'llamajoule meter ... -- sleep 5' on an idle GPU:"
  echo "  defaults (fields 10 ms; counter 1000 ms + at begin/end; drain and"
  echo "    utilisation/memory clock/temperature 250 ms), no store:      $(cpu_of --idle none)"
  echo "  defaults, storing every sample (-o):                           $(cpu_of --idle none -o "$results/.cpu.db")"
  echo "  counter every 100 ms (the former default):                     $(cpu_of --idle none --counter-period-ms 100)"
  echo "  counter every 10000 ms (nearly only the begin/end reads):      $(cpu_of --idle none --counter-period-ms 10000)"
  echo "  fields every 100 ms:                                           $(cpu_of --idle none --period-ms 100)"
  echo "  driver buffer drained every 1000 ms:                           $(cpu_of --idle none --drain-period-ms 1000)"
  echo "  counter 10000 ms, fields 100 ms, drain 1000 ms:                $(cpu_of --idle none --counter-period-ms 10000 --period-ms 100 --drain-period-ms 1000)"
  if [[ -x "$bin_dir/nvml_cpu_probe" ]]; then
    echo; echo "each NVML call, at the sampler's default period (nvml_cpu_probe 2):"
    "$bin_dir/nvml_cpu_probe" 2 2>&1
  fi
} >"$results/cpu_cost.txt"
rm -f "$results"/.cpu.db*
cat "$results/cpu_cost.txt"

{ echo "===== after"; nvidia-smi -q -d CLOCK,TEMPERATURE,PERFORMANCE,POWER; } >>"$results/nvidia-smi.txt" 2>&1
note "failed checks: $fails"
exit "$fails"

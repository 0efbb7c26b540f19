#!/usr/bin/env bash
# examples/meter_region without a GPU: the program measures a region of its own
# code on a replayed trace, and every energy it prints is checked against the
# value computed here from the trace's rows at the times it printed: the
# counter's delta (linear between its 100 ms readings), the trapezoid integral
# of the 20 ms power samples, the idle baseline (counter delta / time over the
# idle window) and the energies above it. Tolerance 0.002 J: the program prints
# joules to 3 decimals and times to the ns. Also: a given idle baseline, the
# exit codes for no driver (4) and a bad command line (2).
#   bash tests/examples/meter_region.sh path/to/meter_region
set -u
bin=${1:?usage: meter_region.sh path/to/meter_region}
trace=tests/data/traces/meter_region.csv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [[ -f "$tmp/out" ]] && cat "$tmp/out"; exit 1; }

# expect T0 T1: prints the "counter samples" energies (J) of [T0, T1] (s) from the trace.
expect() {
  awk -F, -v b="$1" -v e="$2" '
    BEGIN { ne = 0; np = 0 }
    /^#/ || /^t_ns/ { next }
    $3 == "energy" { et[ne] = $1 / 1e9; ev[ne++] = $4 }
    $3 == "power_sample" { pt[np] = $1 / 1e9; pv[np++] = $4 }
    function lerp(t, T, V, n,   i) {
      for (i = 1; i < n; i++) if (T[i] >= t) return V[i-1] + (V[i] - V[i-1]) * (t - T[i-1]) / (T[i] - T[i-1])
      return "nan"
    }
    END {
      counter = lerp(e, et, ev, ne) - lerp(b, et, ev, ne)
      # trapezoid over the samples inside, with the boundary values interpolated
      s = 0; pt_prev = b; pv_prev = lerp(b, pt, pv, np)
      for (i = 0; i < np; i++) if (pt[i] > b && pt[i] < e) { s += (pv_prev + pv[i]) / 2 * (pt[i] - pt_prev); pt_prev = pt[i]; pv_prev = pv[i] }
      s += (pv_prev + lerp(e, pt, pv, np)) / 2 * (e - pt_prev)
      printf "%.6f %.6f\n", counter, s
    }' "$trace"
}
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 0.002 && d > -0.002) }'; }

# 1. Idle measured by the program over 1 s, a region of 1000 ms (the README's command).
"$bin" --source "replay:$trace" >"$tmp/out" 2>&1 || fail "exit $? on the replayed trace"
grep -q "^source: replay, 1 device" "$tmp/out" || fail "no source line"
read -r ib ie iw < <(sed -nE 's/^idle +GPU 0 +([0-9.]+) W +measured: energy counter over t = ([0-9.]+) \.\. ([0-9.]+) s.*/\2 \3 \1/p' "$tmp/out")
[[ -n "${iw:-}" ]] || fail "no measured idle line"
read -r rb re < <(sed -nE 's/^region GPU 0 +t = ([0-9.]+) \.\. ([0-9.]+) s.*/\1 \2/p' "$tmp/out")
[[ -n "${re:-}" ]] || fail "no region line"
read -r cg ca < <(sed -nE 's/^  energy counter +([-0-9.]+) J gross +([-0-9.]+) J above idle.*/\1 \2/p' "$tmp/out")
read -r sg sa < <(sed -nE 's/^  power samples +([-0-9.]+) J gross +([-0-9.]+) J above idle.*/\1 \2/p' "$tmp/out")
[[ -n "${cg:-}" && -n "${sg:-}" ]] || fail "no energy lines"
grep -q "flags: none" "$tmp/out" || fail "the region's window has flags: $(grep flags "$tmp/out")"

read -r idle_counter _ < <(expect "$ib" "$ie")
want_idle=$(awk -v c="$idle_counter" -v b="$ib" -v e="$ie" 'BEGIN { printf "%.6f", c / (e - b) }')
awk -v a="$iw" -v b="$want_idle" 'BEGIN { exit !(a - b < 0.001 && b - a < 0.001) }' ||
  fail "idle $iw W, the trace gives $want_idle W over [$ib, $ie] s"
read -r want_c want_s < <(expect "$rb" "$re")
dur=$(awk -v b="$rb" -v e="$re" 'BEGIN { printf "%.9f", e - b }')
want_ca=$(awk -v x="$want_c" -v i="$want_idle" -v d="$dur" 'BEGIN { printf "%.6f", x - i * d }')
want_sa=$(awk -v x="$want_s" -v i="$want_idle" -v d="$dur" 'BEGIN { printf "%.6f", x - i * d }')
near "$cg" "$want_c" || fail "counter $cg J, the trace gives $want_c J over [$rb, $re] s"
near "$sg" "$want_s" || fail "samples $sg J, the trace gives $want_s J"
near "$ca" "$want_ca" || fail "counter above idle $ca J, expected $want_ca J"
near "$sa" "$want_sa" || fail "samples above idle $sa J, expected $want_sa J"
# The region lies on the trace's load (>= 120 W), so it cannot read less than idle.
awk -v g="$cg" -v d="$dur" 'BEGIN { exit !(g > 119 * d) }' || fail "counter $cg J over $dur s is below idle power"
echo "ok: idle $iw W (trace: $want_idle W); region [$rb, $re] s: counter $cg J (trace: $want_c), samples $sg J (trace: $want_s), above idle $ca / $sa J"

# 2. A given baseline: above idle = gross - 100 W x duration.
"$bin" --source "replay:$trace" --idle 100 --work-ms 500 >"$tmp/out" 2>&1 || fail "exit $? with --idle 100"
grep -qE "^idle +GPU 0 +100.000 W +given \(--idle\)" "$tmp/out" || fail "the given baseline is not printed"
read -r rb re < <(sed -nE 's/^region GPU 0 +t = ([0-9.]+) \.\. ([0-9.]+) s.*/\1 \2/p' "$tmp/out")
read -r cg ca < <(sed -nE 's/^  energy counter +([-0-9.]+) J gross +([-0-9.]+) J above idle.*/\1 \2/p' "$tmp/out")
read -r want_c _ < <(expect "$rb" "$re")
near "$cg" "$want_c" || fail "counter $cg J, the trace gives $want_c J over [$rb, $re] s"
near "$ca" "$(awk -v x="$want_c" -v b="$rb" -v e="$re" 'BEGIN { printf "%.6f", x - 100 * (e - b) }')" ||
  fail "counter above a given 100 W: $ca J"
awk -v b="$rb" -v e="$re" 'BEGIN { exit !(e - b >= 0.5 && e - b < 5) }' || fail "a 500 ms region lasted $rb .. $re s"
echo "ok: given idle 100 W: counter $cg J (trace: $want_c J) over [$rb, $re] s"

# 3. Exit codes: NVML without a driver -> 4 with the reason; bad command line -> 2.
"$bin" --work-ms 10 --idle 0 >"$tmp/out" 2>&1
rc=$?
if [[ $rc -eq 4 ]]; then
  grep -q "no NVIDIA driver\|sees no GPU\|is the NVIDIA driver loaded" "$tmp/out" || fail "exit 4 without the reason"
  echo "ok: no GPU here: exit 4, $(head -c 120 "$tmp/out")"
elif [[ $rc -eq 0 ]]; then
  grep -q "^source: nvml" "$tmp/out" || fail "exit 0 but no NVML source line"
  echo "ok: measured on this machine's GPU through NVML"
else
  fail "exit $rc with the default source"
fi
"$bin" --source bogus >"$tmp/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q "^usage: meter_region" "$tmp/out" || fail "bad --source: exit $rc"
echo "ok: bad command line -> 2"

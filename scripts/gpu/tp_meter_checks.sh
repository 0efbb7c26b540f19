#!/usr/bin/env bash
# The per-GPU meter on real GPUs (docs/tensor-parallel.md §5), from prebuilt binaries:
#   1. llamajoule idle --seconds 5: every visible GPU measured at once, each its own baseline
#      (the baselines end within 2 s of each other, not 5 s per GPU apart);
#   2. llamajoule meter -o tp.db -- (gemm_burst --seconds 5 --device d, on every GPU at once):
#      a row per GPU with counter vs buffer within 3%, and the 'all' row the sum of the GPU rows;
#   3. from tp.db: each GPU's first energy-counter read at or after the window's begin and end
#      (read_ns): with a sampler thread per GPU they start within 8 ms of each other
#      (read in turn they would be ~4 ms x (GPUs - 1) apart); on one GPU this is skipped.
# PASS/FAIL lines with the numbers, then a RESULT line.
#   bash scripts/gpu/tp_meter_checks.sh [BIN_DIR]   (default build-gpu, with llamajoule and
#                                                    gemm_burst; logs in $OUT or ./tp-meter-logs)
set -u
BIN=$(cd "${1:-build-gpu}" && pwd)
LOG=${OUT:-./tp-meter-logs}
source "$(dirname "$0")/checks_lib.sh"
results=$(cd "$LOG" && pwd)
lj="$BIN/llamajoule"
gemm="$BIN/gemm_burst"
export LLAMAJOULE_STORE="$results/idle.db"
check() { verdict "$(awk "BEGIN { r = ($2) ? 1 : 0; print r }" </dev/null)" "$1"; }  # text, awk condition

n=$(nvidia-smi -L | grep -c '^GPU ')
echo "INFO GPUs: $n"

# 1. idle of every GPU at once: the baselines' end times lie within 2 s of each other (one after
#    the other they would be 5 s apart and more)
"$lj" idle --seconds 5 >"$results/idle.txt" 2>&1
rc=$?
cat "$results/idle.txt"
got=$(grep -c 'idle power' "$results/idle.txt")
apart=$(python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); r = c.execute('select max(id) from runs').fetchone()[0]; \
a, b = c.execute('select min(measured_wall_ns), max(measured_wall_ns) from idle_baselines where run_id = ?', (r,)).fetchone(); \
print('%.2f' % ((b - a) / 1e9))" "$LLAMAJOULE_STORE" 2>/dev/null)
check "idle: exit $rc, $got of $n GPUs measured together (their ends ${apart:-?} s apart; one after the other: >= 5 s)" \
  "$rc == 0 && $got == $n && (\"${apart:-x}\" != \"x\") && ${apart:-99} < 2"

# 2. meter over a GEMM burst on every GPU at once
cmd="for d in \$(seq 0 $((n - 1))); do '$gemm' --seconds 5 --device \$d & done; wait"
"$lj" meter -o "$results/tp.db" -- sh -c "$cmd" >"$results/meter.out" 2>"$results/meter.txt"
rc=$?
cat "$results/meter.txt"
check "meter: exit $rc" "$rc == 0"
# GPU rows: the last 8 columns are counter, buffer, diff, mean, peak, secs, above, idle
awk '/^[0-9]+ / { print $(NF - 7), $(NF - 6), $(NF - 5) }' "$results/meter.txt" | tr -d '%+' >"$results/.rows"
sum=$(awk '{ s += $1 } END { printf "%.1f", s }' "$results/.rows")
all=$(awk '/^all / { print $2 }' "$results/meter.txt")
rows=$(wc -l <"$results/.rows")
worst=$(awk '{ d = $3 < 0 ? -$3 : $3; if (d > w) w = d } END { print w + 0 }' "$results/.rows")
check "meter: $rows GPU rows of $n, counter vs buffer within 3% on each (worst $worst%)" "$rows == $n && $worst <= 3"
[[ $n -gt 1 ]] && check "meter: 'all' counter $all J = sum of the GPU rows $sum J (0.1 J per row of rounding)" \
  "(${all:-0} - $sum)^2 <= (0.1 * $n)^2"
rm -f "$results/.rows"

# 3. boundary reads side by side
python3 - "$results/tp.db" >"$results/boundary.txt" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
energy = c.execute("select id from readings where name = 'energy'").fetchone()[0]
b, e = c.execute("select begin_ns, end_ns from windows where name = 'program' and device_index is null").fetchone() or \
       c.execute("select begin_ns, end_ns from windows where name = 'program' order by id limit 1").fetchone()
for label, t in (("begin", b), ("end", e)):
    firsts = []
    for (d,) in c.execute("select device_index from devices order by device_index").fetchall():
        r = c.execute("select min(read_ns) from samples where device_index = ? and reading = ? and read_ns >= ?",
                      (d, energy, t)).fetchone()[0]
        if r is not None: firsts.append((d, (r - t) / 1e6))
    print(label, " ".join("gpu%d=%.2fms" % f for f in firsts),
          "spread=%.2f" % (max(x for _, x in firsts) - min(x for _, x in firsts)) if firsts else "spread=nan")
EOF
cat "$results/boundary.txt"
if [[ $n -gt 1 ]]; then
  for which in begin end; do
    spread=$(awk -v w="$which" '$1 == w { for (i = 2; i <= NF; i++) if ($i ~ /^spread=/) { sub("spread=", "", $i); print $i } }' "$results/boundary.txt")
    check "boundary reads at the window's $which start within 8 ms of each other on $n GPUs (spread ${spread:-?} ms)" \
      "\"${spread:-nan}\" != \"nan\" && ${spread:-99} < 8"
  done
else
  echo "SKIP boundary-read spread: one GPU"
fi

echo "RESULT tp_meter_checks fails=$fails"
exit $((fails > 0))

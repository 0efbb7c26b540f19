#!/usr/bin/env bash
# The replay trials' one-period pre-roll rests on the energy counter's reading being at most one
# update period old and its increments covering the power up to their own time
# (docs/attribution.md §1). scripts/analysis/counter_lag.py fits that lag against the driver's
# power samples from a store; on the committed H100 profiles of 1B and 3B (read at the old 0.2 s
# pre-roll, which any lag up to 100 ms passes) it must come out at half a period, 30-70 ms, and
# say the pre-roll holds. A counter delayed by tens of ms against the samples would fail it.
# A store without power samples must be refused (exit 1), not fitted.
#   bash tests/cli/counter_lag.sh path/to/llamajoule   (the binary is not used)
set -uo pipefail
src=${LLAMAJOULE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for tool in python3 xz; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/setup.sh installs it)"; exit 77; }
done
python3 -c "import sqlite3" 2>/dev/null || { echo "skip: python3 has no sqlite3 module"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for m in llama-3.2-1b llama-3.2-3b; do
  xz -dc "$src/examples/profile/$m.h100.db.xz" > "$tmp/$m.db" || { echo "FAIL: $m: cannot unpack"; exit 1; }
  out=$(python3 "$src/scripts/analysis/counter_lag.py" "$tmp/$m.db") || { echo "FAIL: $m: exit $?"; fails=$((fails + 1)); continue; }
  verdict=$(tail -n1 <<<"$out")
  lag=$(sed -E -n 's/^lag (-?[0-9]+) ms:.*/\1/p' <<<"$verdict")
  if [[ -n $lag && $lag -ge 30 && $lag -le 70 && $verdict == *"pre-roll holds" ]]; then
    echo "ok: $m: $verdict"
  else
    echo "FAIL: $m: expected a lag of 30-70 ms and 'holds', got: $verdict"; fails=$((fails + 1))
  fi
done
# The same reads stamped 80 ms later: a counter that reports 80 ms late. The fit must see it.
cp "$tmp/llama-3.2-1b.db" "$tmp/late.db"
python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE samples SET t_ns = t_ns + 80000000 WHERE reading = (SELECT id FROM readings WHERE name = 'energy')\"); c.commit()" "$tmp/late.db"
late=$(python3 "$src/scripts/analysis/counter_lag.py" "$tmp/late.db" | tail -n1)
if [[ $late == "lag 12"[05]" ms"*"does not hold" ]]; then echo "ok: a counter 80 ms late: $late"
else echo "FAIL: a counter 80 ms late: expected a lag of 120-125 ms and 'does not hold', got: $late"; fails=$((fails + 1)); fi
# A store with no power samples: nothing to fit.
python3 - "$tmp/llama-3.2-1b.db" "$tmp/none.db" <<'PY'
import shutil, sqlite3, sys
shutil.copy(sys.argv[1], sys.argv[2])
c = sqlite3.connect(sys.argv[2])
c.execute("DELETE FROM samples WHERE reading = (SELECT id FROM readings WHERE name = 'power_sample')")
c.commit()
PY
python3 "$src/scripts/analysis/counter_lag.py" "$tmp/none.db" > "$tmp/none.out"
rc=$?
if [[ $rc -eq 1 ]] && grep -q "no driver power samples" "$tmp/none.out"; then echo "ok: a store without samples: exit 1"
else echo "FAIL: a store without samples: exit $rc: $(cat "$tmp/none.out")"; fails=$((fails + 1)); fi
((fails == 0)) && echo "all counter lag checks passed"
exit $((fails > 0))

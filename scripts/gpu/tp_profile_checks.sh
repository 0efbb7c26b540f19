#!/usr/bin/env bash
# The GPU profile at tensor-parallel degree N on ONE GPU (docs/tensor-parallel.md §4), meant to
# take under 3 minutes on an H100 (three short profiles of 1B, ~40-60 s each; not yet timed):
#   1. profile --tp 1 (the single-GPU profile, graphed) as the reference;
#   2. profile --tp 2 --tp-backend loopback: completes, its store holds the sum (tp_rank -1) and the
#      one device's rows (tp_rank 0: loopback meters one GPU once), the note saying so; the decode
#      and prefill J/token within a factor 0.5 .. 6 of --tp 1's (loopback runs the ranks in turn,
#      eagerly: slower and dearer, not cheaper by half);
#   3. profile --tp 1 --tp-backend nccl: the tensor-parallel profile's path with NCCL, one rank:
#      completes, its rows rank 0's only (degree 1), J/token within 0.5 .. 3 of --tp 1's (eager);
#   4. profile --tp 2 --tp-backend nccl on one GPU is refused naming the GPUs it needs, and
#      --per-layer with --tp is refused naming the option.
#   5. the loopback run's isolation replay: attn_allreduce and mlp_allreduce rows in prefill and
#      decode with positive time and energy per call, and the decode stages' closure printed.
#   6. profile --tp 2 --tp-backend loopback with the Shapley rounds (not --quick, which leaves them
#      out): the sum's additive check in prefill and decode over a rank's 11 stages (the order
#      replays on the ranks); its residuals printed. Loopback has one meter: the check per GPU
#      needs NCCL over 2 GPUs (scripts/gpu/tp_multi.sh).
#   bash scripts/gpu/tp_profile_checks.sh [BIN_DIR] [OUT]   (default build-gpu, $OUT or ./tp-profile-logs)
set -u
BIN=${1:-build-gpu}
LOG=${2:-${OUT:-./tp-profile-logs}}
source "$(dirname "$0")/checks_lib.sh"
M=llama-3.2-1b
# --quick, shorter still: 2 trials of 0.2 s per stage, attention at one KV length, no cool-down
Q="--model $M --quick --prompt-len 64 --gen-len 32 --no-timeline --trials 2 --replay-seconds 0.2 --phase-seconds 0.5"
Q="$Q --decode-kv 1 --cooldown-seconds 0"

prof() {  # prof NAME ARGS...: one profile into its own store, JSON kept
  local name=$1; shift
  rm -f "$LOG/$name.db"
  timeout 240 "$BIN/llamajoule" profile $Q "$@" --json -o "$LOG/$name.db" >"$LOG/$name.json" 2>"$LOG/$name.err"
  echo $?
}
# rows of phase_summaries: "tp_rank phase gross_j_per_token time_s" per line
rows() {
  python3 - "$LOG/$1.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute("SELECT tp_rank, phase, gross_j_per_token, time_s FROM phase_summaries ORDER BY tp_rank, phase"):
    print(*r)
PY
}
jpt() { rows "$1" | awk -v k="$2" -v p="$3" '$1 == k && $2 == p { print $3 }'; }
ratio_in() {  # ratio_in A B LO HI: 1 when LO <= A/B <= HI
  python3 -c "import sys; a,b,lo,hi=map(float,sys.argv[1:]); print(1 if b>0 and lo<=a/b<=hi else 0)" "$1" "$2" "$3" "$4" 2>/dev/null || echo 0
}

rc1=$(prof tp1)
verdict "$([ "$rc1" = 0 ] && echo 1 || echo 0)" "profile --tp 1 (reference) exit $rc1"
rcl=$(prof loop2 --tp 2 --tp-backend loopback)
verdict "$([ "$rcl" = 0 ] && echo 1 || echo 0)" "profile --tp 2 --tp-backend loopback exit $rcl: $(grep -m1 error "$LOG/loop2.err" | cut -c1-200)"
rows loop2 | sed 's/^/INFO loopback 2 rows (tp_rank phase J\/token s): /'
verdict "$([ -n "$(jpt loop2 -1 decode)" ] && [ -n "$(jpt loop2 0 decode)" ] && [ -z "$(jpt loop2 1 decode)" ] && echo 1 || echo 0)" \
  "loopback 2: rows tp_rank -1 (sum) and 0 (the one GPU), none for rank 1 (one device, not 2)"
verdict "$(grep -q 'all 2 ranks ran on one GPU' "$LOG/loop2.json" && echo 1 || echo 0)" "loopback 2: the note says the ranks shared one GPU"
verdict "$(grep -q 'attn_allreduce\|Tensor parallelism on the GPU: loopback' "$LOG/loop2.json" && echo 1 || echo 0)" \
  "loopback 2: the communicator named in the notes"
for ph in prefill decode; do
  a=$(jpt loop2 -1 $ph) b=$(jpt tp1 0 $ph)
  verdict "$(ratio_in "${a:-0}" "${b:-0}" 0.5 6)" "loopback 2 $ph J/token $a vs --tp 1 $b (factor 0.5 .. 6)"
  s0=$(jpt loop2 0 $ph)
  verdict "$(ratio_in "${a:-0}" "${s0:-0}" 0.999999 1.000001)" "loopback 2 $ph: the sum = the one GPU's ($a, $s0): counted once"
done

rcn=$(prof nccl1 --tp 1 --tp-backend nccl)
if grep -q "libnccl\|NCCL" "$LOG/nccl1.err" && [ "$rcn" != 0 ]; then
  echo "SKIP --tp 1 --tp-backend nccl: $(grep -m1 error "$LOG/nccl1.err" | cut -c1-200)"
else
  verdict "$([ "$rcn" = 0 ] && echo 1 || echo 0)" "profile --tp 1 --tp-backend nccl exit $rcn"
  grep -o 'nccl [0-9.]* from [^.]*' "$LOG/nccl1.json" | head -1 | sed 's/^/INFO /'
  # degree 1: the run's own rows are rank 0's (as any degree-1 run's), no sum row
  verdict "$([ -z "$(jpt nccl1 -1 decode)" ] && [ -n "$(jpt nccl1 0 decode)" ] && echo 1 || echo 0)" \
    "nccl 1: rows of tp_rank 0 only (degree 1)"
  for ph in prefill decode; do
    a=$(jpt nccl1 0 $ph) b=$(jpt tp1 0 $ph)
    verdict "$(ratio_in "${a:-0}" "${b:-0}" 0.5 3)" "nccl 1 $ph J/token $a vs --tp 1 $b (factor 0.5 .. 3)"
  done
fi

"$BIN/llamajoule" profile $Q --tp 2 -o "$LOG/refused.db" >/dev/null 2>"$LOG/refused.err"
verdict "$(grep -q 'needs 2 GPUs' "$LOG/refused.err" && echo 1 || echo 0)" \
  "--tp 2 over NCCL on one GPU refused: $(grep -m1 error "$LOG/refused.err" | cut -c1-160)"
"$BIN/llamajoule" profile $Q --tp 2 --tp-backend loopback --per-layer -o "$LOG/refused2.db" >/dev/null 2>"$LOG/refused2.err"
verdict "$(grep -q -- '--per-layer with --tp on the GPU' "$LOG/refused2.err" && echo 1 || echo 0)" "--per-layer with --tp refused naming it"
# the all-reduce stages replayed on the ranks (loopback 2): "phase stage s/call J/call" per row
ar=$(python3 - "$LOG/loop2.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute("SELECT phase, stage, time_per_call_s, gross_j FROM stage_estimates "
                    "WHERE stage LIKE '%allreduce' AND tp_rank = -1 ORDER BY phase, stage"):
    print(*r)
PY
)
echo "$ar" | sed 's/^/INFO loopback 2 all-reduce (phase stage s\/call J\/call): /'
verdict "$(echo "$ar" | awk 'NF == 4 && $3 > 0 && $4 > 0 { n++ } END { print (n == 4) ? 1 : 0 }')" \
  "loopback 2: attn_allreduce and mlp_allreduce replayed in prefill and decode, positive time and energy"
grep -E '^(communication|closure|decode)' "$LOG/loop2.err" | head -8 | sed 's/^/INFO loopback 2 summary: /'
# the Shapley rounds on the ranks: short, but every order of a rank's 11 stages, 3 rounds
S="--model $M --prompt-len 64 --gen-len 32 --repeats 2 --phase-seconds 0.5 --trials 3 --replay-seconds 0.3"
S="$S --decode-kv 1 --idle-seconds 2 --cooldown-seconds 0 --no-timeline --ablate none --no-overhead --no-sequence"
Q=$S  # prof's arguments from here on
rcs=$(prof loop2s --tp 2 --tp-backend loopback)
verdict "$([ "$rcs" = 0 ] && echo 1 || echo 0)" "profile --tp 2 --tp-backend loopback with the Shapley rounds exit $rcs: $(grep -m1 error "$LOG/loop2s.err" | cut -c1-200)"
sh=$(sql_rows "$LOG/loop2s.db" "SELECT tp_rank, phase, n_stages, n_rounds, residual_pct, residual_lo_pct,
  residual_hi_pct, pass FROM shapley_checks ORDER BY tp_rank, phase")
echo "$sh" | sed 's/^/INFO loopback 2 Shapley (tp_rank phase stages rounds residual% lo hi pass): /'
verdict "$(echo "$sh" | awk '$1 == -1 && $3 == 11 && $4 >= 2 { n++ } END { print (n == 2) ? 1 : 0 }')" \
  "loopback 2: the sum's additive check in prefill and decode over 11 stages (the all-reduces are players)"
echo "RESULT tp_profile fails=$fails"
exit $((fails > 0))

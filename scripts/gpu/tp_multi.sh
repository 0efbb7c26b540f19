#!/usr/bin/env bash
# Tensor parallelism over NCCL on a multi-GPU host (docs/tensor-parallel.md §7): parity of the
# NCCL path at degree 2, 4, 8 (as many as the GPUs allow) and 8B's decode tok/s against one GPU.
#   - tiny: --tp 2 over NCCL = the CPU emulation's greedy tokens;
#   - llama-3.2-1b at each degree: greedy tokens (32) = --tp 1's (the engine alone);
#   - llama-3.1-8b at --tp 1 (engine alone, CUDA graphs) and --tp 2, 4 (eager): decode tok/s;
#   - test_cuda_tp (loopback, NCCL degree 1) as on one GPU, and its NCCL degree-2 order replays
#     (test_nccl_order_replays: skipped on one GPU);
#   - profile --quick of llama-3.1-8b at --tp 1, 2, 4 (J/token of prefill and decode against the
#     degree, each GPU's decode J/token) and of llama-3.3-70b at --tp 2, 4, 8 (as many as the GPUs
#     allow; 70B in bf16 needs 2): completes, one per-GPU row per rank, the per-GPU decode energy
#     adds up to the sum (1e-6), the all-reduce stages' rows present with positive time, an idle
#     curve per GPU (its slope, or why it is not used);
#   - the issue's bar: profile (with the Shapley rounds) of llama-3.1-8b at --tp 2 and of
#     llama-3.3-70b at the largest degree the GPUs allow: each GPU's own additive check (its Shapley
#     values against its own whole-layer replay) PASS within 5% with its budget, in prefill and decode.
#   bash scripts/gpu/tp_multi.sh [BIN_DIR]        (default build-gpu; logs in $OUT or ./tp-multi-logs)
set -u
BIN=${1:-build-gpu}
LOG=${OUT:-./tp-multi-logs}
source "$(dirname "$0")/checks_lib.sh"
P="128000 791 6864 315 9822 374"
ids() { grep '^ids: ' "$1" | sed 's/^ids: //'; }
tps() { grep -o 'decode [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)' "$1" | grep -o '([0-9.]* tok/s)' | tr -d '()'; }
ngpu=$(nvidia-smi -L | wc -l)
echo "INFO GPUs: $ngpu"
nvidia-smi topo -m 2>&1 | sed 's/^/INFO topo /' | head -12

"$BIN/llamajoule" generate --model tiny --prompt-ids "$P" -n 16 --ignore-eos --device cpu --tp 2 >"$LOG/tiny.cpu2" 2>&1
"$BIN/llamajoule" generate --model tiny --prompt-ids "$P" -n 16 --ignore-eos --device cuda --tp 2 >"$LOG/tiny.nccl2" 2>&1
a=$(ids "$LOG/tiny.cpu2") b=$(ids "$LOG/tiny.nccl2")
verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "tiny --tp 2 over NCCL = CPU emulation's tokens: [$b] / [$a]"
grep -o "nccl [0-9.]* from .*NCCL_NVLS_ENABLE=[^;]*" "$LOG/tiny.nccl2" | head -1 | sed 's/^/INFO /'

"$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "$P" -n 32 --ignore-eos --device cuda >"$LOG/1b.tp1" 2>&1
for n in 2 4 8; do
  [ "$n" -le "$ngpu" ] || continue
  "$BIN/llamajoule" generate --model llama-3.2-1b --prompt-ids "$P" -n 32 --ignore-eos --device cuda --tp $n \
    >"$LOG/1b.nccl$n" 2>&1
  a=$(ids "$LOG/1b.tp1") b=$(ids "$LOG/1b.nccl$n")
  verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "llama-3.2-1b --tp $n over NCCL = --tp 1 (32 tokens), $(tps "$LOG/1b.nccl$n")"
done

for n in 1 2 4; do
  [ "$n" -le "$ngpu" ] || continue
  "$BIN/llamajoule" generate --model llama-3.1-8b --prompt-ids "$P" -n 128 --ignore-eos --device cuda \
    $([ $n -gt 1 ] && echo --tp $n) >"$LOG/8b.tp$n" 2>&1
  echo "INFO llama-3.1-8b --tp $n: decode $(tps "$LOG/8b.tp$n") (exit $?)"
done
a=$(ids "$LOG/8b.tp1") b=$(ids "$LOG/8b.tp2")
[ "$ngpu" -ge 2 ] && verdict "$([ -n "$a" ] && [ "$a" = "$b" ] && echo 1 || echo 0)" "llama-3.1-8b --tp 2 = --tp 1 tokens (128)"

# profile --tp N: each store's phase summaries per rank (tp_rank -1 is the sum) and the all-reduce rows.
prof_rows() {
  python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute("SELECT tp_rank, phase, gross_j_per_token, dynamic_j_per_token FROM phase_summaries "
                    "WHERE phase IN ('prefill', 'decode') ORDER BY tp_rank, phase"):
    print(*r)
s = db.execute("SELECT count(*), min(time_per_call_s) FROM stage_estimates WHERE stage LIKE '%allreduce'").fetchone()
print("allreduce", *s)
PY
}
prof_check() {  # prof_check MODEL N
  local m=$1 n=$2 f="$LOG/prof.$1.tp$2"
  rm -f "$f.db"
  timeout 580 "$BIN/llamajoule" profile --model "$m" --quick --tp "$n" --json -o "$f.db" >"$f.json" 2>"$f.err"
  local rc=$?
  verdict "$([ $rc = 0 ] && echo 1 || echo 0)" "profile $m --tp $n: exit $rc $(grep -m1 error "$f.err" | cut -c1-160)"
  [ $rc = 0 ] || return
  prof_rows "$f.db" | sed "s/^/INFO $m tp$n (tp_rank phase J\/token dynamic J\/token): /"
  if [ "$n" -gt 1 ]; then
    local ranks sum parts ar
    ranks=$(prof_rows "$f.db" | awk '$1 >= 0 && $2 == "decode"' | wc -l)
    verdict "$([ "$ranks" = "$n" ] && echo 1 || echo 0)" "profile $m --tp $n: $ranks per-GPU decode rows"
    sum=$(prof_rows "$f.db" | awk '$1 == -1 && $2 == "decode" { print $3 }')
    parts=$(prof_rows "$f.db" | awk '$1 >= 0 && $2 == "decode" { s += $3 } END { print s }')
    verdict "$(python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(1 if abs(a-b) <= 1e-6*abs(a) else 0)" "$sum" "$parts" 2>/dev/null || echo 0)" \
      "profile $m --tp $n: per-GPU decode J/token adds up to the sum ($parts vs $sum)"
    ar=$(prof_rows "$f.db" | awk '$1 == "allreduce" { print $2, $3 }')
    verdict "$(echo "$ar" | awk '{ print ($1 >= 2 && $2 > 0) ? 1 : 0 }')" "profile $m --tp $n: all-reduce rows (count, min s/call): $ar"
    # each GPU's own idle curve from the cool-down of every GPU at once (used, or the reason it is not)
    local curves
    curves=$(sql_rows "$f.db" "SELECT tp_rank, round(slope_w_per_c, 2), round(slope_lo_w_per_c, 2),
      round(slope_hi_w_per_c, 2), n_bins, used, why_not_used FROM idle_curves ORDER BY tp_rank")
    echo "$curves" | sed "s/^/INFO $m tp$n idle curve (tp_rank W\/C lo hi bins used why): /"
    verdict "$(echo "$curves" | awk -v n="$n" '$1 >= 0 { k++ } END { print (k == n) ? 1 : 0 }')" \
      "profile $m --tp $n: an idle curve per GPU"
  fi
}
for n in 1 2 4; do [ "$n" -le "$ngpu" ] && prof_check llama-3.1-8b $n; done
for n in 2 4 8; do [ "$n" -le "$ngpu" ] && prof_check llama-3.3-70b $n; done
# each GPU's own Shapley additive check (tp_rank r >= 0; -1 is the sum's), from a profile with the rounds
shapley_check() {  # shapley_check MODEL N
  local m=$1 n=$2 f="$LOG/shap.$1.tp$2"
  rm -f "$f.db"
  timeout 1800 "$BIN/llamajoule" profile --model "$m" --tp "$n" --no-timeline --ablate none --no-overhead --json \
    -o "$f.db" >"$f.json" 2>"$f.err"
  local rc=$? rows
  verdict "$([ $rc = 0 ] && echo 1 || echo 0)" "profile $m --tp $n with the Shapley rounds: exit $rc $(grep -m1 error "$f.err" | cut -c1-160)"
  [ $rc = 0 ] || return
  rows=$(sql_rows "$f.db" "SELECT tp_rank, phase, n_stages, residual_pct, residual_lo_pct, residual_hi_pct, pass
    FROM shapley_checks ORDER BY tp_rank, phase")
  echo "$rows" | sed "s/^/INFO $m tp$n Shapley (tp_rank phase stages residual% lo hi pass): /"
  verdict "$(echo "$rows" | awk -v n="$n" '$1 >= 0 && $3 == 11 { k++; p += $7 } END { print (k == 2 * n && p == k) ? 1 : 0 }')" \
    "profile $m --tp $n: every GPU's additive check PASS within 5% in prefill and decode"
}
[ "$ngpu" -ge 2 ] && shapley_check llama-3.1-8b 2
for n in 8 4 2; do if [ "$n" -le "$ngpu" ]; then shapley_check llama-3.3-70b $n; break; fi; done

(cd "$SRC" && timeout 300 "$BIN/test_cuda_tp") >"$LOG/test_cuda_tp.log" 2>&1
verdict "$([ $? = 0 ] && echo 1 || echo 0)" "test_cuda_tp"
echo "RESULT tp_multi fails=$fails"
exit $((fails > 0))

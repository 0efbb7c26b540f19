#!/usr/bin/env bash
# The comparative study of docs/findings.md, in resumable pieces of one device call each:
#   bash scripts/gpu/study.sh LLAMAJOULE STUDY_DB [MAX_SECONDS]
# Runs `llamajoule sweep` with the study's arguments (the same on every call, so that a rerun
# resumes), then copies the store and the logs to $OUT. Exit code: the sweep's (75: call again).
# The GPU machine has no npm: carry a tokenizer.json beside the binary (or set LLAMAJOULE_TOKENIZER),
# or the points have no tokenize and detokenize windows (their notes say so).
set -u
BIN=$1 DB=$2 MAX=${3:-540}
tok=$(dirname "$BIN")/tokenizer.json
[ -z "${LLAMAJOULE_TOKENIZER:-}" ] && [ -f "$tok" ] && export LLAMAJOULE_TOKENIZER=$tok
LOG=${OUT:-./study-logs}
mkdir -p "$LOG"
cond() { nvidia-smi --query-gpu=name,driver_version,uuid,temperature.gpu,clocks.sm,clocks.mem,power.draw,power.limit,clocks_throttle_reasons.active --format=csv,noheader; }
{ date -u; cond; } >>"$LOG/study_conditions.txt"
"$BIN" sweep --models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b --batch 1,4,16,64,256 --prompt-len 128,2048 \
  --gen-len 128 --max-seconds "$MAX" -o "$DB" 2>&1 | tee -a "$LOG/study_sweep.log" | tail -40
rc=${PIPESTATUS[0]}
{ date -u; cond; echo "sweep exit $rc"; } >>"$LOG/study_conditions.txt"
xz -T0 -6 -c "$DB" >"$LOG/study.db.xz"
exit "$rc"

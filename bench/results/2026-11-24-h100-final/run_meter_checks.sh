#!/usr/bin/env bash
# Final GPU run: the meter checks, then the quickstart's GPU steps.
set -uo pipefail
B=.gpu/final; O=${OUT:-./out}
for d in /usr/local/cuda/lib64 /usr/local/nvidia/lib64; do [[ -d $d ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"; done
date -u; nvidia-smi --query-gpu=name,driver_version,temperature.gpu,clocks.sm,clocks.mem,power.draw,clocks_event_reasons.active --format=csv
timeout 330 bash scripts/gpu/meter_checks.sh $B $O/meter > $O/meter_checks.log 2>&1; echo "meter_checks rc=$?"
tail -n 40 $O/meter/summary.txt
cd $O && tar czf meter.tgz meter && rm -rf meter; cd - >/dev/null
{
echo "== devices"; $B/llamajoule devices
echo "== idle"; $B/llamajoule idle --seconds 10 -o $O/quickstart.db
echo "== meter generate 1B cuda b16 n512"
$B/llamajoule meter -o $O/quickstart.db -- $B/llamajoule generate --model llama-3.2-1b --prompt "The energy of a large language model goes to" --batch 16 -n 512 --ignore-eos > /dev/null
echo "rc=$?"
} > $O/quickstart_gpu.log 2>&1
cat $O/quickstart_gpu.log | tail -n 60
nvidia-smi --query-gpu=temperature.gpu,clocks.sm,clocks_event_reasons.active --format=csv

#!/usr/bin/env bash
# One batch of reference work on a machine with torch + transformers:
# the HF fixtures, and HF vs llamajoule on random-weight checkpoints the
# llamajoule binary writes (tiny, tiny-untied, llama-3.2-1b).
#   bash device_run.sh LLAMAJOULE_BIN OUT_DIR
set -u
BIN=$1
out_dir=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out_dir/machine.txt" 2>&1
nproc >> "$out_dir/machine.txt"; date -u >> "$out_dir/machine.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" >> "$out_dir/machine.txt" 2>&1
( time python3 "$HERE/make_fixtures.py" "$WORK/fixtures" ) > "$out_dir/fixtures.log" 2>&1
tar czf "$out_dir/fixtures.tgz" -C "$WORK" fixtures
PROMPT="128000 9906 11 856 836 374 445 81101 323 358 1093"
for m in tiny tiny-untied llama-3.2-1b; do
  {
    echo "== $m"
    "$BIN" generate --model "$m" --write-checkpoint "$WORK/ck-$m" --checkpoint-dtype bf16
    "$BIN" generate --model "$WORK/ck-$m" --prompt-ids "$PROMPT" -n 8 --ignore-eos --dump-logits "$WORK/ck-$m.bin"
    "$BIN" generate --model "$m" --prompt-ids "$PROMPT" -n 8 --ignore-eos --dump-logits "$WORK/preset-$m.bin"
    cmp "$WORK/ck-$m.bin" "$WORK/preset-$m.bin" && echo "preset and written checkpoint give identical logits"
    python3 "$HERE/check_checkpoint.py" "$WORK/ck-$m" "$WORK/ck-$m.bin" --prompt-ids "$PROMPT"
    echo "exit $?"
  } >> "$out_dir/check.log" 2>&1
done
rm -rf "$WORK"

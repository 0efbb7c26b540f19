#!/usr/bin/env bash
# Runs one check script of scripts/gpu/ from the bundle of scripts/gpu/bundle.sh on a GPU host, from
# the repository root: unpacks the binaries, sets the library path and the tokenizer, records the
# card's state before and after (name, uuid, driver, power limit, temperature, clocks, throttle
# reasons), and packs what the script wrote: each store compressed on its own (OUT_DIR/*.db.xz),
# everything else in OUT_DIR/results.tar.xz. Reads the GPU only: never changes its settings.
#   bash scripts/gpu/bundle_run.sh BUNDLE OUT_DIR SCRIPT [ARGS...]
# SCRIPT is a file of scripts/gpu/ run as: bash scripts/gpu/SCRIPT BIN_DIR OUT_DIR/run [ARGS...],
# or "exec" to run ARGS as a command with BIN_DIR on the PATH and $RUN_DIR set (DEADLINE: seconds
# it may take, default 580).
set -uo pipefail
bundle=${1:?usage: bundle_run.sh BUNDLE OUT_DIR SCRIPT [ARGS...]}
dest=${2:?usage: bundle_run.sh BUNDLE OUT_DIR SCRIPT [ARGS...]}
script=${3:?usage: bundle_run.sh BUNDLE OUT_DIR SCRIPT [ARGS...]}
shift 3
root=$(cd "$(dirname "$0")/../.." && pwd)
unpack=$(mktemp -d)
tar -C "$unpack" -xJf "$bundle" || exit 1
bin=$unpack/b
export PATH=$bin:$PATH LD_LIBRARY_PATH=$bin/lib:/usr/local/cuda/lib64:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}
export LLAMAJOULE_TOKENIZER=$bin/tokenizer.json LLAMAJOULE_SOURCE_DIR=$root NCCL_NVLS_ENABLE=0
export RUN_DIR=$dest/run
mkdir -p "$RUN_DIR"
state() {
  nvidia-smi --query-gpu=name,uuid,driver_version,memory.total,power.limit,temperature.gpu,clocks.sm,clocks.mem,clocks_throttle_reasons.active \
    --format=csv >"$RUN_DIR/$1.csv"
  date -u +"%Y-%m-%dT%H:%M:%SZ" >>"$RUN_DIR/$1.csv"
  cat "$RUN_DIR/$1.csv"
}
state device-start
cd "$root"
if [[ $script == exec ]]; then
  timeout "${DEADLINE:-580}" bash -c "$*"
else
  timeout "${DEADLINE:-580}" bash "scripts/gpu/$script" "$bin" "$RUN_DIR" "$@"
fi
echo "bundle_run: $script exit $?"
state device-end
find "$RUN_DIR" -name '*.db' -print0 | while IFS= read -r -d '' db; do xz -T4 -6 -c "$db" >"$dest/$(basename "$db").xz"; done
tar -C "$dest" -cJf "$dest/results.tar.xz" --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm' run && rm -rf "$RUN_DIR"
rm -rf "$unpack"
ls -la "$dest"

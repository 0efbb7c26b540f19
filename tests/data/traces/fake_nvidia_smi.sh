#!/bin/bash
# A stand-in for nvidia-smi in tests: two GPUs at 200 W and 300 W.
# FAKE_SMI_MODE=nodriver: fails like nvidia-smi without a driver.
# FAKE_SMI_MODE=legacy: rejects the newer field names like an old driver.
query="" loop_ms=""
for a in "$@"; do
  case "$a" in
    --query-gpu=*) query="${a#--query-gpu=}" ;;
    --loop-ms=*) loop_ms="${a#--loop-ms=}" ;;
  esac
done
if [ "$FAKE_SMI_MODE" = nodriver ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
  exit 9
fi
legacy=0
if [ "$FAKE_SMI_MODE" = legacy ]; then
  case "$query" in
    *power.draw.instant*) echo 'Field "power.draw.instant" is not a valid field to query.'; exit 2 ;;
  esac
  legacy=1
fi
lines() {
  local ts
  ts=$(date +'%Y/%m/%d %H:%M:%S.%3N')
  if [ $legacy = 1 ]; then
    echo "$ts, 0, GPU-aaaa1111-2222-3333-4444-555566667777, 00000000:18:00.0, 200.00, 700.00, 1980, 2619, 40, 0, 0, 0x0000000000000001"
    echo "$ts, 1, GPU-bbbb1111-2222-3333-4444-555566667777, 00000000:19:00.0, 300.00, 700.00, 1980, 2619, 45, 100, 50, 0x0000000000000000"
  else
    echo "$ts, 0, GPU-aaaa1111-2222-3333-4444-555566667777, 00000000:18:00.0, 199.00, 199.50, 200.00, 700.00, 1980, 2619, 40, 0, 0, 0x0000000000000001"
    echo "$ts, 1, GPU-bbbb1111-2222-3333-4444-555566667777, 00000000:19:00.0, 299.00, [N/A], 300.00, 700.00, 1980, 2619, 45, 100, 50, 0x0000000000000000"
  fi
}
if [ -z "$loop_ms" ]; then lines; exit 0; fi
sec=$(printf '0.%03d' "$loop_ms")
while true; do lines; sleep "$sec"; done

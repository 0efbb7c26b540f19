#!/usr/bin/env bash
# Without an NVIDIA driver, devices / idle / meter fail with exit 4 and one
# clear line, and meter never starts the program.
#   bash tests/cli/meter_no_gpu.sh path/to/llamajoule
set -u
bin=${1:?usage: meter_no_gpu.sh path/to/llamajoule}
if ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml.so.1'; then
  echo "skip: an NVIDIA driver is installed here (libnvidia-ml.so.1 found)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

check_no_driver() {  # name, then the command's arguments
  local name=$1; shift
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [[ $rc -eq 4 ]] || fail "$name: exit $rc, expected 4 (stderr: $(cat "$tmp/err"))"
  [[ $(wc -l <"$tmp/err") -eq 1 ]] || fail "$name: expected one line on stderr, got: $(cat "$tmp/err")"
  grep -q "^llamajoule: error: .*NVIDIA driver" "$tmp/err" || fail "$name: unclear message: $(cat "$tmp/err")"
  [[ ! -s "$tmp/out" ]] || fail "$name: wrote to stdout: $(cat "$tmp/out")"
  echo "ok: $name -> exit 4: $(cat "$tmp/err")"
}

check_no_driver "devices" devices
check_no_driver "devices --characterize" devices --characterize -o "$tmp/c.db"
check_no_driver "idle" idle --seconds 1 -o "$tmp/i.db"
check_no_driver "meter" meter -o "$tmp/m.db" -- touch "$tmp/ran"
[[ ! -e "$tmp/ran" ]] || fail "meter started the program although it cannot measure it"
echo "ok: the program was not started"

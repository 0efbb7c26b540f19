# Shared by the device check scripts (sourced, after LOG is set): the source tree, the log folder,
# the device line, PASS/FAIL verdicts counted in $fails, and RESULT-line fields.
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LLAMAJOULE_SOURCE_DIR=$SRC
mkdir -p "$LOG"
fails=0
verdict() {  # verdict OK(0/1) TEXT... (the words after OK joined by spaces)
  local ok=$1
  shift
  if [ "$ok" = 1 ]; then echo "PASS $*"; else echo "FAIL $*"; fails=$((fails + 1)); fi
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }  # field KEY < "RESULT ... KEY=value ..."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOG/device.txt"

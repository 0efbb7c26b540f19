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
sql_rows() {  # sql_rows DB QUERY: the query's rows, fields separated by spaces (python3's sqlite3)
  python3 -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print(*r)' "$1" "$2"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOG/device.txt"

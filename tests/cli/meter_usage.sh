#!/usr/bin/env bash
# meter's command line: help, usage errors (exit 2), a program that cannot be
# started (127 not found, 126 not executable), an unwritable -o (exit 1,
# the program not started). Uses a replayed trace: no GPU needed.
#   bash tests/cli/meter_usage.sh path/to/llamajoule
set -u
bin=${1:?usage: meter_usage.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLAMAJOULE_STORE="$tmp/default.db"
fail() { echo "FAIL: $*"; exit 1; }
# One GPU at a constant 150 W for 30 s.
awk 'BEGIN { print "#device,0,GPU-aaaaaaaa-0000-0000-0000-000000000000,00000000:01:00.0,400,Replayed GPU";
             print "t_ns,device,reading,value";
             for (i = 0; i <= 1500; i++) { t = sprintf("%.0f", 1e9 + i * 2e7);
               print t ",0,power_sample,150"; if (i % 5 == 0) print t ",0,energy," 150 * i * 0.02 } }' >"$tmp/trace.csv"
src="replay:$tmp/trace.csv"

expect() {  # expected exit code, description, then the arguments
  local want=$1 what=$2; shift 2
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [[ $rc -eq $want ]] || fail "$what: exit $rc, expected $want (stderr: $(cat "$tmp/err"))"
  echo "ok: $what -> $rc $(head -n1 "$tmp/err")"
}

expect 0 "meter --help" meter --help
grep -q "exit codes" "$tmp/out" || fail "meter --help does not document the exit codes"
expect 2 "no program" meter --source "$src"
expect 2 "unknown option" meter --frobnicate -- true
expect 2 "bad period" meter --period-ms 0 -- true
expect 2 "missing value" meter --idle
expect 2 "bad --idle" meter --source "$src" --idle -5 -- touch "$tmp/ran"
expect 2 "bad --source" meter --source bogus -- touch "$tmp/ran"
expect 127 "program not found" meter --source "$src" -- no-such-program-xyz
grep -q "no-such-program-xyz.*command not found" "$tmp/err" || fail "unclear not-found message: $(cat "$tmp/err")"
chmod -x "$tmp/trace.csv"
expect 126 "program not executable" meter --source "$src" -- "$tmp/trace.csv"
# An unwritable store: one line naming the path, and the program never runs.
expect 1 "unwritable -o" meter --source "$src" -o "$tmp/no/such/dir/run.db" -- touch "$tmp/ran"
grep -q "$tmp/no/such/dir/run.db" "$tmp/err" || fail "the error does not name the path: $(cat "$tmp/err")"
[[ $(wc -l <"$tmp/err") -eq 1 ]] || fail "expected one line: $(cat "$tmp/err")"
[[ ! -e "$tmp/ran" ]] || fail "the program ran although the store could not be opened"
# A store of another schema version: exit 3, both versions named.
expect 0 "a run" meter --source "$src" --idle none -o "$tmp/v.db" -- true
printf 'PRAGMA user_version=99;' >"$tmp/v99.sql"
if command -v sqlite3 >/dev/null; then
  sqlite3 "$tmp/v.db" <"$tmp/v99.sql"
  expect 3 "another schema version" meter --source "$src" -o "$tmp/v.db" -- true
  grep -q "schema version 99" "$tmp/err" || fail "version not named: $(cat "$tmp/err")"
fi
echo "all ok"

#!/usr/bin/env bash
# Makes the committed example store from a profile's store: the readings the report does not
# draw (1 s power average, memory power, utilisation, power limit, memory clock) are dropped,
# host paths in the command line and notes are cut to their file names, and the file is
# compacted and xz-compressed (a study's store too: every run is cut alike). Every table the report reads is kept whole.
#   bash scripts/example_store.sh IN.db OUT.db.xz
set -euo pipefail
src_db=$1 dest=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sqlite3 "$src_db" "VACUUM INTO '$tmp/s.db'"
sqlite3 "$tmp/s.db" <<'SQL'
DELETE FROM samples WHERE reading IN (SELECT id FROM readings
  WHERE name IN ('power_avg', 'power_memory', 'util_gpu', 'util_mem', 'power_limit', 'clock_mem'));
SQL
# Host paths in the command lines and the free-text notes: each cut to its last component, run
# by run (a study holds one run per point).
cut_paths() { sed -E 's#(/[^ ,;():]+/)+([^/ ,;():]+)#\2#g' | head -c -1; }
for id in $(sqlite3 "$tmp/s.db" "SELECT id FROM runs"); do
  sqlite3 "$tmp/s.db" "SELECT command_line FROM runs WHERE id = $id" | cut_paths > "$tmp/cmd"
  sqlite3 "$tmp/s.db" "SELECT notes FROM profile_plans WHERE run_id = $id" | cut_paths > "$tmp/notes"
  sqlite3 "$tmp/s.db" "UPDATE runs SET command_line = readfile('$tmp/cmd') WHERE id = $id;
    UPDATE profile_plans SET notes = readfile('$tmp/notes') WHERE run_id = $id;"
done
sqlite3 "$tmp/s.db" "VACUUM"
xz -9 -T1 -c "$tmp/s.db" > "$dest"
ls -l "$dest" >&2

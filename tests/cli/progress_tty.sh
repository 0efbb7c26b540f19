#!/usr/bin/env bash
# Progress lines on a terminal (script(1) gives one): the random-weight line
# never passes its total (it reached 103% on 1B, 262% on tiny, counting each
# slot's short last chunk as a whole one) and ends at 100%.
#   bash tests/cli/progress_tty.sh path/to/llamajoule
set -uo pipefail
bin=$(realpath "${1:?usage: progress_tty.sh path/to/llamajoule}")
command -v script >/dev/null || { echo "skip: script(1) (util-linux) not found"; exit 77; }
lines=$(script -qec "$bin generate --model tiny --prompt-ids 1 -n 1 --threads 1" /dev/null | tr '\r' '\n' |
  grep -ao 'random weights: [0-9]*/[0-9]* ([0-9]*%)')
[[ -n $lines ]] || { echo "FAIL: no progress line drawn on a terminal"; exit 1; }
fails=0
while read -r _ _ frac pct; do
  done=${frac%/*} total=${frac#*/}
  ((done <= total)) || { echo "FAIL: $frac $pct passes the total"; fails=$((fails + 1)); }
done <<<"$lines"
last=$(tail -n1 <<<"$lines")
[[ $last =~ ([0-9]+)/([0-9]+)\ \(100%\)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
  { echo "FAIL: last line '$last' is not total/total (100%)"; fails=$((fails + 1)); }
((fails == 0)) && echo "ok: $(wc -l <<<"$lines") progress lines, last: $last"
exit $((fails > 0))

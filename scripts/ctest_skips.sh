#!/usr/bin/env bash
# Prints "  NAME: REASON" for each test a ctest run skipped: the names from the
# run's output ("(Skipped)"), the reason from the last line the test printed
# (BUILD_DIR/Testing/Temporary/LastTest.log). Prints nothing when none skipped.
#   ctest --test-dir BUILD_DIR | tee OUT; bash scripts/ctest_skips.sh BUILD_DIR OUT
set -euo pipefail
build=${1:?usage: ctest_skips.sh BUILD_DIR CTEST_OUTPUT}
ctest_out=${2:?usage: ctest_skips.sh BUILD_DIR CTEST_OUTPUT}
for name in $(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (Skipped)$/\1/p' "$ctest_out"); do
  reason=$(awk -v name="$name" '
    $0 ~ "^[0-9]+/[0-9]+ Testing: " name "$" { inside = 1; next }
    inside && /^<end of output>$/ { exit }
    inside && NF && !/^(Output:|-+)$/ && !/^(Command|Directory):/ && !/start time:/ && !/Test: / { last = $0 }
    END { print last }' "$build/Testing/Temporary/LastTest.log")
  echo "  $name: ${reason:-(no reason printed)}"
done

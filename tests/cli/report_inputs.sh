#!/usr/bin/env bash
# llamajoule report and compare on real stores of the CPU engine (timing only)
# and on bad input: a missing file, not SQLite, an empty file, an SQLite file
# of another program, a store of another schema version, a run id that is not
# there, a run that is not a profile. Each gives one line and exit code 3 (1
# for a missing file), and no file is changed (checksums before and after).
# The exports parse (jq) and the CSV neutralises a formula in a model name.
#   bash tests/cli/report_inputs.sh path/to/llamajoule
set -u
bin=${1:?usage: report_inputs.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expected exit code, description, then the arguments
  local want=$1 what=$2; shift 2
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [[ $rc -eq $want ]] || fail "$what: exit $rc, expected $want (stderr: $(cat "$tmp/err"))"
  [[ $want -eq 0 || $(grep -c 'error:' "$tmp/err") -eq 1 ]] || fail "$what: not one error line: $(cat "$tmp/err")"
  echo "ok: $what -> $rc $(head -n1 "$tmp/err")"
}

"$bin" profile --engine cpu --model tiny --repeats 2 --gen-len 4 --prompt-len 8 --phase-seconds 0.05 \
  --no-timeline -o "$tmp/a.db" >/dev/null 2>&1 || fail "profile --engine cpu"
"$bin" profile --engine cpu --model tiny --batch 2 --repeats 2 --gen-len 4 --prompt-len 16 --phase-seconds 0.05 \
  --no-timeline -o "$tmp/b.db" >/dev/null 2>&1 || fail "profile --engine cpu (batch 2)"
cp "$tmp/a.db" "$tmp/a-before.db"

expect 0 "report (html)" report "$tmp/a.db"
[[ -s $tmp/a.html ]] || fail "report wrote no a.html beside the store"
grep -q 'Content-Security-Policy' "$tmp/a.html" || fail "the page has no CSP"
expect 0 "report --format json" report "$tmp/a.db" --format json -o "$tmp/a.json"
jq -e '.plan.engine == "cpu"' "$tmp/a.json" >/dev/null || fail "the JSON does not parse or lacks plan.engine"
expect 0 "report --format perfetto" report "$tmp/a.db" --format perfetto -o "$tmp/a.trace.json"
jq -e '.traceEvents | length > 3' "$tmp/a.trace.json" >/dev/null || fail "the trace does not parse"
expect 0 "report --format text" report "$tmp/a.db" --format text -o -
grep -q 'TIMING ONLY' "$tmp/out" || fail "the text summary lacks the timing-only line"
expect 0 "compare" compare "$tmp/a.db" "$tmp/b.db:1" -o "$tmp/compare.html"
grep -q 'LJ_PAGE = "compare"' "$tmp/compare.html" || fail "compare wrote no compare page"
cmp -s "$tmp/a.db" "$tmp/a-before.db" || fail "rendering changed the store"

# A store written when the prefill "context" method existed: its rows (a stage estimate, trials
# with stage 'none', a closure) are skipped, and the notes say so; report and compare still open it.
cp "$tmp/a.db" "$tmp/legacy.db"
sqlite3 "$tmp/legacy.db" "UPDATE profile_plans SET context = 1;
  INSERT INTO stage_estimates(run_id, phase, stage, layer, kv_len, method, copies, n_trials, dynamic_j, gross_n,
    dynamic_n, sample_gross_n, sample_dynamic_n, time_per_call_n, window_flags, flops, weight_bytes, act_read_bytes,
    act_write_bytes, kv_read_bytes, kv_write_bytes, bytes)
    VALUES (1, 'prefill', 'qkv', -1, 0, 'context', 4, 3, 0.021, 3, 3, 0, 0, 3, 0, 1, 1, 1, 1, 0, 0, 3);
  INSERT INTO replay_trials(run_id, phase, stage, layer, kv_len, kv_groups, trial, method, copies, units, counter_j,
    calls, start_offset_ns, window_flags) VALUES (1, 'prefill', 'none', -1, 0, 0, 0, 'context', 0, 10, 200.0, 10, 0, 0);
  INSERT INTO closures(run_id, phase, method, n_terms, error_dynamic_pct) VALUES (1, 'prefill', 'context', 13, -21.8);"
expect 0 "report of a store with the removed context method's rows" report "$tmp/legacy.db" --format json -o "$tmp/legacy.json"
jq -e '[.stages[] | select(.method == "context")] | length == 0' "$tmp/legacy.json" >/dev/null || fail "context rows shown"
jq -e '.notes | test("1 stage estimates, 1 replay trials and 1 closures of the prefill .context. method")' \
  "$tmp/legacy.json" >/dev/null || fail "the notes do not say the context rows were skipped: $(jq .notes "$tmp/legacy.json")"
expect 0 "compare with that store" compare "$tmp/legacy.db" "$tmp/b.db" -o "$tmp/legacy-compare.html"

# A hostile model name: the CSV quotes it and neutralises the formula.
cp "$tmp/a.db" "$tmp/evil.db"
sqlite3 "$tmp/evil.db" "UPDATE profile_plans SET model_name = '=HYPERLINK(\"x\",\"</script>,\"\"q\")'"
expect 0 "report --format csv (hostile name)" report "$tmp/evil.db" --format csv -o "$tmp/evil.csv"
grep -q "model \"'=HYPERLINK(\"\"x\"\"" "$tmp/evil.csv" || fail "the CSV does not neutralise the formula: $(head -1 "$tmp/evil.csv")"
expect 0 "report (hostile name)" report "$tmp/evil.db" -o "$tmp/evil.html"
grep -q '</script>,' "$tmp/evil.html" && fail "the page holds the name unescaped"

# Bad input: one line, the documented exit code, the file untouched.
: >"$tmp/empty.db"
echo "not a database" >"$tmp/text.db"
sqlite3 "$tmp/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1)"
cp "$tmp/a.db" "$tmp/v99.db" && sqlite3 "$tmp/v99.db" "PRAGMA user_version = 99"
cp "$tmp/a.db" "$tmp/v1.db" && sqlite3 "$tmp/v1.db" "PRAGMA user_version = 1"
for f in empty text other v99 v1 a; do sha256sum "$tmp/$f.db"; done >"$tmp/sums"
expect 1 "a missing file" report "$tmp/missing.db"
expect 3 "an empty file" report "$tmp/empty.db"
expect 3 "not SQLite" report "$tmp/text.db"
# SQLite's error, its code, and the source location only with LLAMAJOULE_DEBUG (docs/cli.md).
grep -q "file is not a database (SQLite error 26)$" "$tmp/err" || fail "SQLite's error as shown: $(cat "$tmp/err")"
LLAMAJOULE_DEBUG=1 "$bin" report "$tmp/text.db" 2>&1 | grep -q 'SQLite error 26) \[src/store/' \
  || fail "LLAMAJOULE_DEBUG=1 does not add the source location"
expect 3 "SQLite of another program" report "$tmp/other.db"
expect 3 "schema version 99" report "$tmp/v99.db"
grep -q '99' "$tmp/err" || fail "the error does not name the version"
expect 3 "schema version 1 (no profiles)" report "$tmp/v1.db"
expect 3 "a run that is not there" report "$tmp/a.db" --run 42
grep -q 'no run 42' "$tmp/err" || fail "the error does not name the run"
expect 3 "compare with a bad store" compare "$tmp/a.db" "$tmp/text.db" -o "$tmp/c2.html"
[[ -e $tmp/c2.html ]] && fail "compare wrote a page after an error"
expect 2 "report without a store" report
expect 2 "report --format pdf" report "$tmp/a.db" --format pdf
expect 2 "report --run 0" report "$tmp/a.db" --run 0
# FILE.db:N: a bad run number is a usage error naming it, never a missing file "a.db:0";
# a file whose own name ends in ":1" is still taken whole.
expect 2 "compare a.db:0" compare "$tmp/a.db:0" "$tmp/b.db" -o "$tmp/c3.html"
grep -q "a.db:0': no run 0: runs count from 1" "$tmp/err" || fail "a.db:0: $(cat "$tmp/err")"
expect 2 "compare a.db:x" compare "$tmp/a.db:x" -o "$tmp/c3.html"
grep -q "'x' is not a run number (FILE.db:N, runs count from 1)" "$tmp/err" || fail "a.db:x: $(cat "$tmp/err")"
[[ -e $tmp/c3.html ]] && fail "compare wrote a page after a usage error"
cp "$tmp/b.db" "$tmp/b.db:1"
expect 0 "compare of a file named b.db:1" compare "$tmp/b.db:1" "$tmp/a.db:1" -o "$tmp/c4.html"
rm "$tmp/b.db:1"
# One run or store named twice, by any spelling, would count twice on the page and in its fits.
ln -s "$tmp/a.db" "$tmp/a-link.db"
expect 2 "compare a store and a link to it" compare "$tmp/a.db" "$tmp/a-link.db" -o "$tmp/c5.html"
grep -q "are the same store" "$tmp/err" || fail "a store twice: $(cat "$tmp/err")"
expect 2 "compare one run twice" compare "$tmp/b.db" "$tmp/a.db:1" "$tmp/./a.db:1" -o "$tmp/c5.html"
grep -q "are the same run; name each once" "$tmp/err" || fail "a run twice: $(cat "$tmp/err")"
[[ -e $tmp/c5.html ]] && fail "compare wrote a page for a run named twice"
expect 0 "compare a store's newest run and its run 1" compare "$tmp/a.db" "$tmp/a.db:1" -o "$tmp/c5.html"
rm -f "$tmp/a-link.db" "$tmp/c5.html"
sha256sum -c --quiet "$tmp/sums" || fail "a bad input file was changed"
[[ -e $tmp/missing.db ]] && fail "report created the missing file"
echo "all report input checks passed"

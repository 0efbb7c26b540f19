#!/usr/bin/env bash
# meter end to end on a replayed trace (no GPU): the summary's numbers against
# the analytic answer, exit-code pass-through, the idle baseline from `idle`
# reused by `meter --idle auto`, and Ctrl-C (SIGINT to meter: forwarded,
# exit 130, run kept as incomplete).
#   bash tests/cli/meter_replay.sh path/to/llamajoule
set -u
bin=${1:?usage: meter_replay.sh path/to/llamajoule}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLAMAJOULE_STORE="$tmp/default.db"
fail() { echo "FAIL: $*"; exit 1; }
# One GPU: 300 W for 60 s; counter every 100 ms, driver samples every 20 ms.
awk 'BEGIN { print "#device,0,GPU-bbbbbbbb-0000-0000-0000-000000000000,00000000:02:00.0,700,Replayed GPU";
             print "t_ns,device,reading,value";
             for (i = 0; i <= 3000; i++) { t = sprintf("%.0f", 1e9 + i * 2e7);
               print t ",0,power_sample,300";
               if (i % 5 == 0) { print t ",0,energy," 100 + 300 * i * 0.02; print t ",0,temperature,45" } } }' >"$tmp/trace.csv"
src="replay:$tmp/trace.csv"

# 1. exit code pass-through and the summary: counter J = buffer J = 300 W x time.
"$bin" meter --source "$src" --idle 100 -o "$tmp/run.db" -- sh -c 'sleep 1; exit 5' >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/err"
[[ $rc -eq 5 ]] || fail "exit $rc, expected the program's 5"
row=$(grep -E '^0 +Replayed GPU' "$tmp/err") || fail "no GPU row in the summary"
read -r _ _ _ counter buffer diff mean peak secs above idle <<<"$row"
awk -v c="$counter" -v b="$buffer" -v m="$mean" -v s="$secs" -v a="$above" -v i="$idle" 'BEGIN {
  want = 300 * s; ok = (c > 0.99 * want && c < 1.01 * want && b > 0.99 * want && b < 1.01 * want &&
                        m > 297 && m < 303 && i == 100 && a > 0.99 * (want - 100 * s) && a < 1.01 * (want - 100 * s));
  exit !ok }' || fail "numbers off: counter $counter J, buffer $buffer J, mean $mean W over $secs s, above idle $above J"
grep -q "idle GPU 0: given (--idle 100)" "$tmp/err" || fail "idle origin not printed"
grep -q "sampler: .* of one core" "$tmp/err" || fail "sampler CPU cost not printed"
grep -q "stored: $tmp/run.db, run 1 (complete)" "$tmp/err" || fail "store line missing"
echo "ok: exit 5 passed through; counter $counter J, buffer $buffer J over $secs s"

# 2. idle stores a baseline that meter --idle auto finds (by GPU UUID).
"$bin" idle --source "$src" --seconds 1 >"$tmp/idle.out" 2>&1 || fail "idle failed: $(cat "$tmp/idle.out")"
grep -q "idle power" "$tmp/idle.out" || fail "idle printed no power: $(cat "$tmp/idle.out")"
"$bin" meter --source "$src" -- true >"$tmp/out" 2>"$tmp/err" || fail "meter failed: $(cat "$tmp/err")"
grep -q "idle GPU 0: $LLAMAJOULE_STORE, run 1" "$tmp/err" || fail "baseline not reused: $(cat "$tmp/err")"
echo "ok: the idle baseline was found in the default store"

# 3. SIGINT to meter: forwarded to the program, exit 130, run incomplete.
set -m  # background jobs must not start with SIGINT ignored
"$bin" meter --source "$src" --idle none -o "$tmp/int.db" -- sleep 30 >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1.5
kill -INT "$pid"
start=$SECONDS
wait "$pid"
rc=$?
set +m
[[ $rc -eq 130 ]] || fail "exit $rc after SIGINT, expected 130 ($(cat "$tmp/err"))"
(( SECONDS - start < 5 )) || fail "the program did not stop on the forwarded SIGINT"
grep -q "interrupted (signal 2 forwarded)" "$tmp/err" || fail "summary does not say interrupted: $(cat "$tmp/err")"
grep -q "stored: $tmp/int.db, run 1 (incomplete)" "$tmp/err" || fail "run not stored as incomplete: $(cat "$tmp/err")"
echo "ok: SIGINT -> 130, run incomplete"

# 4. The stored run replays (re-analysis without a GPU).
"$bin" meter --source "replay:$tmp/run.db" --idle none -- true >"$tmp/out" 2>"$tmp/err" || fail "replaying the store failed: $(cat "$tmp/err")"
grep -qE '^0 +Replayed GPU' "$tmp/err" || fail "no GPU row when replaying the store"
echo "ok: a stored run replays"

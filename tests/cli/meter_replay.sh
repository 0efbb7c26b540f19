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
"$bin" meter --source "$src" --idle none -o "$tmp/int.db" -- sh -c "touch '$tmp/started'; exec sleep 30" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 200); do [[ -e "$tmp/started" ]] && break; sleep 0.1; done
[[ -e "$tmp/started" ]] || fail "the program did not start within 20 s"
sleep 1
kill -INT "$pid"
start=$SECONDS
wait "$pid"
rc=$?
[[ $rc -eq 130 ]] || fail "exit $rc after SIGINT, expected 130 ($(cat "$tmp/err"))"
(( SECONDS - start < 5 )) || fail "the program did not stop on the forwarded SIGINT"
grep -q "interrupted (signal 2 forwarded)" "$tmp/err" || fail "summary does not say interrupted: $(cat "$tmp/err")"
grep -q "stored: $tmp/int.db, run 1 (incomplete)" "$tmp/err" || fail "run not stored as incomplete: $(cat "$tmp/err")"
echo "ok: SIGINT -> 130, run incomplete"

# 3b. SIGINT while meter is still starting: still 130, never a crash or a hang.
"$bin" meter --source "$src" --idle none -o "$tmp/early.db" -- sleep 30 >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.3
kill -INT "$pid"
start=$SECONDS
wait "$pid"
rc=$?
[[ $rc -eq 130 ]] || fail "exit $rc after an early SIGINT, expected 130 ($(cat "$tmp/err"))"
(( SECONDS - start < 5 )) || fail "an early SIGINT did not end meter promptly"
# (before main() the default action ends it, also with status 130; later meter says so itself)
echo "ok: early SIGINT -> 130: $(grep -m1 -E 'interrupted' "$tmp/err" || echo 'ended before its handlers were set')"

set +m

# 4. The stored run replays (re-analysis without a GPU).
"$bin" meter --source "replay:$tmp/run.db" --idle none -- true >"$tmp/out" 2>"$tmp/err" || fail "replaying the store failed: $(cat "$tmp/err")"
grep -qE '^0 +Replayed GPU' "$tmp/err" || fail "no GPU row when replaying the store"
echo "ok: a stored run replays"

# 5. Two GPUs whose samples and counter reads fall at different times (300 W and 100 W): a row
#    per GPU, each read on its own threads, and the sum in the 'all' row; 1% tolerance as in 1.
awk 'BEGIN { print "#device,0,GPU-bbbbbbbb-0000-0000-0000-000000000000,00000000:02:00.0,700,Replayed GPU";
             print "#device,1,GPU-cccccccc-0000-0000-0000-000000000000,00000000:03:00.0,700,Second GPU";
             print "t_ns,device,reading,value";
             for (i = 0; i <= 3000; i++) { t = 1e9 + i * 2e7; u = t + 7e6;
               print sprintf("%.0f", t) ",0,power_sample,300";
               print sprintf("%.0f", u) ",1,power_sample,100";
               if (i % 5 == 0) { print sprintf("%.0f", t) ",0,energy," 100 + 300 * i * 0.02;
                                 print sprintf("%.0f", t + 5e7) ",1,energy," 900 + 100 * (i * 0.02 + 0.05) } } }' >"$tmp/two.csv"
"$bin" meter --source "replay:$tmp/two.csv" --idle none -o "$tmp/two.db" -- sleep 1 >"$tmp/out" 2>"$tmp/err" || fail "two GPUs: meter failed: $(cat "$tmp/err")"
r0=$(grep -E '^0 +Replayed GPU' "$tmp/err") || fail "two GPUs: no row for GPU 0: $(cat "$tmp/err")"
r1=$(grep -E '^1 +Second GPU' "$tmp/err") || fail "two GPUs: no row for GPU 1: $(cat "$tmp/err")"
ra=$(grep -E '^all ' "$tmp/err") || fail "two GPUs: no 'all' row: $(cat "$tmp/err")"
read -r _ _ _ c0 b0 _ _ _ s0 _ <<<"$r0"
read -r _ _ _ c1 b1 _ _ _ s1 _ <<<"$r1"
read -r _ ca ba _ <<<"$ra"
awk -v c0="$c0" -v c1="$c1" -v ca="$ca" -v b0="$b0" -v b1="$b1" -v ba="$ba" -v s="$s0" 'BEGIN {
  w0 = 300 * s; w1 = 100 * s;
  ok = c0 > 0.99 * w0 && c0 < 1.01 * w0 && c1 > 0.99 * w1 && c1 < 1.01 * w1 && b1 > 0.99 * w1 && b1 < 1.01 * w1 &&
       (ca - c0 - c1) ^ 2 < 0.04 && (ba - b0 - b1) ^ 2 < 0.04;
  exit !ok }' || fail "two GPUs: counter $c0 + $c1 = $ca J, buffer $b0 + $b1 = $ba J over $s0 s (want 300 and 100 W)"
echo "ok: two GPUs: $c0 J + $c1 J = $ca J over $s0 s"

# 6. idle measures both GPUs at once, each its own baseline (300 W and 100 W, 1% tolerance): the
#    two baselines end together (stored end times under 1 s apart; one after the other they
#    would be the 2 s of a measurement apart).
"$bin" idle --source "replay:$tmp/two.csv" --seconds 2 -o "$tmp/idle2.db" >"$tmp/idle2.out" 2>&1 || fail "idle of two GPUs failed: $(cat "$tmp/idle2.out")"
w0=$(awk '/^GPU 0/ { g = 1 } g && /idle power/ { print $3; exit }' "$tmp/idle2.out")
w1=$(awk '/^GPU 1/ { g = 1 } g && /idle power/ { print $3; exit }' "$tmp/idle2.out")
apart=$(python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
a, b = c.execute('select min(measured_wall_ns), max(measured_wall_ns) from idle_baselines').fetchone(); \
print((b - a) / 1e9)" "$tmp/idle2.db") || fail "idle of two GPUs: no baselines in the store"
awk -v a="$w0" -v b="$w1" -v t="$apart" 'BEGIN { exit !(a > 297 && a < 303 && b > 99 && b < 101 && t < 1) }' ||
  fail "idle of two GPUs: $w0 W and $w1 W, ends $apart s apart (want 300 W and 100 W, ends under 1 s apart): $(cat "$tmp/idle2.out")"
echo "ok: idle of two GPUs at once: $w0 W and $w1 W, their ends $apart s apart"

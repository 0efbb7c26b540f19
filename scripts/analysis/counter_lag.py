#!/usr/bin/env python3
"""How old is the energy counter's reading, against the driver's power samples?

The replay trials' pre-roll (docs/attribution.md §1) is one counter update period of the same
work, 0.1 s plus a random 0-100 ms. That is enough for the counter only where a read returns an
update at most one period old whose increment covers the power up to the update's own time: then
the counter read at t counts the energy up to t - s, s uniform over one period (mean 50 ms).
If an update reported power sensed d earlier, the read would count up to t - s - d, and a
one-period pre-roll would let the work before it leak into the window.

This fits that lag from a store: over every pair of consecutive counter reads of the run (the
windows' begin and end reads), the counter's increment against the integral of the driver's
power samples over the same pair of times shifted back by L, for L on a 5 ms grid; the L with
the least squared error is the lag. Staleness alone gives L = 50 ms (half a period); the delay d
beyond it is L - 50 ms. Samples and counter share the sensor's own smoothing, so d is the
counter's delay against the samples, not against the work.

Standard library only. Usage: counter_lag.py STORE.db [RUN]  (default: the store's newest run).
Prints the fit, one line per lag, and a verdict line:
  lag L ms: delay d ms beyond a half period; the one-period pre-roll holds|does not hold
(holds where d <= 20 ms, the leak then at most d x the step in power of a window's first 20 ms).
Exit 0 with a verdict, 1 when the store has too few counter reads or samples to fit (< 20 pairs).
"""
import bisect
import math
import sqlite3
import sys

PERIOD_MS = 100     # the counter's update period (H100, H200: ~100 ms)
DELAY_OK_MS = 20    # a delay the pre-roll's random part and the samples' own smoothing absorb


def reading_id(db, name):
    row = db.execute("SELECT id FROM readings WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def series(db, run, reading):
    return db.execute("SELECT t_ns, value FROM samples WHERE run_id = ? AND reading = ? ORDER BY t_ns",
                      (run, reading)).fetchall()


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[0])
        print("usage: counter_lag.py STORE.db [RUN]")
        return 2
    db = sqlite3.connect("file:%s?mode=ro" % argv[1], uri=True)
    run = int(argv[2]) if len(argv) > 2 else db.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    energy, power = reading_id(db, "energy"), reading_id(db, "power_sample")
    if run is None or energy is None or power is None:
        print("%s: no run with energy readings and power samples" % argv[1])
        return 1
    counter, samples = series(db, run, energy), series(db, run, power)
    if len(samples) < 2:
        print("%s run %d: no driver power samples" % (argv[1], run))
        return 1
    ts = [t * 1e-9 for t, _ in samples]
    cum = [0.0]
    for i in range(1, len(samples)):  # the samples' integral, linear between samples
        cum.append(cum[-1] + 0.5 * (samples[i][1] + samples[i - 1][1]) * (ts[i] - ts[i - 1]))

    def integral(t):
        if t <= ts[0]:
            return 0.0
        if t >= ts[-1]:
            return cum[-1]
        j = bisect.bisect_right(ts, t) - 1
        return cum[j] + (t - ts[j]) / (ts[j + 1] - ts[j]) * (cum[j + 1] - cum[j])

    te = [t * 1e-9 for t, _ in counter]
    # pairs well inside the samples (a shifted end must not run off them), 50 ms to 5 s apart
    pairs = [(te[i], te[i + 1], counter[i + 1][1] - counter[i][1]) for i in range(len(counter) - 1)
             if ts[0] + 1 < te[i] and te[i + 1] < ts[-1] - 1 and 0.05 < te[i + 1] - te[i] < 5]
    if len(pairs) < 20:
        print("%s run %d: %d pairs of counter reads, too few to fit" % (argv[1], run, len(pairs)))
        return 1
    fit = []
    for lag_ms in range(-100, 305, 5):
        lag = lag_ms * 1e-3
        res = [de - (integral(b - lag) - integral(a - lag)) for a, b, de in pairs]
        fit.append((math.sqrt(sum(r * r for r in res) / len(res)), lag_ms, sum(res) / len(res)))
    print("%s run %d: %d pairs of counter reads, %d power samples" % (argv[1], run, len(pairs), len(samples)))
    for rms, lag_ms, mean in fit:
        print("  lag %4d ms  rms %8.3f J  mean %+8.3f J" % (lag_ms, rms, mean))
    best = min(fit)[1]
    delay = best - PERIOD_MS // 2
    holds = delay <= DELAY_OK_MS
    print("lag %d ms: delay %d ms beyond a half period; the one-period pre-roll %s"
          % (best, delay, "holds" if holds else "does not hold"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

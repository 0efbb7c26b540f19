#!/usr/bin/env python3
"""First step where two `generate --dump-logits` files (docs/model.md) sample different tokens, and
whether the reference's top two logits were a near tie there (closer than GAP): greedy runs of the
same weights by two paths may part only at a near tie. Prints one line starting with
`equal`, `near_tie` or `differ`; exits 0 (the caller judges)."""
import struct
import sys


def steps(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:8] != b"LJLOGIT1":
            raise SystemExit(f"differ {path}: not a logits dump (magic {head[:8]!r})")
        vocab = struct.unpack("<I", head[12:16])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            step, seq, token, _ = struct.unpack("<4i", rec)
            yield step, seq, token, struct.unpack(f"<{vocab}f", f.read(4 * vocab))


def main():
    ref, other, gap = sys.argv[1], sys.argv[2], float(sys.argv[3])
    n = 0
    for (s, q, t, logits), (_, _, u, _) in zip(steps(ref), steps(other)):
        if t != u:
            top = sorted(logits, reverse=True)[:2]
            kind = "near_tie" if top[0] - top[1] < gap else "differ"
            print(f"{kind} at step {s} (sequence {q}): tokens {t} / {u}, reference's top two logits "
                  f"{top[0]:.4f} and {top[1]:.4f} ({top[0] - top[1]:.4f} apart; near tie under {gap}); "
                  f"{n} steps equal before")
            return
        n += 1
    print(f"equal: {n} steps")


main()

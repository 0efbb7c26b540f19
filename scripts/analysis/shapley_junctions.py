#!/usr/bin/env python3
"""Which model of the layer's stage interactions do a profile's rounds support?

Reads a `llamajoule profile --json` file and, per phase, fits candidate models of the energy
(and time) per layer call of every duty-1 window of the Shapley rounds: the sequence prefixes,
the whole layer, the nine leave-one-out replays and the two other orders
(docs/attribution.md §2d). Each window is a CUDA graph of back-to-back calls, call i on layer
i mod n_layers, so its stages run as a cycle: the last stage of one call is followed by the first
of the next (the wrap), and a window of m stages has m junctions per call.

Models (v = energy per call of the stages S in the window's cyclic order):
  additive   v = sum a_i            (also: one J at every junction, which a cycle absorbs into a_i)
  open-chain v = sum a_i + (m - 1) J (J per junction, no wrap: the model docs/attribution.md §2d used)
  pairwise   v = sum a_i + sum_{i<j in S} b_ij   (order-free; what shapley.c assumes)
  gemm-gemm  additive + J_GG per junction of a GEMM straight into a GEMM
  kinds      additive + one J per ordered pair of kinds (norm, GEMM, elementwise, attention)
For each: the lack of fit (rms and the largest |residual| + its 95% half-width), as the residual of the round means (projected round by round, so its
standard error is the rounds' own spread), in % of the whole layer. Then each model's singleton
value against isolation (a lone stage at duty 0.5: bursts of itself, idle gaps), and the Shapley
values the model's game gives (exact, over all 512 coalitions in the run's cyclic order).
Standard library only. Usage: shapley_junctions.py PROFILE.json [...]
"""
import itertools
import json
import math
import sys

RUN = ["attn_norm", "qkv", "rope", "attn", "o_proj", "ffn_norm", "gate_up", "swiglu", "down"]
ORDERS = {1: ["down", "swiglu", "gate_up", "ffn_norm", "o_proj", "attn", "rope", "qkv", "attn_norm"],
          2: ["attn_norm", "ffn_norm", "qkv", "gate_up", "rope", "swiglu", "attn", "down", "o_proj"]}
KIND = {"attn_norm": "N", "ffn_norm": "N", "qkv": "G", "o_proj": "G", "gate_up": "G", "down": "G",
        "rope": "E", "swiglu": "E", "attn": "A"}
N = len(RUN)
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131}


def per_call(t, what):
    c, d = t["calls"], t["duration_s"]
    if what == "time":
        return d / c
    e = t.get("sample_energy_j")
    if e is None or not math.isfinite(e):
        return float("nan")
    return (e - t["idle_w"] * d) / c


def windows(d, phase, what):
    """{name: (cyclic stage list, {round: value})} of the duty-1 windows; isolation {stage: [values]}."""
    kv = None
    w, iso = {}, {}
    for t in d["trials"]:
        if t["phase"] != phase:
            continue
        m, st, r = t["method"], t["stage"], t["trial"]
        if m == "loo":
            kv = t["kv_len"]
            seq = RUN[:] if st == "none" else [s for s in RUN if s != st]
            name = "layer" if st == "none" else "without " + st
        elif m == "order":
            seq, name = ORDERS[t["variant"]], ("reversed" if t["variant"] == 1 else "interleaved")
        elif m == "sequence":
            k = RUN.index(st)
            seq, name = RUN[:k + 1], "prefix .." + st
        else:
            continue
        # the whole layer is measured several times a round (its repeats, variants 0 ..): their mean
        w.setdefault(name, (seq, {}, {}))
        _, by_round, count = w[name]
        n = count[r] = count.get(r, 0) + 1
        x = per_call(t, what)
        by_round[r] = x if n == 1 else by_round[r] + (x - by_round[r]) / n
    by_kv = {}
    for t in d["trials"]:
        if t["phase"] == phase and t["method"] == "isolation" and t["stage"] in RUN:
            by_kv.setdefault(t["stage"], {}).setdefault(t["kv_len"], []).append(per_call(t, what))
    for s, m in by_kv.items():  # decode: attention at the rounds' KV length, the rest at any (they do not read the cache)
        iso[s] = m.get(kv, next(iter(m.values())))
    return w, iso


def junctions(seq):
    return [(seq[k], seq[(k + 1) % len(seq)]) for k in range(len(seq))]


PAIRS = list(itertools.combinations(range(N), 2))
KPAIRS = [(a, b) for a in "NGEA" for b in "NGEA"]


def row(model, seq):
    x = [1.0 if s in seq else 0.0 for s in RUN]
    if model == "pairwise":
        x += [1.0 if RUN[i] in seq and RUN[j] in seq else 0.0 for i, j in PAIRS]
    elif model == "open-chain":  # no wrap: m - 1 junctions of J each, i.e. additive less one J per window
        x += [-1.0]
    elif model == "gemm-gemm":
        x += [float(sum(1 for a, b in junctions(seq) if KIND[a] == "G" and KIND[b] == "G"))]
    elif model == "kinds":
        js = [(KIND[a], KIND[b]) for a, b in junctions(seq)]
        x += [float(js.count(p)) for p in KPAIRS]
    return x


def basis(rows):
    """Orthonormal basis of the span of rows (modified Gram-Schmidt, tolerance 1e-9)."""
    q = []
    for r in rows:
        v = r[:]
        for b in q:
            p = sum(x * y for x, y in zip(v, b))
            v = [x - p * y for x, y in zip(v, b)]
        nv = math.sqrt(sum(x * x for x in v))
        if nv > 1e-9:
            q.append([x / nv for x in v])
    return q


def project(q, y):
    out = [0.0] * len(y)
    for b in q:
        p = sum(x * z for x, z in zip(y, b))
        out = [o + p * z for o, z in zip(out, b)]
    return out


def lstsq(X, y):
    """Minimum-norm least squares via the normal equations on the row space (small problems)."""
    cols = len(X[0])
    qc = basis([list(c) for c in zip(*X)])  # basis of the column space of X (in observation space)
    yhat = project(qc, y)
    # solve X beta = yhat in the row space: beta = X^T z, X X^T z = yhat
    n = len(X)
    A = [[sum(X[i][k] * X[j][k] for k in range(cols)) for j in range(n)] for i in range(n)]
    z = solve_psd(A, yhat)
    beta = [sum(X[i][k] * z[i] for i in range(n)) for k in range(cols)]
    return beta, yhat


def solve_psd(A, b):
    n = len(A)
    M = [A[i][:] + [b[i]] for i in range(n)]
    piv = []
    r = 0
    for c in range(n):
        p = max(range(r, n), key=lambda i: abs(M[i][c]), default=None)
        if p is None or abs(M[p][c]) < 1e-9 * max(1.0, max(abs(M[i][i]) for i in range(n))):
            continue
        M[r], M[p] = M[p], M[r]
        for i in range(n):
            if i != r and M[i][c] != 0:
                f = M[i][c] / M[r][c]
                M[i] = [x - f * y for x, y in zip(M[i], M[r])]
        piv.append(c)
        r += 1
    x = [0.0] * n
    for i, c in enumerate(piv):
        x[c] = M[i][n] / M[i][c]
    return x


def mean_se(v):
    v = [x for x in v if math.isfinite(x)]
    n = len(v)
    m = sum(v) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else float("nan")
    return m, sd / math.sqrt(n), n


def coalition_value(model, beta, S):
    seq = [s for s in RUN if s in S]
    if not seq:
        return 0.0
    return sum(x * b for x, b in zip(row(model, seq), beta))


def shapley(model, beta):
    fact = [math.factorial(k) for k in range(N + 1)]
    v = {}
    for mask in range(1 << N):
        v[mask] = coalition_value(model, beta, {RUN[i] for i in range(N) if mask >> i & 1})
    phi = [0.0] * N
    for i in range(N):
        for mask in range(1 << N):
            if mask >> i & 1:
                continue
            k = bin(mask).count("1")
            phi[i] += fact[k] * fact[N - k - 1] / fact[N] * (v[mask | 1 << i] - v[mask])
    return phi


def identifiable(model, Xrows):
    """1 when every coalition's value lies in the row space of the observed windows."""
    qr = basis(Xrows)
    for mask in range(1, 1 << N):
        seq = [RUN[i] for i in range(N) if mask >> i & 1]
        x = row(model, seq)
        p = project(qr, x)
        if max(abs(a - b) for a, b in zip(x, p)) > 1e-6:
            return 0
    return 1


def analyse(path, phase, what, scale, unit):
    d = json.load(open(path))
    w, iso = windows(d, phase, what)
    if "layer" not in w:
        return
    names = [k for k in w if k in ("layer",)] + sorted(k for k in w if k.startswith("prefix")) + \
        sorted(k for k in w if k.startswith("without")) + sorted(k for k in w if k in ("reversed", "interleaved"))
    rounds = sorted(set().union(*[set(w[k][1]) for k in names]))
    rounds = [r for r in rounds if all(r in w[k][1] and math.isfinite(w[k][1][r]) for k in names)]
    full, full_se, _ = mean_se([w["layer"][1][r] for r in rounds])
    print(f"\n## {path.split('/')[-2] if '/' in path else path}: {phase}, {what} per layer call"
          f" ({len(rounds)} rounds, {len(names)} duty-1 windows; layer {full * scale:.3f} {unit} ± {full_se / full * 100:.2f}%)")
    print(f"{'model':<11} {'params':>6} {'rank':>4} {'dof':>3} {'rms resid %':>11} {'max |r|+ci %':>12} {'worst window':>28} {'v(S) ident.':>11}")
    fits = {}
    for model in ("additive", "open-chain", "pairwise", "gemm-gemm", "kinds"):
        X = [row(model, w[k][0]) for k in names]
        qc = basis([list(c) for c in zip(*X)])
        rank = len(qc)
        per_round = []
        for r in rounds:
            y = [w[k][1][r] for k in names]
            yh = project(qc, y)
            per_round.append([a - b for a, b in zip(y, yh)])
        res = []
        for j in range(len(names)):
            m, se, n = mean_se([pr[j] for pr in per_round])
            res.append((m, se))
        dof = len(names) - rank
        rms = math.sqrt(sum(m * m for m, _ in res) / len(res)) / full * 100
        tq = T_975.get(len(rounds) - 1, 2.0)
        reach = max(abs(m) + tq * se for m, se in res) / full * 100  # what a +-5% check of every window judges
        j = max(range(len(names)), key=lambda j: abs(res[j][0]))
        worst = f"{names[j]} {res[j][0] / full * 100:+.1f}±{tq * res[j][1] / full * 100:.1f}%" if dof > 0 else "-"
        ymean = [mean_se([w[k][1][r] for r in rounds])[0] for k in names]
        beta, _ = lstsq(X, ymean)
        ident = identifiable(model, X)
        fits[model] = (beta, ident, res)
        print(f"{model:<11} {len(X[0]):>6} {rank:>4} {dof:>3} {rms:>11.2f} {reach:>12.2f} {worst:>28} {'yes' if ident else 'no':>11}")
    # residuals by window under the additive model (the one a cycle with uniform junctions gives)
    print("\nresidual of each window under additive and gemm-gemm (% of the layer, ± the 95% half-width):")
    for j, k in enumerate(names):
        a = fits["additive"][2][j]
        g = fits["gemm-gemm"][2][j]
        t = T_975.get(len(rounds) - 1, 2.0)
        print(f"  {k:<22} {a[0] / full * 100:+6.2f} ± {t * a[1] / full * 100:4.2f}   {g[0] / full * 100:+6.2f} ± {t * g[1] / full * 100:4.2f}")
    print(f"open-chain J (the junction a window without the wrap would lack) = {fits['open-chain'][0][N] * scale:+.4f} {unit}"
          f" ({fits['open-chain'][0][N] / full * 100:+.2f}% of the layer; the model of §2d before this analysis needs"
          f" (layer - sum isolation) / 8 = {(full - sum(mean_se(iso[s])[0] for s in RUN)) / 8 / full * 100:+.2f}%)")
    if fits["gemm-gemm"][1]:
        print(f"J_GG (gemm straight into gemm) = {fits['gemm-gemm'][0][N] * scale:+.4f} {unit} per junction"
              f" ({fits['gemm-gemm'][0][N] / full * 100:+.2f}% of the layer)")
    # the check the built estimator makes (src/profile/shapley_layer.c): gemm-gemm, model - measured,
    # the window whose 95% interval reaches farthest from 0, every window against +-5%
    tq = T_975.get(len(rounds) - 1, 2.0)
    res = fits["gemm-gemm"][2]
    reach = [max(abs(-m - tq * se), abs(-m + tq * se)) for m, se in res]
    j = max(range(len(names)), key=lambda j: reach[j])
    lo, hi = (-res[j][0] - tq * res[j][1]) / full * 100, (-res[j][0] + tq * res[j][1]) / full * 100
    verdicts = []
    for m, se in res:
        a, b = (-m - tq * se) / full * 100, (-m + tq * se) / full * 100
        verdicts.append("MISS" if a > 5 or b < -5 else "PASS" if -5 <= a and b <= 5 else "INCONCLUSIVE")
    v = "MISS" if "MISS" in verdicts else "PASS" if all(x == "PASS" for x in verdicts) else "INCONCLUSIVE"
    print(f"the layer game's check (gemm-gemm fit, model - measured): worst window {names[j]}"
          f" {-res[j][0] / full * 100:+.2f}% [{lo:+.2f}, {hi:+.2f}], layer {-res[0][0] / full * 100:+.2f}%: {v}")
    # isolation against each model's lone stage (the game's v({i}))
    isom = {s: mean_se(iso[s]) for s in RUN if s in iso}
    print("\nstage      isolation   additive a_i   iso - a_i   (% of layer)   shapley(additive) shapley(gemm-gemm) pairwise-phi(shapley.c)")
    loo = {s: mean_se([w["layer"][1][r] - w["without " + s][1][r] for r in rounds])[0] for s in RUN}
    phi_a = shapley("additive", fits["additive"][0])
    phi_g = shapley("gemm-gemm", fits["gemm-gemm"][0]) if fits["gemm-gemm"][1] else [float("nan")] * N
    tot = [0.0] * 6
    for i, s in enumerate(RUN):
        ai = fits["additive"][0][i]
        im = isom.get(s, (float("nan"),))[0]
        pp = (im + loo[s]) / 2
        vals = [im, ai, im - ai, phi_a[i], phi_g[i], pp]
        tot = [x + y for x, y in zip(tot, vals)]
        print(f"{s:<10} {im * scale:10.4f} {ai * scale:13.4f} {(im - ai) * scale:11.4f} {(im - ai) / full * 100:+13.2f}"
              f" {phi_a[i] * scale:17.4f} {phi_g[i] * scale:18.4f} {pp * scale:23.4f}")
    print(f"{'sum':<10} {tot[0] * scale:10.4f} {tot[1] * scale:13.4f} {tot[2] * scale:11.4f} {tot[2] / full * 100:+13.2f}"
          f" {tot[3] * scale:17.4f} {tot[4] * scale:18.4f} {tot[5] * scale:23.4f}")
    print(f"layer      {full * scale:10.4f}   (pairwise Shapley's additive residual {(tot[5] - full) / full * 100:+.2f}%;"
          f" -1/2 x (layer - sum isolation) = {-(full - tot[0]) / 2 / full * 100:+.2f}%)")


def main():
    for path in sys.argv[1:]:
        for phase in ("prefill", "decode"):
            analyse(path, phase, "energy", 1e3, "mJ")
            analyse(path, phase, "time", 1e6, "us")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The per-layer lines of a profile's JSON (profile --per-layer; docs/attribution.md §2f), one
PASS/MISS line with numbers per check: the agreement across layers per phase (random weights: every
layer the same computation), each layer-skip check (PASS/INCONCLUSIVE/MISS on the agreement's whole
95% interval, with its pairs' spread and the pairs that +-10% would need), and the layers x stages
per phase (the stages' sum against the whole layer alone, the time ratio against the timeline, the cells replayed faster
than in the run, the largest spread of one stage across layers).

usage: per_layer_lines.py PROFILE.json MODEL   (scripts/gpu/per_layer_checks.sh, attribution_checks.sh)
"""
import json
import sys


def pct(x):
    return "-" if x is None else "%+.1f%%" % x


# The last layer's skip also changes the input of the final norm and the LM head (docs/attribution.md §2f):
# its estimate adds that change where it was measured; without it the row cannot pass.
def head_note(s):
    if not s.get("includes_head_change"):
        return ""
    h = s.get("head_change_j") or {}
    if h.get("mean") is None:
        return " (last layer: the final norm and LM head see another input, not measured: cannot pass)"
    return " (last layer: the estimate adds the head's change %.4g J [%.4g, %.4g])" % (h["mean"], h["lo"] or 0,
                                                                                      h["hi"] or 0)


def t975(df):
    """Student's t at 0.975 (Cornish-Fisher in 1/df, within 1% of the tables from df 3)."""
    z = 1.959964
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def rounds_for(sd, half):
    """The pairs whose 95% half-width t(n-1) sd / sqrt(n) is within `half` (None: over 200)."""
    return next((n for n in range(3, 201) if t975(n - 1) * sd / n ** 0.5 <= half), None)


def lines(doc, model):
    layers = doc.get("layers") or []
    if not layers:
        print("MISS %s per_layer: no per-layer estimates (notes: %s)" % (model, doc.get("notes", "")))
    for ag in doc.get("layer_agreement") or []:
        rows = [l for l in layers if l["phase"] == ag["phase"]]
        dyn = [l["dynamic_j"]["mean"] for l in rows if l["dynamic_j"]["mean"] is not None]
        mean = sum(dyn) / len(dyn) if dyn else 0
        worst = max(rows, key=lambda l: abs(l["t"] or 0))
        print("%s %s per_layer %s: %d layers, dynamic %.4g J per layer call (spread %s of the mean), largest |t| %.2f "
              "at layer %d (critical %.2f); time %.4g ms per call"
              % (ag["verdict"], model, ag["phase"], len(rows), mean,
                 pct((max(dyn) - min(dyn)) / mean * 100 if mean else None), abs(worst["t"] or 0), worst["layer"],
                 worst["critical"] or 0, sum(l["time_s"]["mean"] or 0 for l in rows) / max(len(rows), 1) * 1e3))
    for s in doc.get("layer_skips") or []:
        pairs = (s.get("full_j") or {}).get("n") or 0
        se, est = s["saved_j"].get("se"), s["replay_j"]["mean"] or 0
        sd = se * pairs ** 0.5 if se is not None and pairs > 1 else None
        need = rounds_for(sd, 0.1 * est) if sd is not None and est > 0 else None
        print("%s %s layer_skip %s layer %d: agreement %s [%s, %s]; saved %.4g J [%.4g, %.4g] over %d pairs (pair sd "
              "%s J; +-10%% of the estimate needs ~%s pairs), estimate %.4g J per unit%s"
              % (s.get("verdict") or "MISS", model, s["phase"], s["layer"], pct(s["agreement_pct"]),
                 pct(s.get("agreement_lo_pct")), pct(s.get("agreement_hi_pct")), s["saved_j"]["mean"] or 0,
                 s["saved_j"]["lo"] or 0, s["saved_j"]["hi"] or 0, pairs, "-" if sd is None else "%.3g" % sd,
                 "-" if need is None else need, est, head_note(s)))
    cells = doc.get("layer_stages") or []
    if not cells:
        print("MISS %s layer_stages: none measured" % model)
    for ph in ("prefill", "decode"):
        c = [x for x in cells if x["phase"] == ph]
        if not c:
            continue
        whole = {l["layer"]: l["dynamic_j"]["mean"] for l in layers if l["phase"] == ph}
        sums = {}
        for x in c:
            sums[x["layer"]] = sums.get(x["layer"], 0) + (x["dynamic_j"]["mean"] or 0)
        gaps = [sums[L] / whole[L] - 1 for L in sums if whole.get(L)]
        low = [x for x in c if x["time_ratio"] is not None and x["time_ratio"] < 0.8]
        ratios = [x["time_ratio"] for x in c if x["time_ratio"] is not None]
        by_stage = {}
        for x in c:
            by_stage.setdefault(x["stage"], []).append(x["dynamic_j"]["mean"] or 0)
        spread = max(((max(v) - min(v)) / (sum(v) / len(v)) for v in by_stage.values() if sum(v) > 0), default=0)
        print("%s %s layer_stages %s: %d cells; stages' sum / whole layer - 1: %s to %s; time ratio %.2f to %.2f, %d "
              "cells < 0.8; largest spread of one stage across layers %s"
              % ("PASS" if not low else "MISS", model, ph, len(c), pct(min(gaps) * 100 if gaps else None),
                 pct(max(gaps) * 100 if gaps else None), min(ratios) if ratios else float("nan"),
                 max(ratios) if ratios else float("nan"), len(low), pct(spread * 100)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    lines(json.load(open(sys.argv[1])), sys.argv[2])

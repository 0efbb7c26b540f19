#!/usr/bin/env python3
"""The per-layer measurement on a real HF checkpoint whose layers differ on purpose
(docs/attribution.md §2f): the measured ranking must follow the construction.

The checkpoint: LlamaForCausalLM, hidden 2048, 8 layers, intermediate 8192, 32 heads (8 KV heads,
head_dim 64), vocab 128256, tied embeddings, bf16, transformers' seeded default init; then every
linear weight of layer ALTERED (q, k, v, o, gate, up, down) set to zero.

Why zeros, and not a scale: the layer then moves the same bytes and runs the same kernels in the
same time (the timeline, whose energy follows time, cannot tell it from the others), but its
operands are zeros, and what a GEMM or GEMV draws depends on its operands' bit toggling (input
values change power by up to 67%, arXiv 2212.08805). A scale by a constant changes mostly the
exponent bits: the toggling, and so the power, barely moves, and a measured difference could not be
told from noise. 90% zeros lies between the two; all zeros is the largest change that keeps the
bytes and the time, so the one the measurement must not miss. The layer becomes a no-op in the
forward pass (its o_proj and down write zeros), so the layer-skip check of that layer (it is the
middle layer, one of the skipped ones) compares its small replay estimate with a small saving.

PASS per phase: the altered layer is the cheapest by dynamic energy per layer call, and its whole 95%
interval lies below every other layer's interval. Prefill is compute bound (the zeros stop the
tensor cores' toggling); decode is memory bound (only the data the HBM and the GEMV move change),
so its margin is smaller: both are printed with numbers; the last line is PASS only when both pass.

usage: per_layer_hf.py LLAMAJOULE_BIN OUT_DIR   (extra profile options in $HF_PROFILE_ARGS;
       default: --quick --no-layer-stages, ~2 minutes on an H100 with the save)
"""
import json
import os
import subprocess
import sys
import time

LAYERS = 8
ALTERED = LAYERS // 2  # the middle layer: the layer-skip check skips it too


def build(path):
    import torch  # here, so that check() runs without them
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=LAYERS, num_attention_heads=32,
                      num_key_value_heads=8, head_dim=64, vocab_size=128256, tie_word_embeddings=True,
                      rope_theta=500000.0, rms_norm_eps=1e-5, max_position_embeddings=2048,
                      torch_dtype=torch.bfloat16)
    torch.manual_seed(20)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    layer = model.model.layers[ALTERED]
    with torch.no_grad():
        for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj, layer.self_attn.o_proj,
                    layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
            lin.weight.zero_()
    model.save_pretrained(path, safe_serialization=True)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()  # the profile needs the card


def interval(row):
    d = row["dynamic_j"]
    return d["mean"], d["lo"], d["hi"]


def check(doc):
    ok_all = True
    layers = doc.get("layers") or []
    if not layers:
        print("FAIL per_layer_hf: no per-layer estimates (notes: %s)" % doc.get("notes", ""))
        return False
    for phase in ("prefill", "decode"):
        rows = {l["layer"]: l for l in layers if l["phase"] == phase}
        if ALTERED not in rows or len(rows) != LAYERS:
            print("FAIL per_layer_hf %s: %d of %d layers measured" % (phase, len(rows), LAYERS))
            ok_all = False
            continue
        m, lo, hi = interval(rows[ALTERED])
        others = [interval(rows[L]) for L in rows if L != ALTERED]
        o_mean = sum(x[0] for x in others) / len(others)
        o_lo = min(x[1] for x in others if x[1] is not None) if all(x[1] is not None for x in others) else None
        cheapest = rows[ALTERED]["rank"] == LAYERS
        outside = hi is not None and o_lo is not None and hi < o_lo
        ok = cheapest and outside
        ok_all &= ok
        print("%s per_layer_hf %s: layer %d (zero weights) %.4g J per call [%.4g, %.4g], rank %d of %d; the other "
              "layers %.4g J mean, lowest interval bound %s; ratio %.3f"
              % ("PASS" if ok else "MISS", phase, ALTERED, m, lo if lo is not None else float("nan"),
                 hi if hi is not None else float("nan"), rows[ALTERED]["rank"], LAYERS, o_mean,
                 "%.4g" % o_lo if o_lo is not None else "-", m / o_mean if o_mean else float("nan")))
        times = [rows[L]["time_s"]["mean"] for L in sorted(rows)]
        print("  %s time per layer call (ms): %s (the zero layer's time is the others': only energy tells it)"
              % (phase, " ".join("%.4f" % (t * 1e3) for t in times)))
    for s in doc.get("layer_skips") or []:
        sp = lambda v: "-" if v is None else "%+.1f%%" % v
        print("%s per_layer_hf layer_skip %s layer %d: saved %.4g J, estimate %.4g J per unit, agreement %s [%s, %s]%s"
              % (s.get("verdict") or "MISS", s["phase"], s["layer"], s["saved_j"]["mean"] or 0,
                 s["replay_j"]["mean"] or 0, sp(s["agreement_pct"]), sp(s.get("agreement_lo_pct")),
                 sp(s.get("agreement_hi_pct")),
                 " (last layer: the final norm and LM head see another input, so not this layer's energy alone)"
                 if s.get("includes_head_change") else ""))
    cells = doc.get("layer_stages") or []
    for phase in ("prefill", "decode"):
        for st in ("qkv", "o_proj", "gate_up", "down"):
            v = {c["layer"]: c["dynamic_j"]["mean"] for c in cells if c["phase"] == phase and c["stage"] == st}
            if ALTERED in v and len(v) > 1:
                rest = [x for L, x in v.items() if L != ALTERED and x is not None]
                print("  %s %s: layer %d %.4g J per call, the others %.4g J mean"
                      % (phase, st, ALTERED, v[ALTERED], sum(rest) / len(rest)))
    return ok_all


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    lj, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    ckpt = os.path.join(out, "hf-zero-layer")
    t0 = time.time()
    build(ckpt)
    t1 = time.time()
    args = os.environ.get("HF_PROFILE_ARGS", "--quick --no-layer-stages").split()
    cmd = [lj, "profile", "--model", ckpt, "--per-layer", *args, "-o", os.path.join(out, "hf.db"), "--json"]
    with open(os.path.join(out, "hf.json"), "w") as js, open(os.path.join(out, "hf.txt"), "w") as tx:
        rc = subprocess.call(cmd, stdout=js, stderr=tx)
    t2 = time.time()
    print("per_layer_hf: checkpoint saved in %.0f s, profile rc=%d in %.0f s (%s)"
          % (t1 - t0, rc, t2 - t1, " ".join(cmd[1:])))
    if rc != 0:
        print("FAIL per_layer_hf: the profile failed (%s)" % os.path.join(out, "hf.txt"))
        sys.exit(1)
    ok = check(json.load(open(os.path.join(out, "hf.json"))))
    print("%s per_layer_hf: the zero-weight layer measured the cheapest, outside the others' intervals, in both phases"
          % ("PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""FP8 scale granularity, per output row (the default) against per tensor (--fp8-scale tensor),
each against bf16 on the same weights, all on the GPU (`generate --device cuda --dump-logits`):

  - llama-3.1-8b with random weights (generated on the GPU): nearly uniform row norms, so per
    tensor should cost little there;
  - a small HF checkpoint made by transformers (default init, normal(0, 0.02): uniform rows too),
    saved in bf16, as is and with rows scaled (in every linear layer, rows r % 4 != 0 multiplied
    by SPREAD: 1/64, the order of the spread between outlier-free rows and the rows holding
    outliers in trained models; and 1/4096, far enough to push those rows' codes into E4M3's
    subnormals per tensor). Per row absorbs the spread: every row's amax maps to 448.

For each model and mode, one generate call: the prefixes of a fixed token text (every STRIDE
tokens up to TEXT_LEN) and a prompt of PROMPT_LEN tokens as one batch, N_NEW greedy steps. Per
mode against bf16: the step-0 logits cosine of the prompt, its greedy agreement length (leading
generated tokens equal to bf16's, of N_NEW), and the mean KL(bf16 || fp8) of the next-token
distributions after the text's prefixes (step 0 of each). Also per tensor against per row.
No thresholds: a measurement. Prints one line per model and mode; exit 0 when every run ran.

usage: fp8_scale_compare.py LLAMAJOULE_BIN OUTDIR [--models llama-3.1-8b,hf] [--keep-dumps]
"""
import argparse
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fp8_parity import read_all, run, log_softmax  # noqa: E402
from parity_checkpoints import SHAPES, cosine  # noqa: E402

TEXT_LEN, STRIDE, PROMPT_LEN, N_NEW = 64, 8, 32, 16
HF_SHAPE = "gqa3-hd128-h1536-v128k-tied"  # Llama 3.2 3B's head layout, two layers, Llama 3's vocabulary
SPREADS = [1.0, 1 / 64, 1 / 4096]
MODES = [("bf16", None), ("fp8", "row"), ("fp8", "tensor")]


def make_hf(root):
    """[(spread, dir)]: the HF checkpoint (bf16) as initialised, then with rows r % 4 != 0 of every
    linear layer scaled by each of SPREADS in turn (one init: the same weights otherwise)."""
    import torch
    from transformers import LlamaForCausalLM
    from make_fixtures import build_config
    sh = next(s for s in SHAPES if s["name"] == HF_SHAPE)
    cfg = build_config(dict(sh))
    cfg.max_position_embeddings = 256
    torch.manual_seed(1000 + SHAPES.index(sh))
    model = LlamaForCausalLM(cfg).eval().to(torch.bfloat16)
    out, done = [], 1.0
    for spread in SPREADS:
        with torch.no_grad():
            for layer in model.model.layers:
                for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
                            layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
                    rows = torch.arange(lin.weight.shape[0]) % 4 != 0
                    lin.weight[rows] *= spread / done  # powers of two: exact in bf16
        done = spread
        d = os.path.join(root, f"{HF_SHAPE}-spread{round(1 / spread)}")
        model.save_pretrained(d)
        out.append((spread, d))
    return out, sh["vocab_size"]


def run_mode(binary, model, weights, scale, prompts, dump):
    t0 = time.time()
    out = run(binary, model, prompts, "cuda", weights, N_NEW, dump, ["--fp8-scale", scale] if scale else [])
    return out, time.time() - t0


def figures(ref, got, n_prefixes):
    """(step-0 cosine of the prompt, greedy agreement length, mean and max KL over the prefixes)."""
    p = n_prefixes  # the prompt is the last sequence
    cos0 = cosine(ref[p][0][1], got[p][0][1])
    agree = 0
    for (tr, _), (tg, _) in zip(ref[p], got[p]):
        if tr != tg:
            break
        agree += 1
    kls = []
    for s in range(n_prefixes):
        pb, pf = log_softmax(ref[s][0][1]), log_softmax(got[s][0][1])
        kls.append(float((np.exp(pb) * (pb - pf)).sum()))
    return cos0, agree, float(np.mean(kls)), float(np.max(kls))


def compare_model(binary, label, model, vocab, out):
    rng = np.random.default_rng(17)
    text = [int(t) for t in rng.integers(0, vocab, TEXT_LEN)]
    prefixes = [text[:k] for k in range(STRIDE, TEXT_LEN + 1, STRIDE)]
    prompt = [int(t) for t in rng.integers(0, vocab, PROMPT_LEN)]
    dumps = {}
    for weights, scale in MODES:
        name = weights if not scale else f"fp8-{scale}"
        dumps[name], secs = run_mode(binary, model, weights, scale, prefixes + [prompt], os.path.join(out, f"{label}-{name}.bin"))
        print(f"  {label} {name}: generate {secs:.1f} s", flush=True)
    n = len(prefixes)
    for name in ("fp8-row", "fp8-tensor"):
        cos0, agree, kl, kl_max = figures(dumps["bf16"], dumps[name], n)
        print(f"RESULT fp8_scale model={label} mode={name} vs=bf16 step0_cos={cos0:.6f} greedy_agree={agree}/{N_NEW} "
              f"mean_kl={kl:.3e} max_kl={kl_max:.3e} prefixes={n}", flush=True)
    cos0, agree, kl, kl_max = figures(dumps["fp8-row"], dumps["fp8-tensor"], n)
    print(f"RESULT fp8_scale model={label} mode=fp8-tensor vs=fp8-row step0_cos={cos0:.6f} greedy_agree={agree}/{N_NEW} "
          f"mean_kl={kl:.3e} max_kl={kl_max:.3e} prefixes={n}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("outdir")
    ap.add_argument("--models", default="llama-3.1-8b,hf")
    ap.add_argument("--keep-dumps", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    fails = 0
    for m in a.models.split(","):
        targets = []
        try:
            if m == "hf":
                t0 = time.time()
                made, vocab = make_hf(a.outdir)
                print(f"  hf checkpoints ({HF_SHAPE}, rows spread by {', '.join(f'1/{round(1 / s)}' for s, _ in made)}) "
                      f"made in {time.time() - t0:.1f} s", flush=True)
                targets += [(f"hf-{HF_SHAPE}-spread{round(1 / s)}", d, vocab) for s, d in made]
            else:
                targets.append((m, m, 128256))
            for label, model, vocab in targets:
                compare_model(a.binary, label, model, vocab, a.outdir)
        except Exception as e:  # one model's failure does not hide the others' figures
            print(f"FAIL fp8_scale {m}: {e}", flush=True)
            fails += 1
    if not a.keep_dumps:  # dumps and checkpoints: hundreds of MB
        for f in os.listdir(a.outdir):
            p = os.path.join(a.outdir, f)
            if f.endswith(".bin"):
                os.remove(p)
            elif f.startswith(HF_SHAPE) and os.path.isdir(p):
                shutil.rmtree(p)
    print(f"fp8_scale_compare: {fails} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

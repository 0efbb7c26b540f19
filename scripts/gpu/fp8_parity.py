#!/usr/bin/env python3
"""FP8 weights (E4M3, one scale per output row) on fresh HF checkpoints (transformers' default
init, saved with save_pretrained as parity_checkpoints.py makes them; shapes whose dims are
multiples of 16, as FP8 needs):

  1. CUDA FP8 against the CPU FP8 reference (`generate --device cpu --weights fp8`: the same
     codes and scales, fp32 arithmetic), greedy, STEPS steps, prompts of 5 tokens (the whole
     forward through the FP8 GEMV) and 37 tokens (prefill through cuBLASLt FP8 with the
     activations quantised per token): step-0 cosine >= COS_REF_DECODE (5 tokens) or
     COS_REF_PREFILL (37), every decode step >= COS_REF_DECODE (after 37: COS_REF_AFTER_PREFILL;
     the CPU reference quantises its activations in calls of > 8 tokens too), greedy tokens equal until
     the first near-tie (as parity_checkpoints.py).
  2. FP8 against bf16 on the same checkpoint, both on the GPU: over a fixed token text of
     KL_LEN tokens, the next-token distribution after each of its prefixes (one `generate -n 1`
     of every prefix as a batch): mean KL(bf16 || fp8) <= KL_MAX nats, mean cosine of the
     logits >= COS_BF16, greedy agreement (argmax equal) >= AGREE_MIN of the positions.
Tolerances and why: docs/engine-cuda.md ("FP8 weights").
Prints PASS/FAIL lines with the numbers; exit 0 when all pass.

usage: fp8_parity.py LLAMAJOULE_BIN [--shapes a,b] [--dtypes bfloat16,float32]
"""
import argparse
import os
import subprocess
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from parity_checkpoints import SHAPES, make_checkpoint, cosine, compare  # noqa: E402

STEPS = 8
COS_REF_DECODE = 0.9995   # bf16 activations against fp32: parity_checkpoints measured 0.9999+ for bf16
# A prefill of > 8 tokens quantises its activations per token on both sides (the same rule on bf16
# rows), but the engines' activations differ by bf16 drift, and an E4M3 code flips wherever that
# drift crosses a rounding boundary: on the CPU, a drift of +-2^-9 relative (a bf16 rounding) in
# front of the quantiser costs step-0 cosines of 0.9975-0.9988 and later steps 0.9995-0.9997 on
# the fixture checkpoints (docs/engine-cuda.md, "Checks and tolerances").
COS_REF_PREFILL = 0.995
COS_REF_AFTER_PREFILL = 0.998  # decode steps reading the prefill's KV
COS_BF16 = 0.985
KL_MAX = 0.02
AGREE_MIN = 0.66
KL_LEN = 48
FP8_SHAPES = ["mha-h256-v512-tied", "gqa4-h256-v512-untied", "gqa3-hd128-h1536-v128k-tied"]


def read_all(path):
    """{seq: [(token, logits), ...]} of a --dump-logits file."""
    out = {}
    with open(path, "rb") as f:
        head = f.read(24)
        assert head[:8] == b"LJLOGIT1", head[:8]
        _, vocab, _, _ = struct.unpack("<4I", head[8:])
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            _, seq, token, _ = struct.unpack("<4i", rec)
            out.setdefault(seq, []).append((token, np.frombuffer(f.read(4 * vocab), dtype=np.float32)))
    return out


def run(binary, d, prompts, device, weights, n, dump, extra=()):
    cmd = [binary, "generate", "--model", d, "-n", str(n), "--ignore-eos", "--device", device, "--weights",
           weights, "--threads", "8", "--dump-logits", dump, *extra]
    for p in prompts:
        cmd += ["--prompt-ids", " ".join(map(str, p))]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{device}/{weights}{''.join(' ' + e for e in extra)} generate exited {p.returncode}: {p.stderr.strip()[-400:]}")
    return read_all(dump)


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--shapes", default=",".join(FP8_SHAPES))
    ap.add_argument("--dtypes", default="bfloat16,float32")
    a = ap.parse_args()
    shapes = [s for s in SHAPES if s["name"] in a.shapes.split(",")]
    fails = 0
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        for sh in shapes:
            for dtype in a.dtypes.split(","):
                d = make_checkpoint(sh, dtype, tmp)
                name = os.path.basename(d)
                vocab = sh["vocab_size"]
                for plen in (5, 37):
                    prompt = [int(t) for t in rng.integers(0, vocab, plen)]
                    ref = run(a.binary, d, [prompt], "cpu", "fp8", STEPS, os.path.join(tmp, "ref.bin"))[0]
                    gpu = run(a.binary, d, [prompt], "cuda", "fp8", STEPS, os.path.join(tmp, "gpu.bin"))[0]
                    rl, rt = np.stack([l for _, l in ref]), [t for t, _ in ref]
                    gl, gt = np.stack([l for _, l in gpu]), [t for t, _ in gpu]
                    cos0, cos_min, matched, tie, fail = compare(rl, rt, gl, gt)
                    dec = min([cosine(gl[k], rl[k]) for k in range(1, STEPS if tie is None else tie)] or [1.0])
                    need0 = COS_REF_DECODE if plen <= 8 else COS_REF_PREFILL
                    need_dec = COS_REF_DECODE if plen <= 8 else COS_REF_AFTER_PREFILL
                    ok = not fail and cos0 >= need0 and dec >= need_dec
                    fails += not ok
                    print(f"{'PASS' if ok else 'FAIL'} fp8-vs-cpu-ref {name} prompt {plen}: step-0 cosine {cos0:.6f} "
                          f"(>= {need0}), decode min {dec:.6f} (>= {need_dec}), greedy {matched}/{STEPS}"
                          f"{f' (near-tie at step {tie})' if tie is not None else ''}{f': {fail}' if fail else ''}",
                          flush=True)
                text = [int(t) for t in np.random.default_rng(11).integers(0, vocab, KL_LEN)]
                prefixes = [text[:k] for k in range(4, KL_LEN + 1, 4)]
                b = run(a.binary, d, prefixes, "cuda", "bf16", 1, os.path.join(tmp, "b.bin"))
                f = run(a.binary, d, prefixes, "cuda", "fp8", 1, os.path.join(tmp, "f.bin"))
                kls, coss, agree = [], [], 0
                for s in range(len(prefixes)):
                    lb, lf = b[s][0][1], f[s][0][1]
                    pb, pf = log_softmax(lb), log_softmax(lf)
                    kls.append(float((np.exp(pb) * (pb - pf)).sum()))
                    coss.append(cosine(lb, lf))
                    agree += int(np.argmax(lb) == np.argmax(lf))
                kl, cs, ag = float(np.mean(kls)), float(np.mean(coss)), agree / len(prefixes)
                ok = kl <= KL_MAX and cs >= COS_BF16 and ag >= AGREE_MIN
                fails += not ok
                print(f"{'PASS' if ok else 'FAIL'} fp8-vs-bf16 {name}: mean KL {kl:.2e} nats (<= {KL_MAX}), max "
                      f"{max(kls):.2e}; mean logits cosine {cs:.6f} (>= {COS_BF16}); argmax agreement "
                      f"{agree}/{len(prefixes)} (>= {AGREE_MIN:.0%})", flush=True)
    print(f"fp8_parity: {fails} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`generate --device cuda` against the CPU reference engine on fresh HF checkpoints, saved
in every dtype a user may have (float32, float16, bfloat16), in several shapes.

For each shape and dtype: LlamaForCausalLM(config) with transformers' default init (seeded),
saved with save_pretrained in that dtype. Then, for prompts of 1 to 131 random token ids:
  - the CPU engine (fp32 arithmetic; equal to HF fp32) and the CUDA engine (bf16 weights)
    each generate STEPS greedy tokens and dump every step's logits (--dump-logits);
  - step 0: cosine(CUDA logits, CPU logits) >= 0.999;
  - greedy tokens equal until the first near-tie: where they first differ, the CPU engine's
    logit gap between the two tokens must be below TIE (relative to its largest |logit|),
    else it is a failure; the steps after a tie are not compared (the prefixes differ);
  - for some prompt lengths, `generate --device cuda` without a dump (the fast path: graph
    replays, sampling on the GPU) must give the same greedy tokens as the dump path;
  - for one prompt length, HF transformers in fp32 (CPU) against the CPU engine at step 0
    (the reference itself, on this checkpoint): cosine >= 0.99999.
Exit 0 when every row passes. A JSON of every row goes to --json.

usage: parity_checkpoints.py LLAMAJOULE_BIN [--json FILE] [--dtypes float32,float16,bfloat16]
                             [--shapes a,b] [--lens 1,17,64,131] [--jobs 8]
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hf_reference"))
sys.path.insert(0, HERE)
from make_fixtures import build_config  # noqa: E402
from e2e_fixtures import read_dump  # noqa: E402

STEPS = 8
COS_MIN = 0.999
TIE = 1e-2          # a gap below 1% of the largest |logit| is within bf16 weight rounding
HF_COS_MIN = 0.99999
LLAMA3_SCALING = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                      original_max_position_embeddings=64)


def shape(name, hidden, heads, kv, head_dim, inter, tied, vocab, theta=1e4, scaling=None, layers=2):
    return dict(name=name, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=kv, head_dim=head_dim, vocab_size=vocab,
                tie_word_embeddings=tied, rope_theta=theta, rope_scaling=scaling, rms_norm_eps=1e-5,
                init_std=0.02)


SHAPES = [
    # the shape the defect was found on: MHA, head_dim 64, tied, Llama 3's vocabulary
    shape("mha-h256-v128k-tied", 256, 4, 4, 64, 688, True, 128256),
    shape("mha-h256-v512-tied", 256, 4, 4, 64, 688, True, 512),
    shape("gqa4-h256-v512-untied", 256, 8, 2, 32, 512, False, 512, 5e5, LLAMA3_SCALING),
    # head_dim 64 with hidden 192 / 4 heads (q_dim 256 != hidden)
    shape("gqa2-hd64-h192-v128k-untied", 192, 4, 2, 64, 512, False, 128256, 5e5, LLAMA3_SCALING),
    # Llama 3.2 3B's head layout (head_dim 128, GQA 3:1), two layers
    shape("gqa3-hd128-h1536-v128k-tied", 1536, 12, 4, 128, 4096, True, 128256, 5e5, LLAMA3_SCALING),
]


def make_checkpoint(sh, dtype, root):
    from transformers import LlamaForCausalLM
    f = dict(sh)
    cfg = build_config(f)
    cfg.max_position_embeddings = 256
    torch.manual_seed(1000 + SHAPES.index(sh))
    model = LlamaForCausalLM(cfg).eval()  # transformers' default init
    d = os.path.join(root, f"{sh['name']}-{dtype}")
    model.to(getattr(torch, dtype)).save_pretrained(d)
    return d


def generate(binary, d, prompt, device, dump):
    cmd = [binary, "generate", "--model", d, "--prompt-ids", " ".join(map(str, prompt)), "-n", str(STEPS),
           "--ignore-eos", "--device", device, "--threads", "2"]
    if dump:
        cmd += ["--dump-logits", dump]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{device} generate exited {p.returncode}: {p.stderr.strip()[-400:]}")
    line = [l for l in p.stdout.splitlines() if l.startswith("ids:")][-1]
    return [int(t) for t in line.split("|")[1].split()], p.stderr


def cosine(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def compare(cpu_logits, cpu_toks, gpu_logits, gpu_toks):
    """(step-0 cosine, min cosine over matched steps, steps matched, tie step or None, failure or None)"""
    cos0 = cosine(gpu_logits[0], cpu_logits[0])
    cos_min, matched = cos0, 0
    for k in range(min(len(cpu_toks), len(gpu_toks))):
        cos_min = min(cos_min, cosine(gpu_logits[k], cpu_logits[k]))
        if cpu_toks[k] == gpu_toks[k]:
            matched += 1
            continue
        row = cpu_logits[k]
        gap = float(row[cpu_toks[k]] - row[gpu_toks[k]]) / float(np.abs(row).max())
        if gap > TIE:
            return cos0, cos_min, matched, None, f"step {k}: CPU {cpu_toks[k]}, CUDA {gpu_toks[k]}, gap {gap:.3g} > {TIE}"
        return cos0, cos_min, matched, k, None
    return cos0, cos_min, matched, None, None


def hf_step0(d, prompt):
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    with torch.no_grad():
        return m(torch.tensor([prompt])).logits[0, -1].numpy()


def run_case(binary, d, prompt, tmp, fast, hf):
    tag = os.path.join(tmp, f"{os.path.basename(d)}-{len(prompt)}")
    with cf.ThreadPoolExecutor(2) as ex:
        c = ex.submit(generate, binary, d, prompt, "cpu", tag + ".cpu")
        g = ex.submit(generate, binary, d, prompt, "cuda", tag + ".cuda")
        c.result(), g.result()
    cpu_logits, cpu_toks = read_dump(tag + ".cpu")
    gpu_logits, gpu_toks = read_dump(tag + ".cuda")
    cos0, cos_min, matched, tie, fail = compare(cpu_logits, cpu_toks, gpu_logits, gpu_toks)
    row = dict(checkpoint=os.path.basename(d), prompt_len=len(prompt), cos0=cos0, cos_min=cos_min,
               matched=matched, steps=STEPS, tie_step=tie, failure=fail)
    if cos0 < COS_MIN and not fail:
        row["failure"] = f"step-0 cosine {cos0:.6f} < {COS_MIN}"
    if fast:
        fast_toks, err = generate(binary, d, prompt, "cuda", None)
        row["fast_equal"] = fast_toks == gpu_toks
        if not row["fast_equal"] and not row["failure"]:
            row["failure"] = f"fast path tokens {fast_toks} != dump path {gpu_toks}"
    if hf:
        row["hf_cos0"] = cosine(hf_step0(d, prompt), cpu_logits[0])
        if row["hf_cos0"] < HF_COS_MIN and not row["failure"]:
            row["failure"] = f"CPU engine vs HF fp32 cosine {row['hf_cos0']:.7f} < {HF_COS_MIN}"
    for f in (tag + ".cpu", tag + ".cuda"):
        os.remove(f)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--json")
    ap.add_argument("--dtypes", default="float32,float16,bfloat16")
    ap.add_argument("--shapes", default=",".join(s["name"] for s in SHAPES))
    ap.add_argument("--lens", default="1,17,64,131")
    ap.add_argument("--jobs", type=int, default=6)
    a = ap.parse_args()
    torch.set_num_threads(4)
    names = a.shapes.split(",")
    lens = [int(x) for x in a.lens.split(",")]
    rows, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            for sh in [s for s in SHAPES if s["name"] in names]:
                for dt in a.dtypes.split(","):
                    d = make_checkpoint(sh, dt, tmp)
                    rng = np.random.default_rng(7)
                    for n in lens:
                        prompt = [int(t) for t in rng.integers(0, sh["vocab_size"], n)]
                        jobs.append(ex.submit(run_case, a.binary, d, prompt, tmp, n in (lens[1], lens[-1]),
                                              n == lens[1]))
            for j in jobs:
                try:
                    rows.append(j.result())
                except Exception as e:  # a crash or refusal is a failure of that row
                    rows.append(dict(checkpoint="?", prompt_len=0, failure=str(e)))
    rows.sort(key=lambda r: (r["checkpoint"], r["prompt_len"]))
    print(f"{'checkpoint':38s} {'len':>4s} {'cos0':>9s} {'cos_min':>9s} {'greedy':>7s} {'fast':>5s} {'hf':>9s}  result")
    for r in rows:
        greedy = f"{r.get('matched', 0)}/{r.get('steps', STEPS)}" + ("t" if r.get("tie_step") is not None else "")
        fast = {True: "same", False: "DIFF"}.get(r.get("fast_equal"), "-")
        hf = f"{r['hf_cos0']:.7f}" if "hf_cos0" in r else "-"
        print(f"{r['checkpoint']:38s} {r['prompt_len']:4d} {r.get('cos0', 0):9.6f} {r.get('cos_min', 0):9.6f} "
              f"{greedy:>7s} {fast:>5s} {hf:>9s}  {'FAIL: ' + r['failure'] if r['failure'] else 'PASS'}")
    n_fail = sum(1 for r in rows if r["failure"])
    print(f"parity: {len(rows) - n_fail} passed, {n_fail} failed ({time.time() - t0:.0f} s; "
          f"step-0 cosine >= {COS_MIN}, greedy equal until a near-tie < {TIE}; 't' = stopped at a near-tie)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(steps=STEPS, cos_min=COS_MIN, tie=TIE, rows=rows), f, indent=1)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())

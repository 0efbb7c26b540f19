#!/usr/bin/env python3
"""Compares llamajoule's logits with HF transformers' on a checkpoint.

  python3 check_checkpoint.py CKPT_DIR DUMP --prompt-ids "1 2 3" [--device cpu]

CKPT_DIR: an HF checkpoint (e.g. written by `llamajoule generate --model
PRESET --write-checkpoint DIR`). DUMP: a `llamajoule generate --dump-logits`
file of the same model and prompt (format in docs/model.md; sequence 0 is
used). HF runs LlamaForCausalLM in float32 (eager attention, no cache) on the
prompt followed by llamajoule's own tokens (teacher forcing, so one differing
token does not derail the rest) and, for every step, prints the relative error
max|lj - hf| / max|hf| and whether both pick the same greedy token. Prints one
JSON summary line last; exit status 1 when a step disagrees beyond --tol.
"""
import argparse
import json
import struct
import sys

import torch
import transformers
from transformers import LlamaForCausalLM


def read_dump(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:8] != b"LJLOGIT1":
        raise SystemExit(f"{path}: not a llamajoule logits dump")
    version, vocab, n_seqs, _ = struct.unpack_from("<4I", data, 8)
    off, recs = 24, []
    rec_size = 16 + 4 * vocab
    while off + rec_size <= len(data):
        step, seq, token, _ = struct.unpack_from("<4i", data, off)
        logits = torch.frombuffer(bytearray(data[off + 16:off + rec_size]), dtype=torch.float32)
        if seq == 0:
            recs.append((step, token, logits))
        off += rec_size
    return vocab, recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("dump")
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        model = LlamaForCausalLM.from_pretrained(a.ckpt, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(a.ckpt, torch_dtype=torch.float32, attn_implementation="eager")
    model = model.to(a.device).eval()
    vocab, recs = read_dump(a.dump)
    ids = [int(x) for x in a.prompt_ids.split()]
    worst, same = 0.0, True
    with torch.no_grad():
        for step, token, lj in recs:
            hf = model(input_ids=torch.tensor([ids], device=a.device), use_cache=False).logits[0, -1].float().cpu()
            rel = float((lj - hf).abs().max() / hf.abs().max())
            top2 = torch.topk(hf, 2).values
            hf_tok = int(torch.argmax(hf))
            print(json.dumps(dict(ckpt=a.ckpt, step=step, rel_err=rel, hf_argmax=hf_tok, lj_token=token,
                                  lj_argmax=int(torch.argmax(lj)),
                                  hf_top2_gap=float(top2[0] - top2[1]))), flush=True)
            worst = max(worst, rel)
            same = same and hf_tok == int(torch.argmax(lj))
            ids.append(token)
    print(json.dumps(dict(summary=True, ckpt=a.ckpt, steps=len(recs), max_rel_err=worst, greedy_same=same,
                          tol=a.tol, torch=torch.__version__, transformers=transformers.__version__)), flush=True)
    sys.exit(0 if worst <= a.tol and same else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""`llamajoule generate --device cuda` on the HF fixture checkpoints (tests/data/models)
against HF transformers in bf16 on the same GPU.

For each fixture: our CLI generates 16 greedy tokens from reference.json's prompt and
dumps every step's logits (--dump-logits, format in engine/generate.h); HF (bf16, the
same checkpoint) runs once over prompt + our tokens. Per step: ||ours - hf|| / ||hf||
(bound 2e-2) and HF's argmax == our token (all 16 steps). The fp32 reference of the
fixture (logits_steps.f32, HF on the CPU in float32) is compared too while our tokens
follow its greedy ids.

usage: e2e_fixtures.py LLAMAJOULE_BIN FIXTURE_DIR [FIXTURE_DIR ...]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch


def read_dump(path):
    with open(path, "rb") as f:
        head = f.read(24)
        assert head[:8] == b"LJLOGIT1", head[:8]
        _, vocab, n_seqs, _ = struct.unpack("<4I", head[8:])
        rows, toks = [], []
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            step, seq, token, _ = struct.unpack("<4i", rec)
            logits = np.frombuffer(f.read(4 * vocab), dtype=np.float32)
            if seq == 0:
                rows.append(logits)
                toks.append(token)
    return np.stack(rows), toks


def check(binary, d, tol):
    from transformers import AutoModelForCausalLM
    ref = json.load(open(os.path.join(d, "reference.json")))
    prompt = ref["prompt_ids"]
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "logits.bin")
        cmd = [binary, "generate", "--model", d, "--prompt-ids", " ".join(map(str, prompt)), "-n", "16",
               "--ignore-eos", "--device", "cuda", "--dump-logits", dump]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"{os.path.basename(os.path.normpath(d)):26s} FAIL: generate exited {p.returncode}: {p.stderr.strip()[-300:]}")
            return False
        ours, toks = read_dump(dump)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16).cuda().eval()
    ids = torch.tensor([prompt + toks[:-1]], device="cuda")
    with torch.no_grad():
        hf = model(ids).logits[0, len(prompt) - 1:].float().cpu().numpy()
    n = min(len(toks), hf.shape[0])
    errs = [float(np.linalg.norm(ours[s] - hf[s]) / np.linalg.norm(hf[s])) for s in range(n)]
    equal = sum(int(np.argmax(hf[s])) == toks[s] for s in range(n))
    f32 = np.fromfile(os.path.join(d, "logits_steps.f32"), dtype=np.float32).reshape(-1, ref["vocab_size"])
    follow = 0
    while follow < n and toks[follow] == ref["greedy_ids"][follow]:
        follow += 1
    f32_err = max((float(np.linalg.norm(ours[s] - f32[s]) / np.linalg.norm(f32[s])) for s in range(follow + 1 if follow < n else n)), default=float("nan"))
    ok = max(errs) <= tol and equal == n
    print(f"{os.path.basename(os.path.normpath(d)):26s} logits rel err vs HF bf16: max {max(errs):.2e} (bound {tol:.0e}); "
          f"greedy equal to HF bf16 {equal}/{n}; equal to the fp32 reference's greedy ids for {follow}/{n} steps "
          f"(rel err vs fp32 over those: {f32_err:.2e})  {'OK' if ok else 'FAIL'}")
    return ok


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    if not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False")
        return 77
    results = [check(sys.argv[1], d, 2e-2) for d in sys.argv[2:]]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

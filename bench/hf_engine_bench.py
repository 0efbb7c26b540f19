#!/usr/bin/env python3
"""The configurations of bench_engine through HF transformers (bf16, random weights,
eager PyTorch, SDPA attention, DynamicCache) on the same GPU, printed side by side
with bench_engine's RESULT lines.

  decode batch 1, context 512: ms/token (31 single-token forward calls after a
    511-token prefill, CUDA-synchronised, median of 3 runs);
  prefill 2048 tokens: ms (median of 3 after a warm-up);
  decode throughput: batch 1, 4, 16, 64, 256 at context 512 and 4096 (8 steps),
    skipped where HF runs out of memory or batch x context > 262144 (its prefill
    of the context would take most of the run): shown as nan.

usage: hf_engine_bench.py BENCH_ENGINE_LOG [--models a,b,c] [--quick]
"""
import re
import statistics
import sys
import time

import torch

PRESETS = {
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=64, tie_word_embeddings=True, factor=32.0),
    "llama-3.2-3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                         num_key_value_heads=8, head_dim=128, tie_word_embeddings=True, factor=32.0),
    "llama-3.1-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=8, head_dim=128, tie_word_embeddings=False, factor=8.0),
}


def build(name):
    from transformers import LlamaConfig, LlamaForCausalLM
    p = dict(PRESETS[name])
    factor = p.pop("factor")
    cfg = LlamaConfig(vocab_size=128256, max_position_embeddings=131072, rope_theta=500000.0,
                      rope_scaling={"rope_type": "llama3", "factor": factor, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                      rms_norm_eps=1e-5, **p)
    cfg._attn_implementation = "sdpa"
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg)  # HF's own random init (normal, std 0.02): not zeros
    finally:
        torch.set_default_dtype(old)
    return model.eval()


def sync_time(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0


@torch.no_grad()
def decode_step_s(model, batch, ctx, steps):
    from transformers import DynamicCache
    ids = torch.randint(0, 128000, (batch, ctx - 1), device="cuda")
    cache = DynamicCache()
    out = model(ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)

    def run():
        nonlocal nxt
        for _ in range(steps):
            o = model(nxt, past_key_values=cache, use_cache=True)
            nxt = o.logits[:, -1].argmax(-1, keepdim=True)
    return sync_time(run) / steps


@torch.no_grad()
def prefill_s(model, T):
    ids = torch.randint(0, 128000, (1, T), device="cuda")
    model(ids)
    return statistics.median(sync_time(lambda: model(ids)) for _ in range(3))


def read_ours(path):
    res = {}
    for line in open(path):
        if not line.startswith("RESULT "):
            continue
        kv = dict(m.groups() for m in re.finditer(r'(\w+)=("[^"]*"|\S+)', line))
        res.setdefault((kv.get("model"), kv.get("kind")), []).append(kv)
    return res


def main():
    args = sys.argv[1:]
    models = list(PRESETS)
    quick = "--quick" in args
    if quick:
        args.remove("--quick")
    if "--models" in args:
        i = args.index("--models")
        models = args[i + 1].split(",")
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__)
        return 2
    if not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False")
        return 77
    ours = read_ours(args[0])
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    rows = []
    for name in models:
        model = build(name)
        s = statistics.median(decode_step_s(model, 1, 512, 31) for _ in range(3 if not quick else 1))
        o = [r for r in ours.get((name, "decode_b1"), []) if r.get("matmul") == "GEMV+PDL"]
        ours_ms = float(o[0]["ms_token"]) if o else float("nan")
        rows.append((name, "decode b1 ctx512 ms/token", s * 1e3, ours_ms))
        p = prefill_s(model, 2048)
        o = ours.get((name, "prefill"), [])
        rows.append((name, "prefill 2048 ms", p * 1e3, float(o[0]["ms"]) if o else float("nan")))
        for ctx in (512, 4096):
            for b in (1, 4, 16, 64, 256):
                o = [r for r in ours.get((name, "decode"), []) if int(r["batch"]) == b and int(r["ctx"]) == ctx]
                ours_tps = float(o[0]["tok_s"]) if o and o[0].get("fits") == "1" else float("nan")
                if b * ctx > 262144:  # HF's prefill of the context would dominate the run
                    rows.append((name, f"decode b{b} ctx{ctx} tok/s", float("nan"), ours_tps))
                    continue
                try:
                    s = decode_step_s(model, b, ctx, 8 if not quick else 4)
                    hf_tps = b / s
                except torch.OutOfMemoryError:
                    hf_tps = float("nan")
                torch.cuda.empty_cache()
                rows.append((name, f"decode b{b} ctx{ctx} tok/s", hf_tps, ours_tps))
        del model
        torch.cuda.empty_cache()
    print(f"\n{'model':14s} {'measure':28s} {'HF eager':>12s} {'llamajoule':>12s} {'speed-up':>9s}")
    for name, what, hf, us in rows:
        if "ms" in what:
            ratio = hf / us if us == us and us > 0 else float("nan")
        else:
            ratio = us / hf if hf == hf and hf > 0 else float("nan")
        print(f"{name:14s} {what:28s} {hf:12.2f} {us:12.2f} {ratio:8.1f}x")
        print(f"HFRESULT model={name} what=\"{what}\" hf={hf:.4f} ours={us:.4f} ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

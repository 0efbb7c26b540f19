#!/usr/bin/env python3
"""Reference data for the CPU engine: small random HF LlamaForCausalLM models
and the logits HF transformers computes for them.

For every configuration in FIXTURES this script
  1. builds LlamaForCausalLM(config) in float32 on the CPU, with seeded random
     weights (normal, std `init_std`; RMSNorm weights 1 + uniform(-0.2, 0.2) so
     that a misplaced norm weight shows up);
  2. saves it with save_pretrained (safetensors; sharded where asked; bf16
     where asked, the reference then uses the bf16-rounded weights in f32);
  3. rewrites config.json in the legacy form of the published Llama 3
     checkpoints (rope_theta + rope_scaling, torch_dtype) where asked, and
     reloads the directory with from_pretrained to prove HF reads the saved
     files as the same model (logits identical);
  4. runs a fixed prompt (token ids) and 16 greedy steps, each step a full
     forward pass without cache (HF's plain fp32 path, eager attention), and
     records:
       logits_prompt.f32  (prompt_len, vocab) float32 little-endian: logits of
                          every prompt position of the first forward pass
       logits_steps.f32   (16, vocab): logits of the last position before
                          greedy step k (row 0 = the prompt's last position)
       reference.json     prompt_ids, greedy_ids, shapes, seeds, the smallest
                          top-1/top-2 margin, library versions.
It retries the next seed when a greedy step is too close to a tie to be a fair
test (margin < MIN_MARGIN of the largest logit), so the fixtures stay deterministic.

Usage: python3 make_fixtures.py OUT_DIR     (needs torch and transformers)
"""
import json
import os
import platform
import shutil
import sys
import traceback

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

N_STEPS = 16
PROMPT_LEN = 12
MIN_MARGIN = 2e-4  # top-1 minus top-2 logit over the largest |logit|, every step

FIXTURES = [
    # GQA 4:1, tied embeddings, head_dim 16 != hidden/heads (8), llama3 rope
    # scaling with a small original context so every band (kept, smoothed,
    # divided by factor) is exercised within 28 positions.
    dict(name="gqa4-tied-llama3", hidden_size=64, intermediate_size=160, num_hidden_layers=2,
         num_attention_heads=8, num_key_value_heads=2, head_dim=16, vocab_size=384,
         tie_word_embeddings=True, rope_theta=500000.0,
         rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                           original_max_position_embeddings=64),
         rms_norm_eps=1e-5, config_format="legacy", save_dtype="float32", init_std=0.1),
    # Plain multi-head attention, untied, no rope scaling (rope_scaling: null).
    dict(name="mha-untied-norope", hidden_size=48, intermediate_size=128, num_hidden_layers=2,
         num_attention_heads=4, num_key_value_heads=4, head_dim=None, vocab_size=320,
         tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=None,
         rms_norm_eps=1e-6, config_format="legacy", save_dtype="float32", init_std=0.1),
    # GQA 2:1, head_dim 24 with hidden 64 / 4 heads, llama3 factor 32, config.json
    # as transformers 5 writes it (rope_parameters, dtype).
    dict(name="gqa2-headdim24-v5config", hidden_size=64, intermediate_size=96, num_hidden_layers=3,
         num_attention_heads=4, num_key_value_heads=2, head_dim=24, vocab_size=256,
         tie_word_embeddings=False, rope_theta=500000.0,
         rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                           original_max_position_embeddings=32),
         rms_norm_eps=1e-5, config_format="native", save_dtype="float32", init_std=0.1),
    # Multi-query (1 KV head), tied, saved in several shards with
    # model.safetensors.index.json, eos as a list.
    dict(name="mqa-tied-sharded", hidden_size=32, intermediate_size=80, num_hidden_layers=3,
         num_attention_heads=4, num_key_value_heads=1, head_dim=8, vocab_size=512,
         tie_word_embeddings=True, rope_theta=10000.0,
         rope_scaling=dict(rope_type="llama3", factor=4.0, low_freq_factor=1.0, high_freq_factor=2.0,
                           original_max_position_embeddings=48),
         rms_norm_eps=1e-5, config_format="legacy", save_dtype="float32", init_std=0.15,
         max_shard_size="40KB", eos_token_id=[2, 3]),
    # Weights stored as bf16 (reference: the same bf16 values computed in f32).
    dict(name="gqa2-bf16", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
         num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=256,
         tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=None,
         rms_norm_eps=1e-6, config_format="legacy", save_dtype="bfloat16", init_std=0.1),
]


def build_config(f):
    kw = dict(hidden_size=f["hidden_size"], intermediate_size=f["intermediate_size"],
              num_hidden_layers=f["num_hidden_layers"], num_attention_heads=f["num_attention_heads"],
              num_key_value_heads=f["num_key_value_heads"], vocab_size=f["vocab_size"],
              tie_word_embeddings=f["tie_word_embeddings"], rms_norm_eps=f["rms_norm_eps"],
              max_position_embeddings=128, hidden_act="silu", attention_bias=False, mlp_bias=False,
              bos_token_id=1, eos_token_id=f.get("eos_token_id", 2), pad_token_id=None,
              initializer_range=f["init_std"])
    if f["head_dim"] is not None:
        kw["head_dim"] = f["head_dim"]
    # transformers >= 5 keeps rope settings in rope_parameters; older ones in
    # rope_theta + rope_scaling. Give whichever this version understands.
    rope = dict(f["rope_scaling"] or {"rope_type": "default"})
    rope["rope_theta"] = f["rope_theta"]
    try:
        cfg = LlamaConfig(rope_parameters=rope, **kw)
        got = getattr(cfg, "rope_parameters", None)
        if not got or got.get("rope_type") != rope["rope_type"] or float(got.get("rope_theta")) != f["rope_theta"]:
            raise TypeError("rope_parameters not taken")
    except TypeError:
        cfg = LlamaConfig(rope_theta=f["rope_theta"], rope_scaling=f["rope_scaling"], **kw)
    try:
        cfg._attn_implementation = "eager"
    except Exception:
        pass
    return cfg


def init_weights(model, seed, std):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.4 * (torch.rand(p.shape, generator=g) - 0.5))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * std)


def greedy(model, prompt):
    ids = list(prompt)
    steps, greedy_ids, margins = [], [], []
    prompt_logits = None
    with torch.no_grad():
        for _ in range(N_STEPS):
            out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
            logits = out.logits[0].float()
            if prompt_logits is None:
                prompt_logits = logits.clone()
            last = logits[-1]
            top = torch.topk(last, 2)
            margins.append(float((top.values[0] - top.values[1]) / last.abs().max()))
            nxt = int(torch.argmax(last))
            steps.append(last.clone())
            greedy_ids.append(nxt)
            ids.append(nxt)
    return prompt_logits, torch.stack(steps), greedy_ids, min(margins)


def legacy_config(path, f):
    with open(path) as fh:
        c = json.load(fh)
    c.pop("rope_parameters", None)
    c["rope_theta"] = f["rope_theta"]
    c["rope_scaling"] = f["rope_scaling"]
    if "dtype" in c:
        c["torch_dtype"] = c.pop("dtype")
    with open(path, "w") as fh:
        json.dump(c, fh, indent=2, sort_keys=True)


def save(model, d, f):
    kwargs = {}
    if f.get("max_shard_size"):
        kwargs["max_shard_size"] = f["max_shard_size"]
    m = model.to(torch.bfloat16) if f["save_dtype"] == "bfloat16" else model
    m.save_pretrained(d, **kwargs)
    model.float()


def reload_logits(d, prompt):
    try:
        m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        m = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32, attn_implementation="eager")
    m.eval()
    with torch.no_grad():
        return m(input_ids=torch.tensor([prompt], dtype=torch.long), use_cache=False).logits[0].float()


def make(f, out_root, versions):
    d = os.path.join(out_root, f["name"])
    for attempt in range(50):
        seed = 1000 * (FIXTURES.index(f) + 1) + attempt
        torch.manual_seed(seed)
        cfg = build_config(f)
        model = LlamaForCausalLM(cfg).float().eval()
        init_weights(model, seed, f["init_std"])
        if f["save_dtype"] == "bfloat16":
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(p.to(torch.bfloat16).float())
        g = torch.Generator().manual_seed(seed + 7)
        prompt = torch.randint(4, f["vocab_size"], (PROMPT_LEN,), generator=g).tolist()
        prompt_logits, step_logits, greedy_ids, margin = greedy(model, prompt)
        if margin >= MIN_MARGIN:
            break
        print(f"{f['name']}: seed {seed}: top-2 margin {margin:.2e} too small, next seed", flush=True)
    if os.path.exists(d):
        shutil.rmtree(d)
    save(model, d, f)
    if f["config_format"] == "legacy":
        legacy_config(os.path.join(d, "config.json"), f)
    reloaded = reload_logits(d, prompt)
    reload_err = float((reloaded - prompt_logits).abs().max() / prompt_logits.abs().max())
    if reload_err > 1e-6:
        # The reference is the in-memory model; say loudly that HF reads the files differently.
        print(f"{f['name']}: WARNING: from_pretrained of the saved files changes the logits "
              f"(rel err {reload_err:.2e})", flush=True)
    prompt_logits.numpy().astype("<f4").tofile(os.path.join(d, "logits_prompt.f32"))
    step_logits.numpy().astype("<f4").tofile(os.path.join(d, "logits_steps.f32"))
    ref = dict(fixture=f["name"], seed=seed, prompt_ids=prompt, greedy_ids=greedy_ids,
               vocab_size=f["vocab_size"], n_steps=N_STEPS,
               logits_prompt=dict(file="logits_prompt.f32", dtype="float32-le", shape=[len(prompt), f["vocab_size"]]),
               logits_steps=dict(file="logits_steps.f32", dtype="float32-le", shape=[N_STEPS, f["vocab_size"]]),
               min_top2_margin_rel=margin, reload_rel_err=reload_err, settings=f, versions=versions)
    with open(os.path.join(d, "reference.json"), "w") as fh:
        json.dump(ref, fh, indent=2)
    print(f"{f['name']}: ok seed {seed} greedy {greedy_ids} margin {margin:.3e} reload {reload_err:.1e}", flush=True)


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else "tests/data/models"
    os.makedirs(out_root, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    versions = dict(python=platform.python_version(), torch=torch.__version__,
                    transformers=transformers.__version__, platform=platform.platform())
    try:
        import safetensors
        versions["safetensors"] = safetensors.__version__
    except Exception:
        pass
    print("versions:", versions, flush=True)
    failed = 0
    for f in FIXTURES:
        try:
            make(f, out_root, versions)
        except Exception:
            failed += 1
            print(f"{f['name']}: FAILED", flush=True)
            traceback.print_exc()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

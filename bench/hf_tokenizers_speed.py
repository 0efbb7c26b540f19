#!/usr/bin/env python3
"""HF `tokenizers` (Rust) speed on the same text and tokenizer.json as
bench_tokenizer, single-threaded, for comparison.

  python3 bench/hf_tokenizers_speed.py --tokenizer tokenizer.json --text text.txt \
      [--split whole|lines|both] [--repeat R] [--write-ids FILE] [--corpus corpus.jsonl --corpus-ids FILE]

`whole` encodes the text in one call, `lines` each line on its own (one
`encode` call per line, no encode_batch), as bench_tokenizer does. No special
tokens are added. --write-ids saves the ids of the whole text (space-separated)
so they can be compared with `bench_tokenizer --write-ids`; --corpus encodes
each string of the parity corpus and writes its ids one line per string, in
the format of `llamajoule tokenize`.
"""
import argparse
import json
import os
import time

# One thread: no rayon pool inside tokenizers.
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--split", default="both", choices=["whole", "lines", "both"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-ids")
    ap.add_argument("--corpus")
    ap.add_argument("--corpus-ids")
    a = ap.parse_args()

    t0 = time.perf_counter()
    tok = Tokenizer.from_file(a.tokenizer)
    load_s = time.perf_counter() - t0
    raw = open(a.text, "rb").read()
    text = raw.decode("utf-8")
    mb = len(raw) / 1e6
    print(f"tokenizers {tokenizers.__version__}: {a.tokenizer} (loaded in {load_s:.3f} s)")
    print(f"text: {a.text}, {len(raw)} bytes ({mb:.2f} MB)", flush=True)

    if a.corpus and a.corpus_ids:
        with open(a.corpus, encoding="utf-8") as f, open(a.corpus_ids, "w") as out:
            n = 0
            for line in f:
                if line.strip():
                    s = json.loads(line)
                    out.write(" ".join(map(str, tok.encode(s, add_special_tokens=False).ids)) + "\n")
                    n += 1
        print(f"corpus: {n} strings encoded -> {a.corpus_ids}", flush=True)

    for split in ("whole", "lines"):
        if a.split not in (split, "both"):
            continue
        pieces = [text] if split == "whole" else text.split("\n")
        secs, n_tokens, ids_whole = [], 0, None
        for _ in range(max(1, a.repeat)):
            start = time.perf_counter()
            n_tokens = 0
            for p in pieces:
                enc = tok.encode(p, add_special_tokens=False)
                n_tokens += len(enc.ids)
                if split == "whole":
                    ids_whole = enc.ids
            secs.append(time.perf_counter() - start)
        secs.sort()
        best, median = secs[0], secs[len(secs) // 2]
        print(f"hf-tokenizers split={split}: {n_tokens} tokens, best {best:.3f} s = {mb / best:.2f} MB/s, "
              f"median {median:.3f} s = {mb / median:.2f} MB/s ({n_tokens / 1e6 / median:.2f} M tokens/s), "
              f"{len(secs)} runs, 1 thread", flush=True)
        if split == "whole" and a.write_ids:
            with open(a.write_ids, "w") as f:
                f.write(" ".join(map(str, ids_whole)) + "\n")


if __name__ == "__main__":
    main()

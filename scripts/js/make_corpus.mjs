// Builds tests/data/tokenizer/corpus.jsonl: the tokenizer parity corpus.
// Deterministic (seeded PRNG): the same file on every run. One JSON string per
// line: first the hand-written cases (tests/data/tokenizer/hand_written.jsonl),
// then generated strings covering code, many scripts, emoji sequences, digit
// and whitespace runs, CRLF, contractions in any case, inline special tokens,
// punctuation, URLs, JSON, math and combining marks.
//   node scripts/js/make_corpus.mjs [out.jsonl]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dataDir = join(root, "tests", "data", "tokenizer");
const outPath = process.argv[2] ?? join(dataDir, "corpus.jsonl");

// mulberry32: small, seeded, the same everywhere.
let seed = 0x11a3a5f;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));  // [lo, hi]
const pick = (a) => a[Math.floor(rand() * a.length)];
const repeat = (n, f) => Array.from({ length: n }, f);
const randCase = (s) => [...s].map((c) => (rand() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join("");

const words = {
  english: "the quick brown fox jumps over lazy dog energy inference measured power watts joules token layer attention people government between understanding".split(" "),
  french: "être où déjà façon garçon élève naïve cœur château hôpital".split(" "),
  german: "Straße Größe Übermaß Fußgänger schön Mädchen Äpfel Öffnung".split(" "),
  spanish: "niño mañana corazón acción pingüino año señor".split(" "),
  vietnamese: "Tiếng Việt người được những không nước trường".split(" "),
  polish: "zażółć gęślą jaźń źdźbło łódź".split(" "),
  turkish: "İstanbul ılık şeker çiçek ağaç öğrenci".split(" "),
  russian: "Привет мир энергия вычисление трансформер Москва ёлка".split(" "),
  ukrainian: "Україна їжак ґанок європейський".split(" "),
  greek: "Καλημέρα κόσμε ενέργεια λόγος ψυχή Ωμέγα".split(" "),
  hebrew: "שלום עולם אנרגיה מחשב תודה".split(" "),
  arabic: "مرحبا بالعالم الطاقة الحاسوب شكرا العربية".split(" "),
  persian: "سلام دنیا انرژی کامپیوتر".split(" "),
  hindi: "नमस्ते दुनिया ऊर्जा संगणक हिन्दी क्षत्रिय".split(" "),
  bengali: "বাংলা ভাষা শক্তি".split(" "),
  tamil: "வணக்கம் உலகம் தமிழ்".split(" "),
  thai: "สวัสดีชาวโลก พลังงาน คอมพิวเตอร์ ภาษาไทย".split(" "),
  chinese: "你好世界 能量 计算机 推理 模型 中文字符 繁體中文".split(" "),
  japanese: "こんにちは世界 エネルギー カタカナ ひらがな 東京都".split(" "),
  korean: "안녕하세요 세계 에너지 컴퓨터 한국어".split(" "),
  georgian: "გამარჯობა მსოფლიო".split(" "),
  armenian: "Բարեւ աշխարհ".split(" "),
  amharic: "ሰላም ዓለም".split(" "),
  khmer: "សួស្តី ពិភពលោក".split(" "),
};
const allWords = Object.values(words).flat();

// Code point ranges of long-assigned characters (Unicode <= 12) in many scripts.
const ranges = [
  [0x41, 0x5a], [0x61, 0x7a], [0xc0, 0xff], [0x100, 0x17f], [0x180, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff],
  [0x531, 0x556], [0x5d0, 0x5ea], [0x620, 0x64a], [0x660, 0x669], [0x900, 0x97f], [0x980, 0x9fb], [0xb80, 0xbfa],
  [0xe01, 0xe5b], [0x10a0, 0x10ff], [0x1100, 0x11ff], [0x1200, 0x137c], [0x1e00, 0x1eff], [0x2000, 0x206f],
  [0x20a0, 0x20bf], [0x2100, 0x214f], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2500, 0x257f], [0x2600, 0x26ff],
  [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0xff01, 0xff5e], [0x1f300, 0x1f5ff],
  [0x1f600, 0x1f64f], [0x1f680, 0x1f6c5], [0x1d400, 0x1d4ff], [0x300, 0x36f],
];
const randChar = () => {
  const [lo, hi] = pick(ranges);
  return String.fromCodePoint(int(lo, hi));
};

const spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ", " \t ",
  "\u00a0", "\u3000", "\u2003", "\u000b", "\f", "\u2028", "    ", "        ", " \r\n  "];
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
const punct = ["!", "?", ".", ",", ";", ":", "...", "!!!", "?!", "—", "–", "-", "--", "(", ")", "[", "]", "{", "}",
  "\"", "'", "`", "«", "»", "„", "“", "”", "‘", "’", "…", "。", "、", "，", "！", "？", "·", "•", "/", "\\", "|",
  "@", "#", "$", "%", "^", "&", "*", "+", "=", "~", "<", ">", "_", "<<", ">>=", "->", "=>", "::", "&&", "||"];
const emoji = ["😀", "👍", "👍🏻", "👍🏽", "👍🏿", "👩‍💻", "🧑🏽‍💻", "👨‍👩‍👧‍👦", "👩🏾‍🤝‍👩🏼", "🏳️‍🌈", "🏴‍☠️",
  "❤️", "❤️‍🔥", "🇫🇷", "🇯🇵", "🇺🇸", "1️⃣", "#️⃣", "✌🏼", "🤷‍♀️", "🙇🏿‍♂️", "🐕‍🦺", "☺️", "⚡", "🔋", "🌍"];
const specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
  "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_0|>",
  "<|reserved_special_token_17|>", "<|reserved_special_token_247|>"];
const nearSpecials = ["<|eot_id", "<|EOT_ID|>", "<| eot_id |>", "<|eot_id|", "|eot_id|>", "<<|eot_id|>>",
  "<|reserved_special_token_999|>", "<|>", "<||>", "<|begin_of_text|"];

const gen = {
  prose: () => repeat(int(3, 25), () => pick(words.english)).join(" ") + pick([".", "!", "?", "", "\n"]),
  script: () => { const w = pick(Object.values(words)); return repeat(int(1, 12), () => pick(w)).join(pick([" ", " ", "", "、", ", "])); },
  mixedScripts: () => repeat(int(2, 10), () => pick(allWords)).join(pick([" ", "", "-", "_"])),
  randomChars: () => repeat(int(1, 40), () => (rand() < 0.2 ? pick(spaces) : randChar())).join(""),
  digits: () => {
    const n = int(1, 40);
    const run = repeat(n, () => String(int(0, 9))).join("");
    return pick([run, `x${run}y`, ` ${run} `, `${run}.${int(0, 99999)}`, `${run},${run}`, `-${run}`, `v${int(0, 9)}.${run}`,
      `${run}abc`, `\u0663\u0664${run}`, `٣٤٥${run}`, `１２３${run}`]);
  },
  whitespace: () => repeat(int(1, 8), () => (rand() < 0.5 ? pick(spaces).repeat(int(1, 4)) : pick(words.english))).join(""),
  crlf: () => repeat(int(2, 6), () => pick(allWords) + (rand() < 0.5 ? " " : "")).join("\r\n") + pick(["", "\r\n", "\r\n\r\n"]),
  contractions: () => repeat(int(1, 6), () => pick(["I", "you", "he", "it", "we", "they", "don", "can", "won", "that", "A", " x"]) +
    randCase(pick(contractions)) + pick([" ", "", "  ", "\n", "s", "!"])).join(""),
  specialInline: () => repeat(int(1, 6), () => (rand() < 0.6 ? pick(specials) : rand() < 0.3 ? pick(nearSpecials) :
    pick([pick(words.english), " ", "\n\n", "user", "assistant", pick(allWords), ""]))).join(""),
  punctuation: () => repeat(int(1, 15), () => pick(punct) + (rand() < 0.3 ? " " : "") + (rand() < 0.2 ? pick(words.english) : "")).join(""),
  url: () => `${pick(["https", "http", "ftp"])}://${pick(["example.com", "hf.co", "日本.jp", "a-b.org"])}/` +
    repeat(int(0, 4), () => pick(words.english)).join("/") + pick(["", "?q=1&x=%20y", "#frag", ".html", "/?a[]=1"]),
  json: () => JSON.stringify(Object.fromEntries(repeat(int(1, 5), () => [pick(allWords), pick([int(0, 1e6), pick(allWords), null, true, [1.5, -2e-3], { k: "v" }])])),
    null, pick([0, 2, "\t"])),
  math: () => pick(["∑_{i=1}^{n} x_i² ≤ ∫₀^∞ e^{-x} dx", "\\frac{a}{b} + \\sqrt{x^2+y^2}", "E = mc²", "∀x∈ℝ: x² ≥ 0",
    "α+β=γ", "f(x) = 3x^3 - 2x + 1", "½ + ¼ = ¾", "∂f/∂x ≈ Δf/Δx", "𝔽₂ ⊂ ℂ", "x≠y ⟹ ¬(x=y)"]) + " " + pick(punct) + int(0, 1000),
  combining: () => repeat(int(1, 6), () => pick(["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0351\u0354\u036a",
    "\u0915\u094d\u0937", "\u0e01\u0e34\u0e4a", "i\u0307", "\u05e9\u05c1", "\u0627\u064b", " \u0301", "\u0301"]) + pick(["", " ", "x"])).join(""),
  emoji: () => repeat(int(1, 8), () => pick(emoji) + pick(["", "", " ", "\u200d", "\ufe0f", pick(words.english)])).join(""),
  code: () => pick(codeSnippets)().replace(/NAME/g, () => pick(["foo", "bar_baz", "camelCase", "x1", "déjà", "变量", "SNAKE_CASE"])),
  longRun: () => pick([
    () => pick(["a", "ab", "z", "é", "文", "ก"]).repeat(int(50, 2000)),
    () => repeat(int(100, 1500), () => String.fromCharCode(int(97, 122))).join(""),
    () => String(int(0, 9)).repeat(int(50, 600)),
    () => pick([" ", "\n", "\t", "\r\n", " \n"]).repeat(int(20, 500)) + pick(["", "x", " end"]),
    () => pick(["!", "-", "=", "*", "#", "😀"]).repeat(int(30, 800)),
    () => repeat(int(30, 200), () => gen.prose()).join(" "),
  ])(),
};

const codeSnippets = [
  () => "int NAME(int argc, char **argv) {\n  for (int i = 0; i < argc; i++) printf(\"%s\\n\", argv[i]);\n  return 0;\n}\n",
  () => "def NAME(x: int) -> list[int]:\n    \"\"\"Docstring.\"\"\"\n    return [i ** 2 for i in range(x) if i % 2 == 0]\n",
  () => "const NAME = async (a, b) => {\n\tconst r = await fetch(`/api/${a}?b=${b}`);\n\treturn r.json();\n};",
  () => "fn NAME<'a>(s: &'a str) -> Option<&'a str> {\n    s.split_whitespace().next()\n}\n",
  () => "func NAME(ctx context.Context) error {\n\tif err := run(ctx); err != nil {\n\t\treturn fmt.Errorf(\"run: %w\", err)\n\t}\n\treturn nil\n}",
  () => "SELECT NAME, COUNT(*) AS n FROM t WHERE x >= 10 AND y <> 'z' GROUP BY 1 ORDER BY n DESC;",
  () => "<div class=\"NAME\" id='x'>\n  <p>Hello &amp; welcome</p>\n</div>\n<!-- comment -->",
  () => "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}'\ndone 2>&1 >/dev/null",
  () => "\\begin{equation}\n  NAME = \\sum_{k=0}^{\\infty} \\frac{x^k}{k!}\n\\end{equation}",
  () => "    if (NAME != nullptr && NAME->size() > 0u) { std::cout << NAME->at(0) << std::endl; }\r\n",
  () => "class NAME(Base):\n    def __init__(self):\n        super().__init__()\n        self._cache = {}  # TODO: LRU\n",
  () => "x = [0x1F, 0b1010, 1_000_000, 3.14e-10, .5, 1e+3]; y = x[-1:] # NAME",
];

const hand = readFileSync(join(dataDir, "hand_written.jsonl"), "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
const counts = { prose: 120, script: 260, mixedScripts: 120, randomChars: 260, digits: 160, whitespace: 160, crlf: 80,
  contractions: 140, specialInline: 140, punctuation: 120, url: 60, json: 60, math: 50, combining: 80, emoji: 120,
  code: 120, longRun: 40 };
const corpus = [...hand];
for (const [kind, n] of Object.entries(counts)) for (let i = 0; i < n; i++) corpus.push(gen[kind]());
// A text must be a NUL-free string (the CLI separates texts by NUL) and non-empty is not required.
for (const s of corpus) if (s.includes("\0")) throw new Error("corpus string holds NUL");
writeFileSync(outPath, corpus.map((s) => JSON.stringify(s)).join("\n") + "\n");
console.error(`make_corpus: ${corpus.length} strings (${hand.length} hand-written) -> ${outPath}`);

#!/usr/bin/env python3
"""Tokenizer goldens for loom, computed with the reference Python libraries.

Writes into --out (default tests/fixtures/tokenizer/):

  corpus.jsonl          one JSON string per line: the test corpus (seeded, generated here, no downloads)
  gemma3_ids.jsonl      one JSON object per corpus line (same order): token ids from the Hugging Face
                        tokenizer built from the Gemma 3 270M GGUF, with and without special-token
                        parsing, decode(ids), round-trip flags, and SentencePiece's ids where they differ
  gemma3_specials.json  every CONTROL / USER_DEFINED token of the GGUF (id, string, type) and how the
                        HF tokenizer carries it
  gemma3_meta.json      versions, SHA-256 of the GGUF and of the generated tokenizer.json, the
                        long-input (whole corpus as one text) results, and a description of every field

The HF tokenizer.json made from the GGUF is ~33 MB, so it is not committed: it is regenerated into
--cache (default .cache/fixtures/gemma3-270m-tokenizer/) and its SHA-256 is recorded in gemma3_meta.json.

Deterministic: two runs give byte-identical files (fixed seed, no timestamps, sorted keys).
The encode speed is measured only with --bench, and only printed (it is not deterministic).

Usage:
  .cache/venv-reference/bin/python scripts/reference/make_tokenizer_goldens.py [--gguf PATH] [--out DIR]
      [--cache DIR] [--bench]
Needs: transformers, tokenizers, gguf, sentencepiece, protobuf (to read the GGUF / rebuild the SPM model).
"""

import os

# Single-threaded tokenizers everywhere (the speed we report is single-thread; outputs do not depend on it).
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import hashlib
import json
import random
import re
import struct
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = 20261127

# ---------------------------------------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------------------------------------

# json.dumps(ensure_ascii=False) escapes U+0000..U+001F but writes these raw. They are line breaks for some
# readers (Python's str.splitlines, some editors), so escape them too: the parsed value is the same.
_LINE_BREAKERS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029", "\x7f": "\\u007f"}


def jdump(obj, **kw):
    s = json.dumps(obj, ensure_ascii=False, sort_keys=True, **kw)
    for ch, esc in _LINE_BREAKERS.items():
        s = s.replace(ch, esc)
    return s


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ids_sha256(ids):
    """SHA-256 of the ids as consecutive little-endian uint32 values."""
    return sha256_bytes(struct.pack("<%dI" % len(ids), *ids))


# ---------------------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------------------

WORDS = {
    "en": "the quick brown fox jumps over lazy dog and it was a dark stormy night when I heard "
    "someone knocking at door of my small house near river people often say that time flies but "
    "nobody knows where goes weather today is surprisingly warm for November children played in "
    "park while their parents talked about economy inflation interest rates machine learning "
    "model tokenizer inference engine latency throughput memory bandwidth cache don't can't "
    "won't it's they're we've I'd you'll O'Brien naïve café résumé coöperate façade",
    "fr": "le la les un une des et est dans pour avec sur pas plus très été à où ça déjà "
    "français garçon cœur œuvre fenêtre hôpital élève forêt naïf Noël château être avoir "
    "aujourd'hui qu'il l'été s'il-vous-plaît crème brûlée tête-à-tête ambiguë Ça Éric",
    "de": "der die das und ist nicht ein eine mit für auf Straße Größe Mädchen Übung Äpfel "
    "Öl schön müssen hören fünf Fußgängerübergang Donaudampfschifffahrtsgesellschaft "
    "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz Grüße ẞ weiß",
    "es": "el la los las de que y en un una por con para es está año niño señor mañana "
    "corazón canción ¿Dónde está? ¡Hola! pingüino acción búsqueda además también quizás",
    "pt": "o a os as de que e em um uma não são coração ação informação pão mãe irmã "
    "você está avó avô João São Paulo bênção lição órgão",
    "it": "il lo la gli le di che e è un una città perché più però così caffè virtù "
    "università Niccolò lunedì cioè giù",
    "pl": "i w nie na się że jest to z do być mieć łódź źdźbło żółć gęślą jaźń zażółć "
    "Kraków Gdańsk Łódź pięść świątynia",
    "cs": "a je se na že to v s z příliš žluťoučký kůň úpěl ďábelské ódy Čeština "
    "řeřicha Dvořák Brno",
    "tr": "ve bir bu da için ile çok değil İstanbul ığdır şeker çiçek göz ılık "
    "Ankara Türkçe öğrenci ağaç",
    "vi": "và của là có không một những được người Việt Nam tiếng phở Hà Nội "
    "Thành phố Hồ Chí Minh nguyễn trường học đường xin chào cảm ơn",
    "is": "og að er það sem á í ekki þú hann Þórður Ísland ævintýri eða "
    "sjö dýr fjörður hraun",
    "ro": "și în este un o pe la că nu cu să țară școală București învățătură"
    " mâine ș ț ă î â",
    "hu": "és a az hogy nem egy van meg ő Árvíztűrő tükörfúrógép Győr Szeged "
    "köszönöm szőlő",
    "sv": "och att det som en på är för med Ångström Malmö Göteborg räksmörgås "
    "smörgåsbord ø æ å Øresund",
    "ru": "и в не на я быть он с что а по это она этот к но они мы как из у "
    "который то за свой что весь год от так о для ещё же Москва Россия "
    "ёлка съешь же ещё этих мягких французских булок да выпей чаю",
    "uk": "і в не на що з до як це та він вона Київ Україна ґанок їжак "
    "європейський щастя Львів",
    "el": "και το η ο να του της σε με για που είναι δεν θα από Αθήνα "
    "Ελλάδα ξεσκεπάζω ψυχοφθόρα βδελυγμία γλώσσα αλφάβητο Ωμέγα ΐ ΰ",
    "ar": "في من على إلى أن هذا التي الذي كان عن مع هو هي لا ما القاهرة "
    "اللغة العربية مرحبا شكرا كتاب مدرسة الحاسوب ٱلرَّحْمَٰنِ",
    "he": "של את על זה לא הוא היא עם כל אני ירושלים תל אביב שלום תודה "
    "עברית ספר בית ספר מחשב שָׁלוֹם",
    "hi": "और का के की है में से को यह वह नहीं भारत हिन्दी नमस्ते धन्यवाद "
    "दिल्ली मुंबई किताब विद्यालय कंप्यूटर क्षत्रिय ज्ञान",
    "th": "และ ของ ที่ ใน เป็น ไม่ มี ได้ ให้ การ ภาษาไทย สวัสดี ขอบคุณ "
    "กรุงเทพมหานคร โรงเรียน คอมพิวเตอร์ เด็กๆ",
    "zh": "的 一 是 不 了 在 人 有 我 他 这 个 们 中 来 上 大 为 和 国 北京 上海 "
    "中华人民共和国 计算机 人工智能 自然语言处理 你好 谢谢 繁體中文 龍 鬱",
    "ja": "の に は を た が で て と し れ さ ある いる 日本 東京 ひらがな "
    "カタカナ ありがとう こんにちは 漢字 コンピューター ｶﾀｶﾅ 東京都庁 ゐ ゑ ヴ",
    "ko": "이 그 저 것 수 등 들 및 에서 으로 한국 서울 한국어 안녕하세요 "
    "감사합니다 컴퓨터 대한민국 학교 똠방각하 펲시콜라",
}

# Joiners between words: CJK and Thai are usually written without spaces.
NO_SPACE_LANGS = {"zh", "ja", "th"}

PANGRAMS = [
    "The quick brown fox jumps over the lazy dog.",
    "Portez ce vieux whisky au juge blond qui fume.",
    "Victor jagt zwölf Boxkämpfer quer über den großen Sylter Deich.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi.",
    "Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.",
    "Tiếng Việt có dấu: Ầ ẩ ẫ ậ ắ ằ ẳ ẵ ặ ế ề ể ễ ệ.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إذ بَزَغَت",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า",
    "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ",
    "イロハニホヘト チリヌルヲ ワカヨタレソ ツネナラム",
    "다람쥐 헌 쳇바퀴에 타고파",
    "Árvíztűrő tükörfúrógép",
    "Þú dansaðir ávallt með köttum og æfðir ýmsar brellur.",
]

PUNCT = [".", ",", "!", "?", ";", ":", "…", " —", " -", "...", "?!", "。", "、", "！", "？", "،", "؟", "।", "«", "»", "\"", "'"]

CODE_PY = [
    'def {f}({a}, {b}=None):\n    """Return the {w} of {a}."""\n    if {b} is None:\n        {b} = []\n    return [{a} * 2 for _ in range({n})]\n',
    "import os\nimport sys\n\nfrom typing import List, Dict\n\n\nclass {F}:\n    def __init__(self):\n        self.{a} = {n}\n",
    "for {a} in range({n}):\n\tif {a} % 3 == 0:\n\t\tprint(f\"{{{a}}} is divisible by 3\")\n",
    "x = {{'{a}': {n}, '{b}': [1, 2, 3], \"nested\": {{\"k\": None}}}}\nprint(x['{a}'])  # {w}\n",
    "async def {f}():\n    async with session.get('https://example.com/{w}') as r:\n        return await r.json()\n",
    "try:\n    {a} = int(input())\nexcept ValueError as e:\n    raise SystemExit(1) from e\n",
    "lambda {a}, *args, **kwargs: {a} ** 2 if {a} >= 0 else -{a}",
    "@dataclass(frozen=True)\nclass {F}:\n    {a}: int = {n}\n    {b}: str = \"{w}\"\n",
    "with open('{w}.txt', 'rb') as fh:\n    data = fh.read().decode('utf-8', errors='replace')\n",
]

CODE_CPP = [
    "#include <vector>\n#include <string>\n\nint {f}(const std::vector<int>& {a}) {{\n  int s = 0;\n  for (int v : {a}) s += v;\n  return s;\n}}\n",
    "template <typename T>\nstruct {F} {{\n    T {a}{{}};\n    explicit {F}(T v) : {a}(v) {{}}\n}};\n",
    "std::unique_ptr<{F}> {a} = std::make_unique<{F}>({n});\nif (!{a}) {{ return nullptr; }}",
    "auto {f} = [&](auto&& {a}) -> decltype(auto) {{ return std::forward<decltype({a})>({a}); }};",
    "namespace loom::{w} {{\n\nconstexpr std::size_t k{F} = {n}u;\n\n}}  // namespace loom::{w}\n",
    "#pragma once\n#define {F}_H_ 1\n/* {w} */\nstatic_assert(sizeof(void*) == 8, \"64-bit only\");\n",
    "for (size_t i = 0; i < n; ++i) {{\n\tout[i] = in[i] * {n}.0f + 0x{h}u;\n}}",
]

CODE_SHELL = [
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.{w}; do\n  echo \"$f\" | tr 'a-z' 'A-Z' >> out.log\ndone\n",
    "cd /tmp && ls -la | grep -E '^d' | awk '{{print $9}}' | sort -u",
    "export PATH=\"$HOME/.local/bin:$PATH\"; {a}=$(( {n} * 2 )); echo ${{{a}}}",
    "curl -fsSL https://example.org/{w}.sh | sh -s -- --prefix=/usr/local 2>&1 | tee install.log",
    "find . -name '*.py' -print0 | xargs -0 sed -i 's/\\t/    /g'",
    "if [ -z \"${{{a}:-}}\" ]; then\n    >&2 echo 'missing {a}'\n    exit 2\nfi",
]

CODE_HTML = [
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{w}</title></head>\n<body>\n<div class=\"{a}\"><p>Hello &amp; welcome</p></div>\n</body>\n</html>\n",
    "<table><thead><tr><th>{a}</th><th>{b}</th></tr></thead><tbody><tr><td>{n}</td><td>{w}</td></tr></tbody></table>",
    "<ul>\n  <li><a href=\"/{w}\">{w}</a></li>\n  <li><strong>{a}</strong> &lt;b&gt; <em>{b}</em></li>\n</ul>",
    "<h1>{w}</h1><h2>{a}</h2><blockquote>{b}</blockquote><code>x &lt; {n}</code><sub>2</sub><sup>3</sup>",
    "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\" alt=\"{w}\">",
    "<span style=\"color:#{h}\">{w}</span><br/><bbox>{n},{n},{n}</bbox><iframe src=\"x\"></iframe><footer>{a}</footer>",
    "<script>\nconst {a} = document.querySelector('#{w}');\n{a}.addEventListener('click', () => alert(`{b} ${{1+1}}`));\n</script>",
]

CODE_OTHER = [
    "SELECT {a}, COUNT(*) AS n FROM {w} WHERE {b} IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT {n};",
    "fn {f}({a}: &[u8]) -> Result<usize, Box<dyn std::error::Error>> {{\n    Ok({a}.len())\n}}",
    "## {w}\n\n- [ ] {a}\n- [x] {b}\n\n```python\nprint({n})\n```\n\n> quote | table |\n> ---|---|\n",
    "{{% if {a} %}}{{{{ {b} | upper }}}}{{% endif %}}",
    "\\begin{{equation}}\n  E = mc^2 \\quad \\int_0^\\infty e^{{-x^2}}\\,dx = \\frac{{\\sqrt{{\\pi}}}}{{2}}\n\\end{{equation}}",
    "package main\n\nimport \"fmt\"\n\nfunc main() {{\n\tfmt.Println(\"{w}\", {n})\n}}\n",
    "key: {w}\nlist:\n  - {a}\n  - {b}\nnested:\n    value: {n}\n    flag: true\n",
    "mov rax, 0x{h}\nxor rbx, rbx\nsyscall ; {w}",
]

EMOJI_BASE = [
    "😀", "😂", "🥲", "😍", "🤔", "🙃", "😭", "👍", "👎", "👋", "🙏", "💪", "🔥", "✨", "🎉", "❤️", "❤", "💔", "⭐", "🌍",
    "🚀", "🐍", "🦀", "☕", "🍕", "🧠", "🤖", "👻", "💩", "🙈", "✅", "❌", "⚠️", "©️", "®", "™️", "↔️", "☺️", "♥",
]
EMOJI_MODIFIABLE = ["👍", "👋", "🙏", "💪", "👩", "👨", "🧑", "👶", "🧒", "✋", "🤙", "👌"]
SKIN = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
ZWJ_SEQ = [
    "👩\u200d👩\u200d👧\u200d👦", "👨\u200d👩\u200d👧", "👩\u200d💻", "🧑\u200d🚀", "👨\u200d🍳", "🏳️\u200d🌈",
    "🏴\u200d☠️", "❤️\u200d🔥", "🐻\u200d❄️", "👁️\u200d🗨️", "🧑🏽\u200d🤝\u200d🧑🏿", "👩🏻\u200d❤️\u200d💋\u200d👨🏾",
    "😶\u200d🌫️", "🐕\u200d🦺", "🧔\u200d♀️",
]
FLAGS = ["FR", "DE", "JP", "US", "GB", "BR", "IN", "CN", "KR", "UA", "IL", "SA", "EU", "UN", "ZZ"]
KEYCAPS = ["#", "*"] + [str(d) for d in range(10)]
SUBDIVISION_FLAGS = ["gbeng", "gbsct", "gbwls"]

SPECIAL_LITERALS = [
    "<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>",
    "<start_of_image>", "<end_of_image>", "<unused0>", "<unused12>", "<unused98>", "<unused99>", "<unused6241>",
    "<unused6242>", "[@BOS@]", "<BOS>", "<Bos>", "< bos>", "<bos >", "<<bos>>", "<bos", "bos>", "</bos>",
    "<eos/>", "<start_of_turn", "start_of_turn>", "<start-of-turn>", "<|turn>", "<turn|>", "<|tool>", "<tool|>",
    "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>", "<|think|>", "<|channel>",
    "<channel|>", "<|image>", "<image|>", "<|image|>", "<|audio>", "<audio|>", "<|audio|>", "<|video|>",
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "</s>", "<s>", "[INST]", "[/INST]", "<table>", "</table>",
    "<td>", "<tr>", "<th>", "<h1>", "</h6>", "<blockquote>", "<strong>", "<em>", "<code>", "</code>", "<bbox>",
    "<div>", "<iframe>", "<footer>", "<TABLE>", "<table >", "<table class=\"x\">", "<mask><mask>", "<pad><pad><pad>",
]

BYTE_LIKE = [
    "<0x41>", "<0x00>", "<0x0A>", "<0x09>", "<0x20>", "<0xFF>", "<0xff>", "<0x7F>", "<0x80>", "<0xE2><0x96><0x81>",
    "<0x>", "<0x1>", "<0x100>", "<0xG1>", "<0X41>", "< 0x41>", "<0x41 >", "0x41", "\\x41", "&#x41;", "&#65;",
    "%41", "\\u0041", "<0x41><0x42><0x43>", "<<0x41>>", "<0x0D><0x0A>", "<0xC3><0xA9>",
]

TLDS = ["com", "org", "net", "io", "dev", "co.uk", "de", "jp", "рф", "中国", "ai"]
URL_PATHS = ["index.html", "api/v1/users", "search", "wiki/Main_Page", "a/b/c/d", "files/report%202024.pdf", "#section-2", "?q=tokenizer&lang=en", "watch?v=dQw4w9WgXcQ", ""]

# Ranges used to draw random code points. Only explicit ranges, so the corpus does not depend on the
# Unicode version of the Python that runs this (unassigned code points in them are fine: byte fallback).
RANGES = {
    "latin1": (0x00C0, 0x00FF),
    "latin_ext_a": (0x0100, 0x017F),
    "latin_ext_b": (0x0180, 0x024F),
    "ipa": (0x0250, 0x02AF),
    "greek": (0x0391, 0x03C9),
    "cyrillic": (0x0400, 0x04FF),
    "armenian": (0x0531, 0x0556),
    "hebrew": (0x05D0, 0x05EA),
    "arabic": (0x0621, 0x064A),
    "devanagari": (0x0904, 0x0939),
    "bengali": (0x0985, 0x09B9),
    "tamil": (0x0B85, 0x0BB9),
    "thai": (0x0E01, 0x0E2E),
    "georgian": (0x10D0, 0x10FA),
    "hangul_jamo": (0x1100, 0x1112),
    "ethiopic": (0x1200, 0x1248),
    "cherokee": (0x13A0, 0x13F4),
    "box": (0x2500, 0x257F),
    "arrows": (0x2190, 0x21FF),
    "math_ops": (0x2200, 0x22FF),
    "dingbats": (0x2700, 0x27BF),
    "cjk_sym": (0x3000, 0x303F),
    "hiragana": (0x3041, 0x3096),
    "katakana": (0x30A1, 0x30FA),
    "cjk": (0x4E00, 0x9FFF),
    "hangul": (0xAC00, 0xD7A3),
    "pua": (0xE000, 0xF8FF),
    "fullwidth": (0xFF01, 0xFF5E),
    "halfwidth_kana": (0xFF66, 0xFF9D),
    "linear_b": (0x10000, 0x1005D),
    "gothic": (0x10330, 0x1034A),
    "musical": (0x1D100, 0x1D126),
    "math_alnum": (0x1D400, 0x1D7FF),
    "emoji": (0x1F300, 0x1F64F),
    "emoji2": (0x1F900, 0x1F9FF),
    "cjk_ext_b": (0x20000, 0x2A6DF),
    "tags": (0xE0020, 0xE007F),
    "pua_plane15": (0xF0000, 0xF00FF),
    "pua_plane16": (0x100000, 0x1000FF),
}

ODD_CHARS = [
    "\u00a0", "\u202f", "\u2007", "\u2009", "\u200a", "\u3000", "\u1680", "\u2002", "\u2003",  # spaces
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u00ad",  # zero-width / soft hyphen
    "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069",  # bidi
    "\u2581", "\u2581\u2581", "\u2582", "_", "\u2028", "\u2029", "\u0085",
    "\ufffd", "\ufffc", "\uffff", "\ufffe", "\U0010ffff", "\U000e0001", "\ufe0f", "\ufe0e", "\U000e0100",
    "\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u0327", "\u0345", "\u20dd", "\u20e3", "\u0489",
    "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x9f", "\x00",
    "ﬁ", "ﬂ", "Ǆ", "ǅ", "ǆ", "ẞ", "ß", "İ", "ı", "ﬀ", "Å", "Å", "Ω", "Ω", "µ", "μ", "K", "K",
    "①", "²", "½", "Ⅻ", "㍿", "㎏", "℃", "™", "℡", "…", "‥", "〜", "～",
]

SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", "", " \n", "\n\n", "   ", "\u3000", "\u00a0"]


class CorpusBuilder:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.lines = []
        self.kinds = []

    def add(self, kind, text):
        self.lines.append(text)
        self.kinds.append(kind)

    # --- helpers ---------------------------------------------------------------------------------
    def ident(self):
        r = self.r
        parts = [r.choice(["get", "set", "load", "parse", "token", "vocab", "merge", "rope", "attn", "kv", "buf", "x", "y", "idx", "n_ctx", "head_dim"]) for _ in range(r.randint(1, 3))]
        return "_".join(parts)

    def code_fill(self, tmpl):
        r = self.r
        return tmpl.format(
            f=self.ident(), F="".join(p.capitalize() for p in self.ident().split("_")), a=self.ident(), b=self.ident(),
            w=r.choice(WORDS["en"].split()), n=r.randint(0, 100000), h="%X" % r.getrandbits(32))

    def rand_chars(self, name, n):
        lo, hi = RANGES[name]
        return "".join(chr(self.r.randint(lo, hi)) for _ in range(n))

    def sentence(self, lang, nwords):
        r = self.r
        words = WORDS[lang].split()
        joiner = "" if lang in NO_SPACE_LANGS and r.random() < 0.7 else " "
        out = joiner.join(r.choice(words) for _ in range(nwords))
        if r.random() < 0.3:
            out = out[:1].upper() + out[1:]
        if r.random() < 0.6:
            out += r.choice(PUNCT)
        return out

    def emoji_item(self):
        r = self.r
        k = r.randint(0, 6)
        if k == 0:
            return r.choice(EMOJI_BASE)
        if k == 1:
            return r.choice(EMOJI_MODIFIABLE) + r.choice(SKIN)
        if k == 2:
            return r.choice(ZWJ_SEQ)
        if k == 3:
            c = r.choice(FLAGS)
            return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in c)
        if k == 4:
            return r.choice(KEYCAPS) + "\ufe0f\u20e3"
        if k == 5:
            sub = r.choice(SUBDIVISION_FLAGS)
            return "\U0001F3F4" + "".join(chr(0xE0000 + ord(ch)) for ch in sub) + "\U000E007F"
        return self.rand_chars(r.choice(["emoji", "emoji2"]), 1)

    def number(self):
        r = self.r
        k = r.randint(0, 17)
        n = r.randint(0, 10 ** r.randint(1, 15))
        if k == 0:
            return str(n)
        if k == 1:
            return "-" + str(n)
        if k == 2:
            return f"{n:,}"
        if k == 3:
            return f"{r.uniform(-1e6, 1e6):.{r.randint(1, 8)}f}"
        if k == 4:
            return f"{r.uniform(0, 10):.3e}"
        if k == 5:
            return f"{n:,}".replace(",", ".") + "," + str(r.randint(0, 99)).zfill(2)
        if k == 6:
            return r.choice(["$", "€", "£", "¥", "₹", "₽", "₩", "CHF "]) + f"{n % 100000:,}.{r.randint(0, 99):02d}"
        if k == 7:
            return f"{r.randint(0, 100)}%"
        if k == 8:
            return f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
        if k == 9:
            return f"+{r.randint(1, 99)} ({r.randint(100, 999)}) {r.randint(100, 999)}-{r.randint(1000, 9999)}"
        if k == 10:
            return r.choice(["0x", "0X", "0b", "0o"]) + r.choice(["%x" % n, "%X" % n, bin(n)[2:], oct(n)[2:]])
        if k == 11:
            return f"v{r.randint(0, 20)}.{r.randint(0, 99)}.{r.randint(0, 999)}" + r.choice(["", "-rc1", "+cu128", ".dev0"])
        if k == 12:
            return ".".join(str(r.randint(0, 255)) for _ in range(4))
        if k == 13:
            return "".join(chr(0xFF10 + int(d)) for d in str(n))  # fullwidth digits
        if k == 14:
            return "".join(chr(0x0660 + int(d)) for d in str(n))  # Arabic-Indic digits
        if k == 15:
            return "".join(chr(0x0966 + int(d)) for d in str(n))  # Devanagari digits
        if k == 16:
            return str(n) * r.randint(2, 6)
        return "3.14159265358979323846264338327950288419716939937510"[: r.randint(3, 52)]

    def url(self):
        r = self.r
        k = r.randint(0, 5)
        host = r.choice(["www.", "", "api.", "docs."]) + r.choice(["example", "google", "huggingface", "github", "wikipedia", "пример", "例え", "xn--80akhbyknj4f"]) + "." + r.choice(TLDS)
        if k <= 2:
            return r.choice(["https://", "http://", "ftp://", "wss://"]) + host + "/" + r.choice(URL_PATHS)
        if k == 3:
            return self.ident().replace("_", ".") + "@" + host
        if k == 4:
            return r.choice(["/usr/local/lib/python3.11/site-packages/", "C:\\Users\\Admin\\Documents\\", "~/.cache/huggingface/hub/", "../../src/", "file:///etc/"]) + self.ident() + r.choice([".py", ".cc", ".json", ".gguf", ".safetensors", ""])
        return f"[{r.choice(WORDS['en'].split())}](https://{host}/{r.choice(URL_PATHS)})"

    def whitespace_run(self):
        r = self.r
        k = r.randint(0, 9)
        if k == 0:
            return " " * r.randint(1, 80)
        if k == 1:
            return "\t" * r.randint(1, 40)
        if k == 2:
            return "\n" * r.randint(1, 40)
        if k == 3:
            return "\r\n" * r.randint(1, 6)
        if k == 4:
            return "\r" * r.randint(1, 4)
        if k == 5:
            return "".join(r.choice([" ", "\t", "\n", "\r"]) for _ in range(r.randint(1, 24)))
        if k == 6:
            return "\u2581" * r.randint(1, 40)
        if k == 7:
            return "".join(r.choice([" ", "\u2581"]) for _ in range(r.randint(2, 12)))
        if k == 8:
            return r.choice(["\u00a0", "\u3000", "\u2003", "\u200b", "\u000b", "\u000c"]) * r.randint(1, 6)
        return " " * r.randint(28, 70) + r.choice(["", "\n", "\t"]) + " " * r.randint(0, 35)

    def fragment(self):
        r = self.r
        k = r.randint(0, 11)
        if k <= 3:
            return self.sentence(r.choice(sorted(WORDS)), r.randint(1, 8))
        if k == 4:
            return self.emoji_item()
        if k == 5:
            return self.number()
        if k == 6:
            return self.url()
        if k == 7:
            return self.whitespace_run()
        if k == 8:
            return r.choice(ODD_CHARS)
        if k == 9:
            return r.choice(SPECIAL_LITERALS)
        if k == 10:
            return r.choice(BYTE_LIKE)
        return self.rand_chars(r.choice(sorted(RANGES)), r.randint(1, 6))

    # --- sections -----------------------------------------------------------------------------------
    def build(self):
        r = self.r
        # Fixed, hand-picked edge cases first.
        fixed = [
            "", " ", "  ", "\n", "\t", "\r", "\r\n", "\u2581", "a", "A", "Hello", "Hello world", " Hello", "Hello ",
            "hello  world", "hello   world", "hello\tworld", "hello\nworld", "hello\n\nworld", " " * 31, " " * 32, " " * 33,
            " " * 62, " " * 64, " " * 100, "a" + " " * 33 + "b", "\t" * 31, "\t" * 32, "\t" * 33, "\n" * 31, "\n" * 32,
            "\n" * 33, "\n" * 70, " \n", "\n ", " \n ", "  \n  \n", "\u2581hello", "hello\u2581world", "\u2581 \u2581",
            "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_turn>", "<end_of_turn>",
            "<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n",
            "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n",
            "<start_of_image>", "<end_of_image>", "[@BOS@]", "<unused0>", "<unused12>", "<unused6241>", "<unused6242>",
            "<0x41>", "<0x00>", "<0xFF>", "<0x0A>", "<table><tr><td>1</td></tr></table>", "<h1>Title</h1>",
            "e\u0301", "\u00e9", "n\u0303", "\u1e9b\u0323", "\u00c5", "A\u030a", "\u212b",
            "\u00a0", "\u200b", "\u200d", "\ufeff", "\ufeffBOM at start", "\ue000", "\U000f0000", "\U0010ffff",
            "\U0001d54f\U0001d560\U0001d55c", "\U00020000\U0002a6d6", "\x00", "a\x00b", "\x7f", "\u0085",
            "😀", "👍🏽", "👩\u200d👩\u200d👧\u200d👦", "🇺🇳", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
            "1️⃣", "12345678901234567890", "3.14159", "1,000,000", "https://example.com/path?q=1&r=2#frag",
            "user@example.com", "C:\\Windows\\System32", "ﬁne", "İstanbul", "ǅungla", "ΐ", "ẞ", "Å", "µ",
        ]
        fixed += PANGRAMS
        fixed += SPECIAL_LITERALS
        fixed += BYTE_LIKE
        for s in fixed:
            self.add("fixed", s)

        # Natural-language-like lines in many scripts.
        for lang in sorted(WORDS):
            for _ in range(80):
                self.add("lang:" + lang, self.sentence(lang, r.randint(1, 24)))
            # A few NFD-decomposed variants (combining marks), stable across Unicode versions.
            for _ in range(8):
                self.add("nfd:" + lang, unicodedata.normalize("NFD", self.sentence(lang, r.randint(3, 15))))
        # Multi-sentence paragraphs with newlines.
        for _ in range(120):
            lang = r.choice(sorted(WORDS))
            sents = [self.sentence(lang, r.randint(3, 20)) for _ in range(r.randint(2, 6))]
            self.add("paragraph", "".join(s + r.choice(SEPARATORS) for s in sents))

        # Code.
        for name, templates, count in (("python", CODE_PY, 140), ("cpp", CODE_CPP, 120), ("shell", CODE_SHELL, 90),
                                       ("html", CODE_HTML, 100), ("code_other", CODE_OTHER, 100)):
            for _ in range(count):
                text = self.code_fill(r.choice(templates))
                if r.random() < 0.2:
                    text = text.replace("    ", "\t")
                if r.random() < 0.1:
                    text = text.replace("\n", "\r\n")
                self.add("code:" + name, text)
        for _ in range(120):
            self.add("code:json", json.dumps(self.rand_json(3), ensure_ascii=r.random() < 0.3,
                                             indent=r.choice([None, None, 1, 2, 4, "\t"]), sort_keys=r.random() < 0.5))

        # Emoji.
        for _ in range(350):
            n = r.randint(1, 8)
            parts = [self.emoji_item() if r.random() < 0.7 else self.sentence("en", r.randint(1, 3)) for _ in range(n)]
            self.add("emoji", r.choice(["", " "]).join(parts))

        # Numbers.
        for _ in range(400):
            parts = [self.number() for _ in range(r.randint(1, 4))]
            self.add("number", r.choice([" ", ", ", " + ", "/", "\n", ""]).join(parts))

        # URLs / e-mail / paths.
        for _ in range(300):
            text = self.url()
            if r.random() < 0.4:
                text = self.sentence("en", r.randint(1, 6)) + " " + text + r.choice(["", ".", ")", ","])
            self.add("url", text)

        # Whitespace.
        for _ in range(420):
            k = r.randint(0, 3)
            if k == 0:
                text = self.whitespace_run()
            elif k == 1:
                text = self.whitespace_run() + self.sentence("en", r.randint(1, 4)) + self.whitespace_run()
            else:
                text = "".join(self.sentence(r.choice(["en", "de", "ru", "zh"]), r.randint(1, 3)) + self.whitespace_run()
                               for _ in range(r.randint(1, 5)))
            self.add("whitespace", text)

        # Odd Unicode.
        for _ in range(300):
            parts = []
            for _ in range(r.randint(1, 6)):
                if r.random() < 0.5:
                    parts.append(r.choice(ODD_CHARS) * r.randint(1, 3))
                else:
                    parts.append(self.sentence(r.choice(sorted(WORDS)), r.randint(1, 3)))
            self.add("odd", "".join(parts))
        for _ in range(120):  # "Zalgo": stacks of combining marks
            base = self.sentence("en", r.randint(1, 3))
            self.add("combining", "".join(ch + "".join(chr(r.randint(0x0300, 0x036F)) for _ in range(r.randint(0, 6))) for ch in base))
        for _ in range(260):  # random code points from many blocks, incl. private use and astral planes
            self.add("random_block", "".join(self.rand_chars(r.choice(sorted(RANGES)), r.randint(1, 12)) for _ in range(r.randint(1, 4))))

        # Byte-token look-alikes and literal special-token strings in context.
        for _ in range(160):
            self.add("byte_like", "".join(r.choice([r.choice(BYTE_LIKE), self.sentence("en", r.randint(1, 3)), " "]) for _ in range(r.randint(1, 5))))
        for _ in range(320):
            parts = []
            for _ in range(r.randint(1, 6)):
                c = r.random()
                if c < 0.45:
                    parts.append(r.choice(SPECIAL_LITERALS))
                elif c < 0.55:
                    parts.append("<unused%d>" % r.randint(0, 6300))
                else:
                    parts.append(self.fragment())
            self.add("special", r.choice(["", " ", "\n"]).join(parts))

        # Random mixtures.
        for _ in range(800):
            self.add("mixed", "".join(self.fragment() + r.choice(["", "", " ", "\n"]) for _ in range(r.randint(1, 10))))

        # A few long lines (long single-word runs and long paragraphs).
        self.add("long", "a" * 3000)
        self.add("long", "ab" * 1500)
        self.add("long", "\u2581" * 2000)
        self.add("long", " " * 2000 + "x")
        self.add("long", "日本語" * 800)
        self.add("long", "🙂" * 600)
        for _ in range(4):
            self.add("long", " ".join(self.fragment() for _ in range(r.randint(200, 400))))
        return self.lines

    def rand_json(self, depth):
        r = self.r
        k = r.randint(0, 6 if depth > 0 else 4)
        if k == 0:
            return r.randint(-10 ** 9, 10 ** 9)
        if k == 1:
            return round(r.uniform(-1000, 1000), r.randint(0, 6))
        if k == 2:
            return self.sentence(r.choice(sorted(WORDS)), r.randint(0, 4))
        if k == 3:
            return r.choice([True, False, None])
        if k == 4:
            return self.fragment()
        if k == 5:
            return [self.rand_json(depth - 1) for _ in range(r.randint(0, 4))]
        return {self.ident(): self.rand_json(depth - 1) for _ in range(r.randint(0, 4))}


def build_corpus(seed=SEED):
    b = CorpusBuilder(seed)
    lines = b.build()
    return lines, b.kinds


# ---------------------------------------------------------------------------------------------------------
# SentencePiece model rebuilt from the GGUF (an independent implementation of the same algorithm)
# ---------------------------------------------------------------------------------------------------------

GGUF_TYPE_NAMES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}


def read_gguf_vocab(gguf_path):
    from gguf import GGUFReader

    reader = GGUFReader(gguf_path)
    f = reader.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = [int(t) for t in f["tokenizer.ggml.token_type"].contents()]
    scores = [float(s) for s in f["tokenizer.ggml.scores"].contents()]
    meta = {}
    for key in ("general.name", "general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                "tokenizer.ggml.add_space_prefix"):
        if key in f:
            v = f[key].contents()
            meta[key] = v.item() if hasattr(v, "item") else v
    meta["has_merges"] = "tokenizer.ggml.merges" in f
    meta["has_precompiled_charsmap"] = "tokenizer.ggml.precompiled_charsmap" in f
    return tokens, types, scores, meta


def build_spm_model(tokens, types, scores, meta):
    """A SentencePiece BPE ModelProto equivalent to the GGUF vocabulary.

    The GGUF stores Gemma's whitespace-run pieces with real spaces ("  "); SentencePiece spells them with
    U+2581, so they are respelled back. Normalizer: identity, no dummy prefix (add_space_prefix is false in
    the GGUF), whitespace escaped to U+2581, no extra-whitespace removal.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    ts = m.trainer_spec
    ts.model_type = pb.TrainerSpec.BPE
    ts.vocab_size = len(tokens)
    ts.byte_fallback = True
    ts.pad_id = int(meta.get("tokenizer.ggml.padding_token_id", 0))
    ts.eos_id = int(meta.get("tokenizer.ggml.eos_token_id", 1))
    ts.bos_id = int(meta.get("tokenizer.ggml.bos_token_id", 2))
    ts.unk_id = int(meta.get("tokenizer.ggml.unknown_token_id", 3))
    ns = m.normalizer_spec
    ns.name = "identity"
    ns.add_dummy_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", False))
    ns.remove_extra_whitespaces = False
    ns.escape_whitespaces = True
    sp_type = {1: pb.ModelProto.SentencePiece.NORMAL, 2: pb.ModelProto.SentencePiece.UNKNOWN,
               3: pb.ModelProto.SentencePiece.CONTROL, 4: pb.ModelProto.SentencePiece.USER_DEFINED,
               5: pb.ModelProto.SentencePiece.UNUSED, 6: pb.ModelProto.SentencePiece.BYTE}
    for i, (tok, ty, sc) in enumerate(zip(tokens, types, scores)):
        p = m.pieces.add()
        if ty == 4 and tok and not tok.strip(" "):
            tok = "\u2581" * len(tok)
        p.piece = tok
        p.score = sc
        p.type = sp_type[ty]
    m.pieces[ts.unk_id].type = pb.ModelProto.SentencePiece.UNKNOWN
    return m.SerializeToString()


# ---------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------


def default_gguf():
    out = subprocess.run([str(REPO / "scripts" / "models.sh"), "gemma3-270m"], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def package_versions():
    import importlib.metadata as md

    vers = {"python": sys.version.split()[0]}
    for pkg in ("transformers", "tokenizers", "sentencepiece", "gguf", "protobuf", "numpy", "torch", "jinja2"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    return vers


def write_text(path, text, written):
    data = text.encode("utf-8")
    path.write_bytes(data)
    written.append((path, len(data), sha256_bytes(data)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "tokenizer"))
    ap.add_argument("--gguf", default=None, help="Gemma 3 270M GGUF (default: scripts/models.sh gemma3-270m)")
    ap.add_argument("--cache", default=str(REPO / ".cache" / "fixtures" / "gemma3-270m-tokenizer"))
    ap.add_argument("--bench", action="store_true", help="measure single-thread encode speed (printed only)")
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    gguf_path = Path(args.gguf or default_gguf()).resolve()
    written = []

    # 1. Corpus ---------------------------------------------------------------------------------------
    lines, kinds = build_corpus()
    corpus_text = "".join(jdump(s) + "\n" for s in lines)
    write_text(out / "corpus.jsonl", corpus_text, written)
    print(f"corpus: {len(lines)} lines, {sum(len(s.encode()) for s in lines)} UTF-8 bytes of text", flush=True)

    # 2. HF tokenizer from the GGUF, saved as tokenizer.json + tokenizer_config.json -------------------
    import tokenizers
    import transformers
    from transformers import AutoTokenizer

    transformers.logging.set_verbosity_error()
    t0 = time.time()
    tok_gguf = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    print(f"loaded HF tokenizer from GGUF in {time.time() - t0:.1f}s: {type(tok_gguf).__name__}", flush=True)
    tok_gguf.save_pretrained(str(cache))
    tok_json = cache / "tokenizer.json"
    tok_cfg = cache / "tokenizer_config.json"
    tok = AutoTokenizer.from_pretrained(str(cache))  # use exactly what was saved
    print(f"saved {tok_json} ({tok_json.stat().st_size} bytes) and {tok_cfg.name}", flush=True)

    # The GGUF-loaded object and the saved/reloaded one must agree (checked on a sample).
    for i in range(0, len(lines), 37):
        a = tok_gguf(lines[i], add_special_tokens=False)["input_ids"]
        b = tok(lines[i], add_special_tokens=False)["input_ids"]
        if a != b:
            raise SystemExit(f"GGUF-loaded and saved tokenizer disagree on line {i}")
    del tok_gguf

    # 3. SentencePiece rebuilt from the GGUF ------------------------------------------------------------
    import sentencepiece as spm

    tokens, types, scores, gguf_meta = read_gguf_vocab(str(gguf_path))
    sp = spm.SentencePieceProcessor(model_proto=build_spm_model(tokens, types, scores, gguf_meta))

    # Sanity checks: the HF tokenizer behaves like Gemma's SentencePiece tokenizer as the GGUF describes it.
    def enc(text, split=False):
        return tok(text, add_special_tokens=False, split_special_tokens=split)["input_ids"]

    checks = {}
    assert gguf_meta.get("tokenizer.ggml.add_space_prefix") is False
    checks["no_dummy_prefix"] = tok.convert_ids_to_tokens(enc("Hello")) == ["Hello"]
    checks["space_is_u2581"] = tok.convert_ids_to_tokens(enc(" Hello")) == ["\u2581Hello"]
    checks["byte_fallback"] = enc("\U000f0000") == [238 + b for b in "\U000f0000".encode()]
    checks["whitespace_run_pieces"] = (enc("a     b") == [tok.convert_tokens_to_ids("a"), 141, tok.convert_tokens_to_ids("b")]
                                       and tokens[141] == " " * 5 and types[141] == 4)
    checks["newline_and_tab_runs"] = enc("\n\n\t\t\t") == [108, 255970]
    checks["control_parsed_by_default"] = enc("<start_of_turn>") == [105] and enc("<bos>") == [2]
    checks["control_not_parsed_with_split_special_tokens"] = 105 not in enc("<start_of_turn>", True) and 2 not in enc("<bos>", True)
    checks["user_defined_matched_in_both_modes"] = enc("<table>") == [168] == enc("<table>", True)
    checks["byte_token_strings_are_text"] = 238 + 0x41 not in enc("<0x41>") + enc("<0x41>", True)
    checks["no_bos_with_add_special_tokens_false"] = enc("hi")[0] != 2
    for name, ok in checks.items():
        if not ok:
            raise SystemExit(f"sanity check failed: {name}")
    print("sanity checks passed: " + ", ".join(checks), flush=True)

    # 4. Per-line goldens ---------------------------------------------------------------------------------
    records = []
    n_rt = n_rt_split = n_spm_agree = n_split_differs = 0
    spm_disagree_kinds = {}
    for i, text in enumerate(lines):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        ids_split = tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        dec = tok.decode(ids, skip_special_tokens=False)
        dec_split = tok.decode(ids_split, skip_special_tokens=False)
        spm_ids = sp.encode(text)
        rec = {
            "i": i,
            "ids": ids,
            "ids_split_special": ids_split,
            "decoded": dec,
            "roundtrip": dec == text,
            "roundtrip_split_special": dec_split == text,
            "spm_agrees": spm_ids == ids_split,
        }
        if ids_split == ids:
            rec["ids_split_special"] = None
        if dec == text:
            del rec["decoded"]
        if dec_split != dec:
            rec["decoded_split_special"] = dec_split
        if spm_ids != ids_split:
            rec["spm_ids"] = spm_ids
            spm_disagree_kinds[kinds[i]] = spm_disagree_kinds.get(kinds[i], 0) + 1
        n_rt += rec["roundtrip"]
        n_rt_split += rec["roundtrip_split_special"]
        n_spm_agree += rec["spm_agrees"]
        n_split_differs += ids != ids_split
        records.append(rec)
    write_text(out / "gemma3_ids.jsonl", "".join(jdump(r, separators=(",", ":")) + "\n" for r in records), written)

    # 5. Long input: the whole corpus as one text -------------------------------------------------------
    long_text = "\n".join(lines)
    long_ids = tok(long_text, add_special_tokens=False)["input_ids"]
    long_ids_split = tok(long_text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    long_spm = sp.encode(long_text)
    long_dec = tok.decode(long_ids, skip_special_tokens=False)

    # 6. Specials ------------------------------------------------------------------------------------------
    added = tok.added_tokens_decoder  # id -> AddedToken
    vocab = tok.get_vocab()
    specials = []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty not in (3, 4):
            continue
        if i in added:
            assert added[i].content == t
            specials.append([i, t, GGUF_TYPE_NAMES[ty], "special" if added[i].special else "added"])
        else:
            hf_tok = tok.convert_ids_to_tokens(i)
            assert vocab.get(hf_tok) == i
            specials.append([i, t, GGUF_TYPE_NAMES[ty], "vocab_only", hf_tok])
    specials_doc = {
        "source": "tokenizer.ggml.tokens / tokenizer.ggml.token_type of the Gemma 3 270M GGUF "
                  "(token_type 3 = CONTROL, 4 = USER_DEFINED); every such token, in id order",
        "columns": ["id", "token (as the GGUF spells it)", "type", "hf", "hf_token (only for vocab_only)"],
        "hf": {
            "special": "HF added token with special=True: matched in text unless split_special_tokens=True, "
                       "dropped by decode(skip_special_tokens=True)",
            "added": "HF added token with special=False: always matched whole in the raw text (both modes)",
            "vocab_only": "not an HF added token; HF respells it as hf_token in the BPE vocab (whitespace runs "
                          "are stored with real spaces in the GGUF and with U+2581 in HF) and reaches it by merges",
        },
        "counts": {
            "control": sum(1 for s in specials if s[2] == "control"),
            "user_defined": sum(1 for s in specials if s[2] == "user_defined"),
        },
    }
    specials_text = "{\n" + "".join(
        f"  {jdump(k)}: {jdump(v)},\n" for k, v in specials_doc.items()
    ) + '  "tokens": [\n' + ",\n".join("    " + jdump(s) for s in specials) + "\n  ]\n}\n"
    json.loads(specials_text)
    write_text(out / "gemma3_specials.json", specials_text, written)

    # 7. Meta ----------------------------------------------------------------------------------------------
    kind_counts = {}
    for k in kinds:
        base = k.split(":")[0]
        kind_counts[base] = kind_counts.get(base, 0) + 1
    meta = {
        "versions": package_versions(),
        "gguf": {
            "file": gguf_path.name,
            "sha256": sha256_file(gguf_path),
            "bytes": gguf_path.stat().st_size,
            "metadata": gguf_meta,
            "token_type_counts": {GGUF_TYPE_NAMES[t]: types.count(t) for t in sorted(set(types))},
        },
        "hf_tokenizer": {
            "how": "AutoTokenizer.from_pretrained(dir, gguf_file=name); save_pretrained(cache); "
                   "AutoTokenizer.from_pretrained(cache)",
            "class": type(tok).__name__,
            "tokenizer_json_sha256": sha256_file(tok_json),
            "tokenizer_json_bytes": tok_json.stat().st_size,
            "tokenizer_config_json_sha256": sha256_file(tok_cfg),
            "cache_dir": ".cache/fixtures/gemma3-270m-tokenizer/ (default --cache; regenerated by this script)",
            "clean_up_tokenization_spaces": getattr(tok, "clean_up_tokenization_spaces", None),
            "added_tokens": len(added),
        },
        "corpus": {
            "file": "corpus.jsonl",
            "format": "one JSON string per line (UTF-8, json.dumps(ensure_ascii=False) plus \\u escapes for "
                      "U+0085/U+2028/U+2029/U+007F); split the file on '\\n' only",
            "lines": len(lines),
            "text_bytes": sum(len(s.encode()) for s in lines),
            "seed": SEED,
            "kinds": dict(sorted(kind_counts.items())),
        },
        "ids_file": {
            "file": "gemma3_ids.jsonl",
            "record_per_line": "record k belongs to corpus line k (field i)",
            "ids": "tokenizer(text, add_special_tokens=False)['input_ids'] -- HF default: special-token strings "
                   "in the text (every CONTROL token, e.g. '<bos>', '<start_of_turn>', '<unused12>') ARE parsed "
                   "into their ids; no BOS is added",
            "ids_split_special": "tokenizer(text, add_special_tokens=False, split_special_tokens=True)"
                                 "['input_ids'] -- special-token parsing OFF: CONTROL strings are tokenized as "
                                 "plain text. USER_DEFINED tokens ('\\n', '\\t' runs, '<table>', "
                                 "'<start_of_image>', '[multimodal]', ...) are still matched whole. null when "
                                 "identical to ids",
            "decoded": "tokenizer.decode(ids, skip_special_tokens=False) (HF decoder: U+2581 -> ' ', byte "
                       "fallback, fuse; no cleanup of tokenization spaces). Present only where it differs from "
                       "the text, i.e. where roundtrip is false",
            "decoded_split_special": "decode(ids_split_special); present only where it differs from "
                                     "decode(ids) (text if roundtrip, else decoded)",
            "roundtrip": "decoded == text",
            "roundtrip_split_special": "decode(ids_split_special) == text",
            "spm_agrees": "SentencePiece (model rebuilt from the GGUF vocab, scores and types) gives exactly "
                          "ids_split_special (SentencePiece never parses CONTROL tokens from text)",
            "spm_ids": "SentencePiece's ids; present only where spm_agrees is false",
        },
        "sanity_checks": checks,
        "known_divergences": [
            "Whitespace runs of 32 or more (spaces, and literal U+2581, after normalization): HF reaches the "
            "run pieces by BPE merges (e.g. 33 spaces -> 16+17), SentencePiece and llama.cpp match the longest "
            "user-defined piece greedily (31 + 2; a leftover single space joins the next word as '\u2581word'). "
            "See spm_ids.",
            "Literal U+2581 in the input is the same as a space for HF and SentencePiece (decode gives ' ', so "
            "those lines do not round-trip); llama.cpp keeps literal U+2581 apart from spaces (its run pieces "
            "are spelled with real spaces), so its ids differ there.",
            "llama.cpp with parse_special=false does not match the USER_DEFINED '</s>' (id 212); HF and "
            "SentencePiece do.",
        ],
        "stats": {
            "roundtrip": n_rt,
            "roundtrip_split_special": n_rt_split,
            "lines_where_special_parsing_changes_ids": n_split_differs,
            "spm_agrees": n_spm_agree,
            "spm_disagrees_by_kind": dict(sorted(spm_disagree_kinds.items())),
            "every_spm_disagreement_has_a_whitespace_run_of_32_or_more": all(
                re.search("[ \u2581]{32,}", lines[r["i"]]) for r in records if not r["spm_agrees"]),
            "total_ids": sum(len(r["ids"]) for r in records),
        },
        "long_input": {
            "text": "'\\n'.join(all corpus lines) as a single input",
            "text_bytes": len(long_text.encode()),
            "text_sha256": sha256_bytes(long_text.encode()),
            "ids_sha256_definition": "SHA-256 of the ids written as consecutive little-endian uint32",
            "ids_len": len(long_ids),
            "ids_sha256": ids_sha256(long_ids),
            "ids_head": long_ids[:32],
            "ids_tail": long_ids[-32:],
            "ids_split_special_len": len(long_ids_split),
            "ids_split_special_sha256": ids_sha256(long_ids_split),
            "spm_ids_len": len(long_spm),
            "spm_ids_sha256": ids_sha256(long_spm),
            "spm_agrees_with_ids_split_special": long_spm == long_ids_split,
            "roundtrip": long_dec == long_text,
            "concat_of_line_ids_equals_long_ids": False,  # filled below
        },
    }
    # Would tokenizing line by line (with "\n" between) give the same ids? Not necessarily (merges across the
    # joins), but it is informative for chunked encoders.
    nl = tok("\n", add_special_tokens=False)["input_ids"]
    cat = []
    for k, r in enumerate(records):
        if k:
            cat += nl
        cat += r["ids"]
    meta["long_input"]["concat_of_line_ids_equals_long_ids"] = cat == long_ids
    write_text(out / "gemma3_meta.json", jdump(meta, indent=2) + "\n", written)

    total = 0
    for path, size, digest in written:
        total += size
        print(f"wrote {path} ({size} bytes, sha256 {digest})")
    print(f"total {total} bytes")
    print(f"roundtrip {n_rt}/{len(lines)}; roundtrip (split special) {n_rt_split}/{len(lines)}; "
          f"SentencePiece agrees {n_spm_agree}/{len(lines)} {spm_disagree_kinds}")
    print(f"long input: {len(long_ids)} ids; SentencePiece agrees: {long_spm == long_ids_split}")

    # 8. Optional speed measurement --------------------------------------------------------------------
    if args.bench:
        backend = tokenizers.Tokenizer.from_file(str(tok_json))
        nbytes = sum(len(s.encode()) for s in lines)
        for name, fn, size in (
            ("per_line_encode", lambda: [backend.encode(s, add_special_tokens=False) for s in lines], nbytes),
            ("encode_batch", lambda: backend.encode_batch(lines, add_special_tokens=False), nbytes),
            ("one_long_text", lambda: backend.encode(long_text, add_special_tokens=False), len(long_text.encode())),
            ("spm_per_line", lambda: [sp.encode(s) for s in lines], nbytes),
        ):
            best_wall = best_cpu = None
            for _ in range(5):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                w, c = time.perf_counter() - w0, time.process_time() - c0
                best_wall = w if best_wall is None else min(best_wall, w)
                best_cpu = c if best_cpu is None else min(best_cpu, c)
            print(f"bench {name}: {size / best_cpu / 1e6:.2f} MB/s by CPU time, {size / best_wall / 1e6:.2f} MB/s by "
                  f"wall time (best of 5, {size} bytes, RAYON_NUM_THREADS=1)")


if __name__ == "__main__":
    main()

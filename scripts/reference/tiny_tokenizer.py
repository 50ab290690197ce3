"""Builds the 1,024-entry tokenizer.json shared by the tiny fixture checkpoints.

A byte-fallback BPE of the same kind as Gemma's (checked against the Gemma 3 270M GGUF tokenizer as loaded
by transformers: `AutoTokenizer.from_pretrained(dir, gguf_file=...)`.backend_tokenizer):
  normalizer    Replace(" " -> "▁")
  pre_tokenizer Split(" ", merged_with_previous)   -- a no-op after the normalizer; no word splitting
  model         BPE, byte_fallback=true, fuse_unk=true, unk "<unk>", no dropout, no dummy prefix
  decoder       Replace("▁" -> " "), ByteFallback, Fuse
The merges are learned with the `tokenizers` BpeTrainer on the small text embedded below. Only for
training, the text is pre-split like SentencePiece does (pieces start with "▁", digits are single pieces,
newline runs are separate pieces) so that no learned piece crosses a word boundary.

Vocabulary layout (ids are what the tiny configs name):
  0 <pad>  1 <eos>  2 <bos>  3 <unk>  4 <mask>
  46..52   <|tool> <tool|> <|tool_call> <tool_call|> <|tool_response> <tool_response|> <|"|>   (real ids)
  98 <|think|>  100 <|channel>  101 <channel|>  105 <|turn>  106 <turn|>                     (real ids)
  107      "\n" (an ordinary piece, like the real vocabulary)
  108..363 <0x00>..<0xFF> byte-fallback pieces
  364..999 learned BPE pieces (636)
  1000 <|image>  1001 <|audio>  1002 <|image|>  1003 <|audio|>  1004 <image|>  1005 <audio|>  1006 <|video|>
  every other id in 5..106 and 1007..1023 is a control token "<unusedN>".
"""

from __future__ import annotations

import json
import random

VOCAB_SIZE = 1024
SPECIAL = {
    0: "<pad>",
    1: "<eos>",
    2: "<bos>",
    3: "<unk>",
    4: "<mask>",
    46: "<|tool>",
    47: "<tool|>",
    48: "<|tool_call>",
    49: "<tool_call|>",
    50: "<|tool_response>",
    51: "<tool_response|>",
    52: '<|"|>',
    98: "<|think|>",
    100: "<|channel>",
    101: "<channel|>",
    105: "<|turn>",
    106: "<turn|>",
    1000: "<|image>",
    1001: "<|audio>",
    1002: "<|image|>",
    1003: "<|audio|>",
    1004: "<image|>",
    1005: "<audio|>",
    1006: "<|video|>",
}
NEWLINE_ID = 107
BYTE_BASE = 108
LEARNED_BASE = BYTE_BASE + 256  # 364
LEARNED_END = 1000  # exclusive
UNUSED_IDS = [i for i in list(range(5, NEWLINE_ID)) + list(range(1007, VOCAB_SIZE)) if i not in SPECIAL]

TOKEN_IDS = {
    "pad": 0,
    "eos": 1,
    "bos": 2,
    "unk": 3,
    "mask": 4,
    "tool": 46,
    "etd": 47,
    "tool_call": 48,
    "etc": 49,
    "tool_response": 50,
    "etr": 51,
    "escape": 52,
    "think": 98,
    "channel": 100,
    "eoc": 101,
    "turn": 105,
    "eot": 106,
    "newline": NEWLINE_ID,
    "boi": 1000,
    "boa": 1001,
    "image": 1002,
    "audio": 1003,
    "eoi": 1004,
    "eoa": 1005,
    "video": 1006,
}
TEXT_ID_RANGE = (BYTE_BASE, LEARNED_END)  # ids that are plain text pieces (bytes + learned), for random prompts

_HANDWRITTEN = """\
The quick brown fox jumps over the lazy dog. A small model still has to follow the same rules as a large one.
Every layer reads the residual stream, normalizes it, and writes a correction back into it.
The weather today is cold and clear; tomorrow there will be rain in the morning and sun in the afternoon.
She opened the window, looked at the river, and wrote three lines in her notebook before breakfast.
When the train arrived at the station, the passengers carried their bags onto the platform.
Water boils at one hundred degrees at sea level, but at a lower temperature on a high mountain.
The library keeps old maps of the city, drawn by hand, with streets that no longer exist.
A good recipe lists the ingredients first: flour, sugar, butter, eggs, milk, and a pinch of salt.
Mix the dry ingredients, then add the butter and the eggs, and bake the dough for twenty minutes.
The children played in the garden while their grandparents talked about the summer holidays.
In the evening the market closes, the lights go out, and the square becomes quiet again.
Questions and answers, turns and replies: the user asks, the model thinks, and then it responds.
The user writes a message, the model writes a reply, and the system sets the rules for both of them.
A thought channel holds the reasoning of the model; the user does not see it unless the user asks.
A tool declaration names the tool, describes it, and lists its parameters with their types.
<|turn>user
What is the capital of France?<turn|>
<|turn>model
The capital of France is Paris.<turn|>
Please call the weather tool for the city of Berlin and report the temperature in degrees.
The tool response says the temperature is fifteen degrees and the sky is cloudy.
def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

for (int i = 0; i < count; ++i) {
    total += values[i] * weights[i];
}
if (status != OK) { return status; }
{"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "metric": true}}
https://example.com/path/to/page?query=value&lang=en
Le chat dort sur le canapé pendant que la pluie tombe doucement sur la ville.
Der Hund läuft schnell über die Wiese, und die Kinder lachen laut.
El sol brilla sobre el mar y los barcos vuelven al puerto al final del día.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2026 3.14159 -7 1e-6 65536.
Punctuation: (parentheses), [brackets], {braces}, "quotes", 'apostrophes', dashes - and -- and colons: semicolons;
"""

_SUBJECTS = (
    "the teacher", "a farmer", "my neighbour", "the engineer", "our team", "the old man", "a young woman",
    "the doctor", "the pilot", "the student", "a musician", "the baker", "the committee", "the robot",
    "the cat", "a traveller", "the captain", "the painter", "the writer", "the gardener",
)
_VERBS = (
    "found", "built", "painted", "measured", "described", "carried", "opened", "closed", "cleaned", "counted",
    "planted", "repaired", "wrote", "read", "moved", "tested", "watched", "cooked", "followed", "explained",
    "remembered", "discovered", "compared", "collected", "ordered", "printed", "checked", "shared",
)
_OBJECTS = (
    "a wooden table", "the red door", "three letters", "the long bridge", "a new machine", "the empty box",
    "the broken clock", "an old photograph", "the morning train", "a bright lamp", "the quiet house",
    "the blue boat", "a heavy stone", "the secret garden", "the final report", "a strange sound",
    "the winter coat", "a simple question", "the small window", "the green field", "the narrow street",
)
_PLACES = (
    "near the harbour", "in the kitchen", "behind the school", "on the mountain", "under the bridge",
    "after the storm", "before the meeting", "during the night", "at the market", "in the forest",
    "beside the river", "inside the museum", "across the valley", "along the coast", "at the station",
)
_CONNECT = ("and then", "because", "although", "while", "so that", "until", "but", "after which")


def _generated_text(n_sentences: int = 420, seed: int = 1234) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(n_sentences):
        s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_PLACES)}"
        if rng.random() < 0.5:
            s += f", {rng.choice(_CONNECT)} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        s = s[0].upper() + s[1:] + rng.choice((".", ".", ".", "!", "?"))
        if i % 7 == 3:
            s += f" It cost {rng.randint(1, 999)} coins on day {rng.randint(1, 31)}."
        if i % 11 == 5:
            s = "    " + s  # indentation runs
        lines.append(s)
        if i % 9 == 8:
            lines.append("")  # blank lines -> "\n\n" runs
    return "\n".join(lines) + "\n"


def training_text() -> list[str]:
    paragraphs = (_HANDWRITTEN + _generated_text()).split("\n\n")
    return [p + "\n\n" for p in paragraphs]


def build_tokenizer_json() -> str:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    # 1. Learn merges (training-only pre-splitting, see module docstring).
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex("\n+"), "isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Split(Regex("\u2581?[^\u2581]+"), "isolated"),
        ]
    )
    n_learned = LEARNED_END - LEARNED_BASE  # 636 (+1 for "\n", which moves to id 107)
    trainer = trainers.BpeTrainer(vocab_size=n_learned + 1, min_frequency=2, show_progress=False, max_token_length=16)
    trainer_tok.train_from_iterator(training_text(), trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    learned_vocab = sorted(learned["vocab"].items(), key=lambda kv: kv[1])
    merges = learned["merges"]
    pieces = [tok for tok, _ in learned_vocab if tok != "\n"]
    if len(pieces) != n_learned:
        raise RuntimeError(f"BPE training produced {len(pieces)} pieces, need exactly {n_learned}")

    # 2. Final vocabulary with the fixed ids.
    vocab: dict[str, int] = {}
    unused = iter(range(len(UNUSED_IDS)))
    for i in range(VOCAB_SIZE):
        if i in SPECIAL:
            vocab[SPECIAL[i]] = i
        elif i == NEWLINE_ID:
            vocab["\n"] = i
        elif BYTE_BASE <= i < LEARNED_BASE:
            vocab[f"<0x{i - BYTE_BASE:02X}>"] = i
        elif LEARNED_BASE <= i < LEARNED_END:
            vocab[pieces[i - LEARNED_BASE]] = i
        else:
            vocab[f"<unused{next(unused)}>"] = i
    assert len(vocab) == VOCAB_SIZE and sorted(vocab.values()) == list(range(VOCAB_SIZE))
    for a, b in merges:
        assert a in vocab and b in vocab and (a + b) in vocab, (a, b)

    # 3. The runtime tokenizer, with Gemma's pipeline.
    tok = Tokenizer(
        models.BPE(vocab=vocab, merges=[tuple(m) for m in merges], unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    )
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous", invert=False)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    from tokenizers import AddedToken

    control = sorted([i for i in SPECIAL] + UNUSED_IDS)
    tok.add_special_tokens([AddedToken(next(k for k, v in vocab.items() if v == i), special=True, normalized=False)
                            for i in control])
    d = json.loads(tok.to_str())
    for at in d["added_tokens"]:
        assert vocab[at["content"]] == at["id"], at
    # IT tokenizer: no BOS added by the tokenizer (the chat format emits <bos> itself).
    d["post_processor"] = None
    return json.dumps(d, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def tokenizer_config() -> dict:
    """tokenizer_config.json: the published IT file's token-name fields, without its chat/response templates."""
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "audio_token": "<|audio|>",
        "backend": "tokenizers",
        "boa_token": "<|audio>",
        "boi_token": "<|image>",
        "bos_token": "<bos>",
        "eoa_token": "<audio|>",
        "eoc_token": "<channel|>",
        "eoi_token": "<image|>",
        "eos_token": "<eos>",
        "eot_token": "<turn|>",
        "escape_token": '<|"|>',
        "etc_token": "<tool_call|>",
        "etd_token": "<tool|>",
        "etr_token": "<tool_response|>",
        "extra_special_tokens": ["<|video|>"],
        "image_token": "<|image|>",
        "mask_token": "<mask>",
        "model_max_length": 4096,
        "pad_token": "<pad>",
        "padding_side": "left",
        "processor_class": "Gemma4UnifiedProcessor",
        "soc_token": "<|channel>",
        "sot_token": "<|turn>",
        "stc_token": "<|tool_call>",
        "std_token": "<|tool>",
        "str_token": "<|tool_response>",
        "think_token": "<|think|>",
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
    }

"""Long fuzz of BertTokenizer against the original tokenizer itself.

Draws random texts over the whole Unicode range (every plane, weighted towards the
blocks text is made of, with whitespace of every kind, combining marks, emoji
sequences, controls, long words and literal special tokens), tokenizes each with
google-research/bert's `tokenization.FullTokenizer` and with ours, in the graph and on
the Python path, and counts the texts whose ids differ and the crashes. The original is
read at run time from the file given (a checkout of google-research/bert); it is never
part of this project.

    git clone https://github.com/google-research/bert /tmp/google-bert
    python -m tests.text.fuzz_against_original --original /tmp/google-bert/tokenization.py \\
        --texts 1000000 --report runs/tokenizer_fuzz.json

The texts are split evenly over the four vocabularies of ../shared/data/vocab (uncased
and Chinese lower-cased, cased and multilingual not). Exit code 1 when anything differs
or crashes; the first differences are written to the report.
"""

import argparse
import importlib.util
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tensorflow as tf  # noqa: E402

from keras_bert_pkg.text import BertTokenizer  # noqa: E402
from tests.test_case import SHARED_DATA  # noqa: E402

VOCABULARIES = (("bert-base-uncased", True), ("bert-base-cased", False),
                ("bert-base-chinese", True), ("bert-base-multilingual-cased", False))
# (weight, code point ranges): what random text is drawn from.
POOLS = (
    (30, [(0x20, 0x7E)]),
    (8, [(0xA0, 0x24F), (0x370, 0x52F), (0x1E00, 0x1FFF)]),  # Latin, Greek, Cyrillic
    (6, [(0x300, 0x36F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF)]),  # combining marks
    (6, [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]),
    (5, [(0xAC00, 0xD7A3), (0x3040, 0x30FF), (0x0900, 0x0DFF), (0x0600, 0x06FF), (0x0E00, 0x0E7F)]),
    (4, [(0x2000, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFFEF), (0xFE00, 0xFE0F)]),  # spaces, punct, widths
    (4, [(0x1F000, 0x1FAFF), (0x2600, 0x27BF)]),  # emoji and symbols
    (3, [(0x0, 0x1F), (0x7F, 0x9F), (0x200B, 0x200F), (0x2028, 0x202E), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFD)]),
    (3, [(0x10000, 0x1FFFF)]),  # plane 1, much of it unassigned
    (2, [(0x30000, 0x3FFFF), (0xE0000, 0xE01EF)]),  # plane 3, tags and variation selectors
    (2, [(0xE000, 0xF8FF), (0xF0000, 0x10FFFF)]),  # private use
    (2, [(0x40000, 0xDFFFF)]),  # unassigned planes
)
SPECIAL = ["[MASK]", "[UNK]", "[CLS]", "[SEP]", "[PAD]", "don't", "U.S.", "straße", "İ", "ΣΑΣ"]


def random_text(rng):
    weights = [w for w, _ in POOLS]
    parts = []
    for _ in range(rng.randint(0, 40)):
        r = rng.random()
        if r < 0.15:
            parts.append(rng.choice(" \t\n\r\u3000\u00a0\u2028\u2029\u200b\x0b\x0c\x85"))
        elif r < 0.18:
            parts.append(rng.choice(SPECIAL))
        elif r < 0.19:
            parts.append("w" * rng.randint(195, 205))  # around the 200-character word limit
        else:
            ranges = rng.choices(POOLS, weights)[0][1]
            lo, hi = rng.choice(ranges)
            cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:  # no lone surrogates in UTF-8 strings
                cp = 0xFFFD
            parts.append(chr(cp))
    return "".join(parts)


def load_original(path):
    spec = importlib.util.spec_from_file_location("original_tokenization", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.tf = tf.compat.v1  # it reads the vocabulary with tf.gfile
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="google-research/bert's tokenization.py")
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--report", default=None, help="write the JSON report here")
    args = parser.parse_args(argv)
    original = load_original(args.original)
    rng = random.Random(args.seed)
    report = {"texts": 0, "graph_differences": 0, "python_differences": 0, "crashes": 0,
              "examples": [], "per_vocabulary": {}, "python": sys.version.split()[0],
              "unicode": __import__("unicodedata").unidata_version, "seed": args.seed}
    started = time.time()
    per_vocabulary = args.texts // len(VOCABULARIES)
    for name, lowercase in VOCABULARIES:
        vocab = str(SHARED_DATA / "vocab" / name / "vocab.txt")
        theirs = original.FullTokenizer(vocab, do_lower_case=lowercase)
        ours = BertTokenizer(vocab, lowercase=lowercase)
        counts = {"texts": 0, "graph_differences": 0, "python_differences": 0, "crashes": 0}
        for begin in range(0, per_vocabulary, args.batch):
            texts = [random_text(rng) for _ in range(min(args.batch, per_vocabulary - begin))]
            expected = []
            for text in texts:
                try:
                    expected.append(theirs.convert_tokens_to_ids(theirs.tokenize(text)))
                except Exception as e:  # noqa: BLE001 (the original's own failure is reported, not ours)
                    expected.append(f"original failed: {e!r}")
            try:
                graph = ours(tf.constant(texts)).to_list()
            except Exception as e:  # noqa: BLE001
                counts["crashes"] += len(texts)
                report["examples"].append({"vocab": name, "graph_crash": repr(e)[:500]})
                continue
            for text, want, got in zip(texts, expected, graph):
                try:
                    python = ours.encode(text)
                except Exception as e:  # noqa: BLE001
                    counts["crashes"] += 1
                    report["examples"].append({"vocab": name, "text": text, "python_crash": repr(e)[:500]})
                    continue
                for kind, ids in (("graph", got), ("python", python)):
                    if ids != want:
                        counts[f"{kind}_differences"] += 1
                        if len(report["examples"]) < 50:
                            report["examples"].append({"vocab": name, "path": kind, "text": text,
                                                       "original": want, "ours": ids})
            counts["texts"] += len(texts)
            print(f"{name}: {counts} ({time.time() - started:.0f} s)", flush=True)
        report["per_vocabulary"][name] = counts
        for key in ("texts", "graph_differences", "python_differences", "crashes"):
            report[key] += counts[key]
    report["seconds"] = round(time.time() - started, 1)
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=1))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    failed = report["graph_differences"] or report["python_differences"] or report["crashes"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

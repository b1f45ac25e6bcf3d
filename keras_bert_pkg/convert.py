"""Convert a BERT checkpoint between formats: `python -m keras_bert_pkg.convert`.

Reads any format `BertBackbone.from_preset` reads (Hugging Face, Google TF1, Model
Garden TF2, keras-hub preset, `.keras`, or a published name such as
`bert_base_uncased`) and writes Hugging Face safetensors, Google TF1, a `.keras` file or
a keras-hub preset. When the source has pre-training heads they are converted too
(a `BertPretrainer`); `--model backbone` drops them. The `vocab.txt` beside the source
(or `--vocab`) is written beside the output.

Example:
    python -m keras_bert_pkg.convert --from ../shared/data/weights/all-MiniLM-L6-v2 \\
        --to /tmp/minilm_tf1 --format tf1
"""

import argparse
import sys

from keras_bert_pkg.checkpoints.formats import save_checkpoint
from keras_bert_pkg.checkpoints.load_report import load_weights
from keras_bert_pkg.checkpoints.presets import read_preset
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer

FORMATS = ("hf", "tf1", "keras", "keras_hub")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_bert_pkg.convert",
        description="Convert a BERT checkpoint between Hugging Face, Google TF1, keras-hub and .keras formats.",
    )
    parser.add_argument("--from", dest="source", required=True,
                        help="source checkpoint: directory, file, TF checkpoint prefix, or a published name")
    parser.add_argument("--to", dest="target", required=True,
                        help="output directory (a .keras file path for --format keras)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--model", default="auto", choices=("auto", "backbone", "pretrainer"),
                        help="what to convert; auto = the pretrainer when the source has the heads")
    parser.add_argument("--vocab", default=None, help="vocab.txt to write beside the output (default: the source's)")
    parser.add_argument("--strict", action="store_true", help="fail on unused tensors or missing weights")
    parser.add_argument("--allow-activation-change", action="store_true",
                        help="keras_hub only: write a model keras-hub will run with the tanh GELU anyway")
    return parser.parse_args(argv)


def convert(source, target, format, model="auto", vocab=None, strict=False, allow_activation_change=False):
    """Loads `source` (any format, or a published name) and writes it to `target` in
    `format`; returns `(target, LoadReport)`."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {format!r}.")
    contents = read_preset(source)
    if model == "auto":
        model = "pretrainer" if contents.has_masked_lm_head else "backbone"
    if model == "pretrainer":
        loaded = BertPretrainer.from_contents(contents, load_weights=False)
    else:
        loaded = BertBackbone.from_contents(contents, load_weights=False)
    report = load_weights(loaded, contents, strict=strict)
    options = {"allow_activation_change": allow_activation_change} if format == "keras_hub" else {}
    if format == "keras_hub" and contents.lowercase is not None:
        options["lowercase"] = contents.lowercase
    save_checkpoint(loaded, target, format, vocabulary=vocab or contents.vocabulary, **options)
    return target, report


def main(argv=None):
    args = parse_args(argv)
    target, report = convert(
        args.source, args.target, args.format, model=args.model, vocab=args.vocab,
        strict=args.strict, allow_activation_change=args.allow_activation_change,
    )
    print(report.summary())
    print(f"wrote {args.format}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Convert a BERT checkpoint between formats: `python -m keras_bert_pkg.convert`.

Reads any format `BertBackbone.from_checkpoint` reads (Hugging Face, Google TF1, Model
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
import os
import sys

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
    """Loads `source` and writes it to `target` in `format`; returns `(target, LoadReport)`."""
    from keras_bert_pkg.checkpoints import registry
    from keras_bert_pkg.checkpoints.loader import (
        build_from_contents, detect_format, load_checkpoint, read_contents, save_checkpoint,
    )

    if format not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {format!r}.")
    if not os.path.exists(source) and not os.path.exists(source + ".index") and registry.is_known(source):
        source = registry.fetch(source)
    source_format = detect_format(source)
    if source_format == "keras":
        loaded, report = load_checkpoint(source, model=model, return_report=True)
    else:
        contents = read_contents(source, source_format)
        loaded, report = build_from_contents(contents, model=model, strict=strict)
        vocab = vocab or contents.vocabulary
    if format == "keras_hub":
        from keras_bert_pkg.checkpoints.keras_hub import save_keras_hub

        save_keras_hub(loaded, target, vocabulary=vocab, allow_activation_change=allow_activation_change)
    else:
        save_checkpoint(loaded, target, format, vocabulary=vocab)
    return target, report


def main(argv=None):
    args = parse_args(argv)
    import keras_bert_pkg  # noqa: F401  (TensorFlow backend, quiet logs)

    target, report = convert(
        args.source, args.target, args.format, model=args.model, vocab=args.vocab,
        strict=args.strict, allow_activation_change=args.allow_activation_change,
    )
    print(report.summary())
    print(f"wrote {args.format}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

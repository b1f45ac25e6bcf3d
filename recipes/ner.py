"""Fine-tunes BERT for named-entity recognition (CoNLL-2003, or any CoNLL/BIO files).

Reads CoNLL column files (or two-column BIO files, e.g. Chinese character-per-line),
tags the first WordPiece of every word, fine-tunes a `BertTokenClassifier`, decodes one
tag per word of the validation sentences, scores entities with seqeval, and writes
`metrics.json`, a training curve and a SavedModel (`savedmodels/<name>/<version>/`).

    python recipes/ner.py --checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --train_limit 4000 --epochs 1 --output_dir runs/ner
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
import keras  # noqa: E402

from keras_bert_pkg.data.conll import read_bio, read_conll, tag_list  # noqa: E402
from keras_bert_pkg.data.token_alignment import (  # noqa: E402
    TokenAligner, entity_spans, predict_token_ids, token_dataset)
from keras_bert_pkg.metrics.ner import ner_scores  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier  # noqa: E402
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.training.mixed_precision import set_precision  # noqa: E402
from keras_bert_pkg.training.optimizers import create_optimizer  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics  # noqa: E402
from keras_bert_pkg.training.strategies import add_strategy_flags, strategy_from_flags  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data", "ner", "conll2003")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=DEFAULT_DATA)
    p.add_argument("--train_file", default="train.txt")
    p.add_argument("--valid_file", default="valid.txt")
    p.add_argument("--format", choices=["conll", "bio"], default="conll",
                   help="conll: word ... tag columns; bio: two columns (word/character, tag)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint directory (Hugging Face, TF1, keras-hub, Model Garden)")
    p.add_argument("--preset", default="bert_tiny",
                   help="random-init architecture when no --checkpoint is given")
    p.add_argument("--vocab", default=None, help="vocab.txt (default: the checkpoint's)")
    p.add_argument("--cased", action="store_true", help="do not lower-case (cased models)")
    p.add_argument("--sequence_length", type=int, default=128)
    p.add_argument("--stride", type=int, default=None,
                   help="tokens between windows of a long sentence (default: half a window)")
    p.add_argument("--label_all_subtokens", action="store_true")
    p.add_argument("--train_limit", type=int, default=None,
                   help="use the first N training sentences")
    p.add_argument("--valid_limit", type=int, default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=32, help="global batch size")
    p.add_argument("--learning_rate", type=float, default=5e-5)
    p.add_argument("--warmup_fraction", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--precision", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default=os.path.join(PROJECT_ROOT, "runs", "ner"))
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--export_name", default="ner")
    p.add_argument("--no_export", action="store_true")
    add_strategy_flags(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    strategy = strategy_from_flags(args)  # --strategy: models, optimizer, metrics built in its scope
    with strategy.scope():
        return train(args)


def train(args):
    keras.utils.set_random_seed(args.seed)
    set_precision(args.precision)
    started = time.time()

    read = read_conll if args.format == "conll" else read_bio
    train = read(os.path.join(args.data_dir, args.train_file))[: args.train_limit]
    valid = read(os.path.join(args.data_dir, args.valid_file))[: args.valid_limit]
    tags = tag_list(train + valid)

    if args.checkpoint:
        backbone = BertBackbone.from_checkpoint(args.checkpoint, dropout=args.dropout)
        vocab = args.vocab or os.path.join(args.checkpoint, "vocab.txt")
    else:
        if not args.vocab:
            raise SystemExit("--vocab is required without --checkpoint")
        vocab = args.vocab
        size = sum(1 for _ in open(vocab, encoding="utf-8"))
        backbone = BertBackbone.from_preset(args.preset, vocabulary_size=size,
                                            dropout=args.dropout)
    tokenizer = BertTokenizer(vocab, lowercase=not args.cased)
    aligner = TokenAligner(tokenizer, tags, sequence_length=args.sequence_length,
                           stride=args.stride, label_all_subtokens=args.label_all_subtokens)
    train_features = aligner.encode([s.words for s in train], [s.tags for s in train])
    valid_features = aligner.encode([s.words for s in valid], [s.tags for s in valid])
    train_ds = token_dataset(train_features, args.batch_size, shuffle=True, seed=args.seed)
    valid_ds = token_dataset(valid_features, args.batch_size)

    model = BertTokenClassifier(backbone, num_classes=len(tags), dropout=args.dropout)
    steps = len(train_ds) * args.epochs
    model.compile(optimizer=create_optimizer(
        args.learning_rate, total_steps=steps,
        warmup_steps=int(args.warmup_fraction * steps)))
    history = model.fit(train_ds, validation_data=valid_ds, epochs=args.epochs, shuffle=False,
                        verbose=2)
    train_seconds = time.time() - started

    predicted = aligner.decode(predict_token_ids(model, valid_features, args.batch_size),
                               valid_features)
    scores = ner_scores([s.tags for s in valid], predicted)
    metrics = {
        "task": "ner",
        "data": {"train": os.path.join(args.data_dir, args.train_file),
                 "valid": os.path.join(args.data_dir, args.valid_file),
                 "train_sentences": len(train), "valid_sentences": len(valid),
                 "train_windows": int(len(train_features["token_ids"])),
                 "valid_windows": int(len(valid_features["token_ids"]))},
        "model": args.checkpoint or args.preset,
        "tags": tags,
        "args": vars(args),
        "validation": scores,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "train_seconds": train_seconds,
        "total_seconds": time.time() - started,
        "example": {"words": valid[0].words, "gold": valid[0].tags, "predicted": predicted[0],
                    "entities": entity_spans(predicted[0], valid[0].words)},
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "valid_predictions.txt"), "w", encoding="utf-8") as f:
        for sentence, tags_out in zip(valid, predicted):  # conlleval's input: word gold pred
            for word, gold, pred in zip(sentence.words, sentence.tags, tags_out):
                f.write(f"{word} {gold} {pred}\n")
            f.write("\n")
    plot_history(history.history, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"NER fine-tuning ({metrics['model']})")
    if not args.no_export:
        metrics["export"] = keras_bert_pkg.export(  # raw text in: word tags + entity spans
            model, args.export_dir, args.export_name, tokenizer=tokenizer,
            sequence_length=args.sequence_length, labels=tags).path
    write_metrics(args.output_dir, metrics)
    print(f"validation entity precision {scores['precision']:.4f} recall "
          f"{scores['recall']:.4f} F1 {scores['f1']:.4f} "
          f"({len(valid)} sentences, {metrics['total_seconds']:.0f} s)")
    return metrics


if __name__ == "__main__":
    main()

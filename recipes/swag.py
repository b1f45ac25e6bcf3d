"""Fine-tunes BERT for SWAG multiple choice (the official train.csv / val.csv files).

Each example's four (context, ending) pairs are packed `[CLS] sent1 [SEP] sent2 ending
[SEP]`, scored by a `BertMultipleChoice` and compared with a softmax over the endings
(paper, section 4.4: 3 epochs, learning rate 2e-5, batch size 16). Writes
`metrics.json` (validation accuracy), a training curve and a SavedModel
(`savedmodels/<name>/<version>/`). The SWAG files are not part of the shared data;
point `--data_dir` at a copy of github.com/rowanz/swagaf `data/`.

    python recipes/swag.py --data_dir swagaf/data --checkpoint path/to/bert_base_uncased
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bert_pkg.data.swag import read_swag, swag_features  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice  # noqa: E402
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor  # noqa: E402
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.training.mixed_precision import set_precision  # noqa: E402
from keras_bert_pkg.training.optimizers import create_optimizer  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics  # noqa: E402
from keras_bert_pkg.training.strategies import add_strategy_flags, strategy_from_flags  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", required=True, help="folder with the SWAG CSV files")
    p.add_argument("--train_file", default="train.csv")
    p.add_argument("--valid_file", default="val.csv")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint directory (Hugging Face, TF1, keras-hub, Model Garden)")
    p.add_argument("--preset", default="bert_tiny",
                   help="random-init architecture when no --checkpoint is given")
    p.add_argument("--vocab", default=None, help="vocab.txt (default: the checkpoint's)")
    p.add_argument("--cased", action="store_true", help="do not lower-case (cased models)")
    p.add_argument("--sequence_length", type=int, default=128)
    p.add_argument("--train_limit", type=int, default=None)
    p.add_argument("--valid_limit", type=int, default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=16, help="global batch size")
    p.add_argument("--learning_rate", type=float, default=2e-5)
    p.add_argument("--warmup_fraction", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--precision", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default=os.path.join(PROJECT_ROOT, "runs", "swag"))
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--export_name", default="swag")
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

    train = read_swag(os.path.join(args.data_dir, args.train_file))[: args.train_limit]
    valid = read_swag(os.path.join(args.data_dir, args.valid_file))[: args.valid_limit]
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
    preprocessor = BertPreprocessor(BertTokenizer(vocab, lowercase=not args.cased),
                                    sequence_length=args.sequence_length)
    train_x, train_y = swag_features(train, preprocessor)
    valid_x, valid_y = swag_features(valid, preprocessor)
    if train_y is None:
        raise SystemExit(f"{args.train_file} has examples without a label.")

    model = BertMultipleChoice(backbone, num_choices=train_x["token_ids"].shape[1],
                               dropout=args.dropout)
    steps = -(-len(train_y) // args.batch_size) * args.epochs
    model.compile(optimizer=create_optimizer(
        args.learning_rate, total_steps=steps,
        warmup_steps=int(args.warmup_fraction * steps)))
    validation = (valid_x, valid_y) if valid_y is not None else None
    history = model.fit(train_x, train_y, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=validation, verbose=2)
    train_seconds = time.time() - started

    logits = model.predict(valid_x, batch_size=args.batch_size, verbose=0)
    predicted = logits.argmax(-1)
    metrics = {
        "task": "swag",
        "data": {"train": os.path.join(args.data_dir, args.train_file),
                 "valid": os.path.join(args.data_dir, args.valid_file),
                 "train_examples": len(train), "valid_examples": len(valid)},
        "model": args.checkpoint or args.preset,
        "args": vars(args),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "train_seconds": train_seconds,
        "predictions": {e.id: int(p) for e, p in zip(valid, predicted)},
    }
    if valid_y is not None:
        metrics["validation"] = {"accuracy": float(np.mean(predicted == valid_y)),
                                 "examples": len(valid_y)}
    os.makedirs(args.output_dir, exist_ok=True)
    plot_history(history.history, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"SWAG fine-tuning ({metrics['model']})")
    if not args.no_export:
        metrics["export"] = keras_bert_pkg.export(  # context + endings strings in
            model, args.export_dir, args.export_name, tokenizer=preprocessor.tokenizer,
            sequence_length=args.sequence_length).path
    metrics["total_seconds"] = time.time() - started
    write_metrics(args.output_dir, metrics)
    if "validation" in metrics:
        print(f"validation accuracy {metrics['validation']['accuracy']:.4f} "
              f"({len(valid)} examples, {metrics['total_seconds']:.0f} s)")
    return metrics


if __name__ == "__main__":
    main()

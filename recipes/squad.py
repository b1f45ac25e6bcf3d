"""Fine-tunes BERT for SQuAD v1.1 / v2.0 question answering, scores it with the official
scorer, and exports a SavedModel that answers questions from raw strings.

With no data flags it runs the embedded demo: it generates a small templated QA set
(official JSON layout) and its vocabulary into `--output_dir`, trains a tiny BERT
(bert_tiny, 4 heads) from scratch, predicts, scores with the official script and exports to
`savedmodels/squad/<version>/`, in a few CPU-minutes:

    python recipes/squad.py
    python recipes/squad.py --version 2.0

On real data, from a pretrained checkpoint:

    python recipes/squad.py --version 1.1 \
        --train_file ../shared/data/squad/v1.1/train.json \
        --predict_file ../shared/data/squad/v1.1/dev.json \
        --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --max_seq_length 256 --doc_stride 128 --epochs 2 --learning_rate 1e-4 \
        --precision mixed_bfloat16 --eval_every_epoch --output_dir runs/squad_minilm

(measured on a 2-core CPU: 6,777 training features, 424 steps, dev EM 47.7 / F1 61.4 in
42 CPU-minutes; after the first epoch EM 41.7 / F1 56.4.)

Writes to `--output_dir`: `predictions.json`, `nbest_predictions.json`,
`null_odds.json` (v2.0), `metrics.json`, `training_curve.png`, `model.keras`.
"""

import argparse
import math
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
import keras  # noqa: E402

from keras_bert_pkg.data.squad_demo import write_squad_demo  # noqa: E402
from keras_bert_pkg.data.squad_examples import read_squad_examples  # noqa: E402
from keras_bert_pkg.data.squad_features import (  # noqa: E402
    convert_examples_to_features, predict_squad_logits, squad_dataset)
from keras_bert_pkg.data.squad_postprocessing import (  # noqa: E402
    postprocess_squad_predictions, write_squad_predictions)
from keras_bert_pkg.export.export_model import export  # noqa: E402
from keras_bert_pkg.metrics.squad import evaluate_squad  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler  # noqa: E402
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.training.mixed_precision import set_precision  # noqa: E402
from keras_bert_pkg.training.optimizers import create_optimizer  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics  # noqa: E402
from keras_bert_pkg.training.strategies import add_strategy_flags, strategy_from_flags  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The embedded demo: settings where a tiny BERT learns the templated task from scratch.
# (bert_tiny with 4 heads instead of 2 learns it markedly better at the same cost.)
DEMO = dict(preset="bert_tiny", num_heads=4, max_seq_length=128, doc_stride=64,
            max_query_length=32, epochs=3, batch_size=16, learning_rate=1e-3, dropout=0.0,
            train_paragraphs=1800, dev_paragraphs=80)
# Fine-tuning a pretrained checkpoint (the paper's SQuAD settings, lr for small models).
REAL = dict(max_seq_length=384, doc_stride=128, max_query_length=64,
            epochs=2.0, batch_size=32, learning_rate=5e-5, dropout=None)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", choices=["1.1", "2.0"], default="1.1")
    p.add_argument("--train_file", help="SQuAD JSON to train on (default: generated demo)")
    p.add_argument("--predict_file", help="SQuAD JSON to predict and score (default: demo dev)")
    p.add_argument("--init_checkpoint", help="pretrained checkpoint (HF/TF1/Model Garden/keras-hub dir)")
    p.add_argument("--preset", help="random-init architecture (e.g. bert_tiny) when no checkpoint")
    p.add_argument("--num_heads", type=int, help="override the preset's attention heads")
    p.add_argument("--vocab", help="vocab.txt (default: the checkpoint's, or the demo's)")
    p.add_argument("--cased", action="store_true", help="keep case (cased vocabularies)")
    p.add_argument("--max_seq_length", type=int)
    p.add_argument("--doc_stride", type=int)
    p.add_argument("--max_query_length", type=int)
    p.add_argument("--epochs", type=float, help="may be fractional")
    p.add_argument("--batch_size", type=int, help="global batch size")
    p.add_argument("--learning_rate", type=float)
    p.add_argument("--warmup_proportion", type=float, default=0.1)
    p.add_argument("--dropout", type=float, help="backbone dropout (default: checkpoint's / preset's)")
    p.add_argument("--precision", default="float32",
                   choices=["float32", "mixed", "mixed_bfloat16", "mixed_float16"])
    p.add_argument("--n_best_size", type=int, default=20)
    p.add_argument("--max_answer_length", type=int, default=30)
    p.add_argument("--null_score_diff_threshold", type=float, default=0.0)
    p.add_argument("--predict_batch_size", type=int, default=64)
    p.add_argument("--train_limit", type=int, help="use only the first N training questions")
    p.add_argument("--demo_train_paragraphs", type=int, default=DEMO["train_paragraphs"])
    p.add_argument("--demo_dev_paragraphs", type=int, default=DEMO["dev_paragraphs"])
    p.add_argument("--output_dir", default=os.path.join(PROJECT_ROOT, "runs", "squad"))
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"),
                   help="TF Serving root: the model goes to <export_dir>/<export_name>/<next version>/")
    p.add_argument("--export_name", default="squad")
    p.add_argument("--eval_every_epoch", action="store_true",
                   help="also score the predict file after each full epoch")
    p.add_argument("--no_export", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    add_strategy_flags(p)
    args = p.parse_args(argv)
    if (args.train_file is None) != (args.predict_file is None):
        p.error("give both --train_file and --predict_file, or neither (the demo)")
    if args.init_checkpoint and args.preset:
        p.error("--init_checkpoint and --preset exclude each other")
    args.demo = args.train_file is None
    defaults = DEMO if args.demo else REAL
    for key in ("max_seq_length", "doc_stride", "max_query_length", "epochs", "batch_size",
                "learning_rate", "dropout"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    if args.demo and not args.init_checkpoint and not args.preset:
        args.preset = DEMO["preset"]
        if args.num_heads is None:
            args.num_heads = DEMO["num_heads"]
    if args.num_heads and args.init_checkpoint:
        p.error("--num_heads applies to --preset models only")
    if not args.demo and not args.init_checkpoint and not args.preset:
        p.error("real data needs --init_checkpoint (or --preset to train from scratch)")
    return args


def build_backbone(args, vocabulary_size):
    overrides = {} if args.dropout is None else {"dropout": args.dropout}
    if args.init_checkpoint:
        backbone = BertBackbone.from_checkpoint(args.init_checkpoint, **overrides)
        if backbone.vocabulary_size != vocabulary_size:
            raise ValueError(
                f"The checkpoint has {backbone.vocabulary_size} token embeddings but the "
                f"vocabulary {args.vocab} has {vocabulary_size} tokens."
            )
        if backbone.max_sequence_length < args.max_seq_length:
            raise ValueError(f"--max_seq_length {args.max_seq_length} exceeds the checkpoint's "
                             f"{backbone.max_sequence_length} positions.")
        return backbone
    if args.num_heads:
        overrides["num_heads"] = args.num_heads
    return BertBackbone.from_preset(args.preset, vocabulary_size=vocabulary_size,
                                    max_sequence_length=max(args.max_seq_length, 8), **overrides)


def main(argv=None):
    args = parse_args(argv)
    strategy = strategy_from_flags(args)  # --strategy: models, optimizer, metrics built in its scope
    with strategy.scope():
        return train(args)


def train(args):
    start_wall = time.time()
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)
    v2 = args.version == "2.0"

    if args.demo:
        paths = write_squad_demo(os.path.join(args.output_dir, "data"), args.version,
                                 args.demo_train_paragraphs, args.demo_dev_paragraphs, seed=args.seed)
        args.train_file, args.predict_file = paths["train_file"], paths["predict_file"]
        args.vocab = args.vocab or paths["vocab"]
        print(f"Demo data: {args.train_file}, {args.predict_file}")
    if args.vocab is None and args.init_checkpoint:
        args.vocab = os.path.join(args.init_checkpoint, "vocab.txt")
    if args.vocab is None:
        raise SystemExit("--vocab is required with --preset on real data")
    tokenizer = BertTokenizer(args.vocab, lowercase=not args.cased)

    # --- features --------------------------------------------------------------------
    train_examples = read_squad_examples(args.train_file, is_training=True, version_2_with_negative=v2)
    if args.train_limit:
        train_examples = train_examples[: args.train_limit]
    dev_examples = read_squad_examples(args.predict_file, is_training=False, version_2_with_negative=v2)
    feature_args = dict(max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
                        max_query_length=args.max_query_length)
    train_stats = {}
    train_features = convert_examples_to_features(train_examples, tokenizer, is_training=True,
                                                  stats=train_stats, **feature_args)
    dev_features = convert_examples_to_features(dev_examples, tokenizer, **feature_args)
    print(f"Train: {len(train_examples)} questions → {len(train_features)} features; "
          f"dev: {len(dev_examples)} questions → {len(dev_features)} features")

    # --- model ---------------------------------------------------------------------------
    set_precision(args.precision)
    model = BertSpanLabeler(build_backbone(args, tokenizer.vocabulary_size()))
    steps_per_epoch = math.ceil(len(train_features) / args.batch_size)
    total_steps = max(1, round(args.epochs * steps_per_epoch))
    # Log (and plot) about ten points for short runs, one per epoch for long ones.
    chunk = max(1, min(steps_per_epoch, math.ceil(total_steps / 10)))
    chunks = math.ceil(total_steps / chunk)
    model.compile(optimizer=create_optimizer(args.learning_rate, total_steps,
                                             warmup_steps=int(args.warmup_proportion * total_steps)))
    train_ds = squad_dataset(train_features, args.batch_size, training=True, seed=args.seed,
                             bucket_boundaries=_buckets(args.max_seq_length)).repeat()
    print(f"Training {total_steps} steps (batch {args.batch_size}, {args.epochs} epochs, "
          f"lr {args.learning_rate}, precision {args.precision})")
    evaluate = _evaluator(args, model, dev_examples, dev_features)
    per_epoch = []
    callbacks = [_StopAfter(total_steps)]  # the last logging chunk may be partial
    if args.eval_every_epoch:
        def on_epoch_end(index, logs):
            done = min((index + 1) * chunk, total_steps)
            if done // steps_per_epoch > len(per_epoch) and done < total_steps:
                scores = evaluate()[0]
                per_epoch.append({"step": done, "epoch": done / steps_per_epoch,
                                  "cpu_seconds": _cpu_seconds(), "wall_seconds": time.time() - start_wall,
                                  "exact_match": scores["exact_match"], "f1": scores["f1"]})
                print(f"  after {done} steps ({done / steps_per_epoch:.2f} epochs): "
                      f"EM {scores['exact_match']:.3f}  F1 {scores['f1']:.3f}", flush=True)
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end))
    train_start, train_cpu_start = time.time(), _cpu_seconds()
    history = model.fit(train_ds, epochs=chunks, steps_per_epoch=chunk, verbose=2, callbacks=callbacks)
    train_seconds, train_cpu_seconds = time.time() - train_start, _cpu_seconds() - train_cpu_start

    # --- predict, post-process, score -----------------------------------------------------
    predict_start = time.time()
    scores, predictions, nbest, null_odds = evaluate()
    predict_seconds = time.time() - predict_start
    write_squad_predictions(args.output_dir, predictions, nbest, null_odds if v2 else None)

    model.save(os.path.join(args.output_dir, "model.keras"))
    export_path = None
    if not args.no_export:
        # savedmodels/<name>/<version>/: serving_default takes question and context
        # strings and returns the answer text, its character span and its score.
        export_path = export(
            model, args.export_dir, args.export_name, tokenizer=tokenizer,
            sequence_length=args.max_seq_length, max_query_length=args.max_query_length,
            max_answer_length=args.max_answer_length,
            null_score_diff_threshold=args.null_score_diff_threshold if v2 else None,
            token_ids_model=False).path

    metrics = dict(scores)
    metrics.update(
        version=args.version, demo=args.demo, train_file=args.train_file,
        predict_file=args.predict_file, train_questions=len(train_examples),
        train_features=len(train_features), dev_questions=len(dev_examples),
        dev_features=len(dev_features), train_steps=int(model.optimizer.iterations.numpy()),
        train_seconds=train_seconds, train_cpu_seconds=train_cpu_seconds,
        predict_seconds=predict_seconds,
        final_loss=history.history["loss"][-1], export_path=export_path, per_epoch=per_epoch,
        wall_seconds=time.time() - start_wall, cpu_seconds=_cpu_seconds(),
        args={k: v for k, v in vars(args).items()},
    )
    write_metrics(args.output_dir, metrics)
    plot_history(history.history, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"SQuAD v{args.version}")
    print(f"SQuAD v{args.version}: EM {scores['exact_match']:.3f}  F1 {scores['f1']:.3f}"
          + (f"  (best F1 {scores['best_f1']:.3f} at null threshold {scores['best_f1_thresh']:.3f})"
             if v2 else ""))
    if export_path:
        print(f"SavedModel: {export_path}")
    print(f"Time: {metrics['wall_seconds']:.0f} s wall, {metrics['cpu_seconds']:.0f} s CPU "
          f"(training {train_seconds:.0f} s wall / {train_cpu_seconds:.0f} s CPU, "
          f"prediction {predict_seconds:.0f} s wall)")
    return metrics


def _evaluator(args, model, examples, features):
    """A function that predicts `features`, post-processes and scores with the
    official script; returns `(scores, predictions, nbest, null_odds)`."""
    v2 = args.version == "2.0"

    def evaluate():
        start_logits, end_logits = predict_squad_logits(model, features, args.predict_batch_size)
        predictions, nbest, null_odds = postprocess_squad_predictions(
            examples, features, start_logits, end_logits,
            n_best_size=args.n_best_size, max_answer_length=args.max_answer_length,
            version_2_with_negative=v2, null_score_diff_threshold=args.null_score_diff_threshold)
        scores = evaluate_squad(args.predict_file, predictions, args.version,
                                null_odds=null_odds if v2 else None)
        return scores, predictions, nbest, null_odds

    return evaluate


class _StopAfter(keras.callbacks.Callback):
    """Stops training after exactly `steps` optimiser steps."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True


def _cpu_seconds():
    """User + system CPU time of this process so far (all threads, imports included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _buckets(max_seq_length):
    """Length buckets (multiples of 32) so training batches hold similar lengths."""
    return list(range(64, max_seq_length, 32)) or None


if __name__ == "__main__":
    main()

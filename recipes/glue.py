"""Fine-tunes BERT on a GLUE task and writes dev scores, predictions and a SavedModel.

The paper's recipe (section 4.1): AdamW (weight decay 0.01, not on LayerNorm/bias), 10%
linear warm-up then linear decay, batch 32, learning rate 5e-5 / 3e-5 / 2e-5, dropout 0.1
on the pooled output. Training batches are length-bucketed and padded only to their
longest row (`--no_bucketing`: pad every batch to `--max_seq_length`, as the original).
`--restarts N` is the paper's remedy for small data sets (section 5 / appendix A.3): N
fine-tuning runs from the same checkpoint with other seeds (data order, classifier
initialisation, dropout), keeping the one with the best dev score. `--keep_best_epoch`
applies the same dev-set selection to the epochs of each run: the weights of the epoch
with the best dev score are kept (scored, written and exported) instead of the last.

Writes to `--output_dir`: `metrics.json` (dev metrics as GLUE reports them, timings,
settings), `dev_predictions.tsv` (MNLI: one per dev set), `submission/<TASK>.tsv` (GLUE
test-server files; an MNLI run also predicts `AX.tsv`), `training_curve.png`; and
SavedModels for TF Serving to `<export_dir>/glue_<task>/<next version>/` (raw text in:
`text`, or `sentence1` + `sentence2` for pairs) and `<export_dir>/glue_<task>_token_ids/`.

    python recipes/glue.py --task sst2 \
        --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --epochs 1 --batch_size 32 --learning_rate 5e-5 --max_seq_length 64 \
        --output_dir runs/glue_sst2
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

from keras_bert_pkg.export.export_model import export  # noqa: E402
from keras_bert_pkg.data.glue import (  # noqa: E402
    glue_file_path, glue_task, read_glue, write_predictions, write_submission)
from keras_bert_pkg.data.length_bucketing import (  # noqa: E402
    bucketed_dataset, default_boundaries, example_lengths, num_bucketed_batches,
    predict_by_length, tokenize_to_ragged)
from keras_bert_pkg.metrics.glue import glue_metrics, predictions_from_logits  # noqa: E402
from keras_bert_pkg.models.bert_backbone import BertBackbone  # noqa: E402
from keras_bert_pkg.models.bert_classifier import BertClassifier  # noqa: E402
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor  # noqa: E402
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer  # noqa: E402
from keras_bert_pkg.training.mixed_precision import set_precision  # noqa: E402
from keras_bert_pkg.training.optimizers import create_optimizer  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics  # noqa: E402
from keras_bert_pkg.training.strategies import add_strategy_flags, strategy_from_flags  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data")
DEFAULT_DATA = os.path.join(SHARED_DATA, "glue")
DEFAULT_VOCAB = os.path.join(SHARED_DATA, "vocab", "bert-base-uncased", "vocab.txt")
TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, type=str.lower, choices=TASKS)
    p.add_argument("--data_dir", default=DEFAULT_DATA, help="GLUE root (SST-2/, MRPC/, ...)")
    p.add_argument("--init_checkpoint", default=None,
                   help="pre-trained checkpoint (Hugging Face, TF1, keras-hub, Model Garden)")
    p.add_argument("--preset", default=None,
                   help="random-init architecture (bert_tiny ... bert_large) without a checkpoint")
    p.add_argument("--vocab_file", default=None,
                   help="vocab.txt (default: the checkpoint's, else bert-base-uncased)")
    p.add_argument("--cased", action="store_true", help="do not lower-case (cased models)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch_size", type=int, default=32, help="global batch size")
    p.add_argument("--eval_batch_size", type=int, default=128)
    p.add_argument("--learning_rate", type=float, default=2e-5)
    p.add_argument("--warmup_fraction", type=float, default=0.1)
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max_seq_length", type=int, default=128)
    p.add_argument("--no_bucketing", action="store_true",
                   help="pad every batch to --max_seq_length (the original code's input)")
    p.add_argument("--precision", default="float32",
                   help="float32, mixed, mixed_bfloat16 or mixed_float16")
    p.add_argument("--train_split", default="train",
                   help="split to train on (QNLI locally has dev only: --train_split dev)")
    p.add_argument("--train_file", default=None,
                   help="train on this file instead (same columns), e.g. MRPC/train.rebuilt.tsv")
    p.add_argument("--max_train_examples", type=int, default=None,
                   help="train on the first N training examples")
    p.add_argument("--max_eval_examples", type=int, default=None)
    p.add_argument("--max_test_examples", type=int, default=None)
    p.add_argument("--no_test", action="store_true", help="skip the test-set submission files")
    p.add_argument("--log_every", type=int, default=50, help="training-curve points every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restarts", type=int, default=1,
                   help="fine-tune N times (seeds seed..seed+N-1: other shuffling and classifier "
                        "init, same checkpoint) and keep the run with the best dev score, as the "
                        "paper did on small data sets; every run's scores go to metrics.json")
    p.add_argument("--keep_best_epoch", action="store_true",
                   help="keep the weights of each run's epoch with the best dev score (dev is "
                        "scored after every epoch anyway) instead of the last epoch's")
    p.add_argument("--output_dir", default=None, help="default: runs/glue_<task>")
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--no_export", action="store_true")
    add_strategy_flags(p)
    args = p.parse_args(argv)
    if args.init_checkpoint and args.preset:
        p.error("give --init_checkpoint or --preset, not both")
    if not args.init_checkpoint and not args.preset:
        p.error("give --init_checkpoint PATH (fine-tuning) or --preset NAME (random init)")
    if args.restarts < 1:
        p.error(f"--restarts must be >= 1, got {args.restarts}")
    args.output_dir = args.output_dir or os.path.join(PROJECT_ROOT, "runs", f"glue_{args.task}")
    return args


class StepLossLogger(keras.callbacks.Callback):
    """Records the mean training loss of every `every` steps (the training curve)."""

    def __init__(self, every):
        super().__init__()
        self.every, self.points, self._sum, self._seen = max(int(every), 1), [], 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_sum, self._epoch_steps = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        # Keras reports the epoch's running mean; recover each step's own loss.
        total = float(logs["loss"]) * (batch + 1)
        self._sum += total - self._epoch_sum
        self._epoch_sum, self._seen = total, self._seen + 1
        if self._seen % self.every == 0:
            self.points.append(self._sum / self.every)
            self._sum = 0.0
            print(f"step {self._seen}: loss {self.points[-1]:.4f} "
                  f"({time.time() - self._started:.0f} s, {time.process_time() - self._cpu:.0f} CPU-s)",
                  flush=True)

    def on_train_begin(self, logs=None):
        self._started, self._cpu = time.time(), time.process_time()


class DevEvaluator(keras.callbacks.Callback):
    """Scores every dev set with the GLUE metrics at the end of each epoch.

    `last` holds the (logits, predictions, metrics) of the kept epoch: the last one, or
    with `keep_best=True` the one with the best dev score, whose weights are put back
    into the model when training ends (`best_epoch` is 1-based).
    """

    def __init__(self, task, dev_sets, batch_size, pad_token_id, keep_best=False):
        super().__init__()
        self.task, self.dev_sets = task, dev_sets
        self.batch_size, self.pad_token_id = batch_size, pad_token_id
        self.keep_best = keep_best
        self.history, self.last = [], {}
        self.best_epoch, self._best = None, None

    def on_epoch_end(self, epoch, logs=None):
        started = time.time()
        self.last = {}
        for name, (split, features) in self.dev_sets.items():
            logits = predict_by_length(self.model, features, self.batch_size, self.pad_token_id)
            predictions = predictions_from_logits(self.task, logits)
            self.last[name] = (logits, predictions, glue_metrics(_metric_task(self.task, name),
                                                                 split.labels, predictions))
        self.seconds = time.time() - started
        self.history.append({name: m for name, (_, _, m) in self.last.items()})
        score = _dev_score(self.history[-1])
        if self._best is None or score > self._best[0] or not self.keep_best:
            weights = self.model.get_weights() if self.keep_best else None
            self._best, self.best_epoch = (score, weights, self.last), epoch + 1
        print(f"epoch {epoch + 1}: " + "; ".join(
            f"{name} " + ", ".join(f"{k} {v:.4f}" for k, v in m.items())
            for name, (_, _, m) in self.last.items()) + f" ({self.seconds:.0f} s)", flush=True)

    def on_train_end(self, logs=None):
        if self.keep_best and self._best is not None:
            _, weights, self.last = self._best
            self.model.set_weights(weights)
            print(f"kept epoch {self.best_epoch} (best dev score {self._best[0]:.4f})", flush=True)


def _dev_score(dev_metrics):
    """One number per run: the GLUE score, averaged over the dev sets (MNLI has two)."""
    return float(np.mean([metrics["score"] for metrics in dev_metrics.values()]))


def _metric_task(task, dev_name):
    return dev_name if task == "mnli" else task


def _dev_splits(task):
    return {"mnli_matched": "dev_matched", "mnli_mismatched": "dev_mismatched"} \
        if task == "mnli" else {task: "dev"}


def _test_splits(task, data_dir):
    """(task, split) of every test file to predict that exists; MNLI also predicts AX."""
    spec = glue_task(task)
    wanted = [(task, split) for split in spec.submission_files]
    if task == "mnli":
        wanted.append(("ax", "test"))
    return [(t, s) for t, s in wanted if os.path.isfile(glue_file_path(t, data_dir, s)[0])]


def build_model(args, num_classes):
    """Tokenizer, preprocessor and classifier from a checkpoint or a preset."""
    if args.init_checkpoint:
        backbone = BertBackbone.from_checkpoint(args.init_checkpoint)
        vocab = args.vocab_file or os.path.join(args.init_checkpoint, "vocab.txt")
    else:
        backbone = BertBackbone.from_preset(args.preset)
        vocab = args.vocab_file or DEFAULT_VOCAB
    if not os.path.isfile(vocab):
        raise FileNotFoundError(f"vocabulary not found: {vocab} (pass --vocab_file)")
    tokenizer = BertTokenizer(vocab, lowercase=not args.cased)
    if tokenizer.vocabulary_size() != backbone.vocabulary_size:
        raise ValueError(f"{vocab} has {tokenizer.vocabulary_size()} tokens but the model's "
                         f"embedding has {backbone.vocabulary_size}.")
    preprocessor = BertPreprocessor(tokenizer, sequence_length=args.max_seq_length,
                                    dynamic_padding=not args.no_bucketing)
    model = BertClassifier(backbone, num_classes, preprocessor=preprocessor, dropout=args.dropout)
    return tokenizer, preprocessor, model


def _fixed_length_dataset(features, labels, batch_size, length, pad_token_id, seed):
    """The original input: every batch padded to `length` (for --no_bucketing)."""
    import tensorflow as tf

    dense = {k: v.to_tensor(default_value=pad_token_id if k == "token_ids" else 0,
                            shape=[None, length]) for k, v in features.items()}
    ds = tf.data.Dataset.from_tensor_slices((dense, labels))
    return ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size).repeat()


def main(argv=None):
    args = parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    strategy = strategy_from_flags(args)  # --strategy: models, optimizer, metrics built in its scope
    with strategy.scope():
        return train(args)


def train(args):
    started, cpu_started = time.time(), time.process_time()
    keras.utils.set_random_seed(args.seed)
    precision = set_precision(args.precision)
    spec = glue_task(args.task)

    # --- data -----------------------------------------------------------------
    train = read_glue(spec, args.data_dir, args.train_split, path=args.train_file)
    train = train.subset(args.max_train_examples)
    dev_sets = {name: read_glue(spec, args.data_dir, split).subset(args.max_eval_examples)
                for name, split in _dev_splits(spec.name).items()}
    skipped = {f"{s.split}": s.num_skipped for s in [train, *dev_sets.values()]}
    print(f"{spec.name}: {len(train)} training examples ({train.path}), dev "
          + ", ".join(f"{n} {len(s)}" for n, s in dev_sets.items())
          + f"; skipped short rows: {skipped}", flush=True)

    tokenizer, preprocessor, model = build_model(args, spec.num_classes)
    pad = tokenizer.pad_token_id
    t0 = time.time()
    train_features = tokenize_to_ragged(preprocessor, train.features)
    dev_features = {n: (s, tokenize_to_ragged(preprocessor, s.features)) for n, s in dev_sets.items()}
    tokenize_seconds = time.time() - t0
    lengths = example_lengths(train_features)
    steps_per_epoch = (-(-len(train) // args.batch_size) if args.no_bucketing else
                       num_bucketed_batches(lengths, args.batch_size, default_boundaries(args.max_seq_length)))
    total_steps = steps_per_epoch * args.epochs

    # --- fine-tuning (each restart from the checkpoint, with its own seed) ---------------
    runs, best = [], None
    fit_cpu_seconds = 0.0
    for restart in range(args.restarts):
        seed = args.seed + restart
        if restart:
            keras.utils.set_random_seed(seed)
            _, _, model = build_model(args, spec.num_classes)
        if args.no_bucketing:
            train_ds = _fixed_length_dataset(train_features, train.labels, args.batch_size,
                                             args.max_seq_length, pad, seed)
        else:
            train_ds = bucketed_dataset(train_features, train.labels, args.batch_size,
                                        default_boundaries(args.max_seq_length),
                                        seed=seed, pad_token_id=pad).repeat()
        if args.restarts > 1:
            print(f"restart {restart + 1}/{args.restarts}: seed {seed}", flush=True)
        model.compile(optimizer=create_optimizer(
            args.learning_rate, total_steps, warmup_steps=int(args.warmup_fraction * total_steps),
            weight_decay=args.weight_decay))
        logger = StepLossLogger(min(args.log_every, max(total_steps // 2, 1)))
        evaluator = DevEvaluator(spec.name, dev_features, args.eval_batch_size, pad,
                                 keep_best=args.keep_best_epoch)
        t0, cpu0 = time.time(), time.process_time()
        history = model.fit(train_ds, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                            callbacks=[logger, evaluator], shuffle=False, verbose=2)
        run = {"seed": seed,
               "dev": {name: metrics for name, (_, _, metrics) in evaluator.last.items()},
               "kept_epoch": evaluator.best_epoch,
               "dev_per_epoch": evaluator.history,
               "train_seconds": round(time.time() - t0 - evaluator.seconds * len(evaluator.history), 1),
               "fit_cpu_seconds": round(time.process_time() - cpu0, 1)}
        fit_cpu_seconds += run["fit_cpu_seconds"]
        runs.append(run)
        score = _dev_score(run["dev"])
        if best is None or score > best[0]:
            best = (score, model, logger, evaluator, history, run)
    _, model, logger, evaluator, history, chosen = best
    train_seconds = sum(r["train_seconds"] for r in runs)
    if args.restarts > 1:
        print("restarts, dev score by seed: " + ", ".join(f"{r['seed']}: {_dev_score(r['dev']):.4f}" for r in runs)
              + f"; kept seed {chosen['seed']}", flush=True)

    # --- outputs ------------------------------------------------------------------
    os.makedirs(args.output_dir, exist_ok=True)
    dev_metrics = {}
    for name, (logits, predictions, metrics) in evaluator.last.items():
        dev_metrics[name] = metrics
        split = dev_sets[name]
        filename = "dev_predictions.tsv" if len(dev_sets) == 1 else f"{split.split}_predictions.tsv"
        write_predictions(spec, split, predictions, os.path.join(args.output_dir, filename),
                          scores=logits)
    submissions = []
    if not args.no_test:
        for task, split_name in _test_splits(spec.name, args.data_dir):
            split = read_glue(task, args.data_dir, split_name).subset(args.max_test_examples)
            logits = predict_by_length(model, tokenize_to_ragged(preprocessor, split.features),
                                       args.eval_batch_size, pad)
            submissions.append(write_submission(task, split, predictions_from_logits(spec.name, logits),
                                                os.path.join(args.output_dir, "submission")))
    curve = {f"train_loss (mean of {logger.every} steps)": logger.points}
    for name in dev_metrics:
        for key in dev_metrics[name]:
            if key != "score":
                curve[f"dev {name} {key} (per epoch)"] = [h[name][key] for h in evaluator.history]
    plot_history(curve, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"GLUE {spec.name}")
    export_path = None
    if not args.no_export:  # raw-text serving_default + token-id signatures, TF Serving layout
        export_path = export(model, args.export_dir, f"glue_{spec.name}",
                             labels=list(spec.labels) if spec.labels else None,
                             text_inputs=("sentence1", "sentence2") if spec.is_pair else None).path
    summary = {
        "task": spec.name,
        "dev": dev_metrics,
        "dev_per_epoch": evaluator.history,
        "train_examples": len(train),
        "train_file": train.path,
        "skipped_rows": skipped,
        "epochs": args.epochs,
        "steps": total_steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "max_seq_length": args.max_seq_length,
        "bucketing": not args.no_bucketing,
        "mean_train_tokens": float(lengths.mean()),
        "precision": precision,
        "init": args.init_checkpoint or f"preset:{args.preset}",
        "final_train_loss": float(history.history["loss"][-1]),
        "seed": chosen["seed"],
        "keep_best_epoch": args.keep_best_epoch,
        "kept_epoch": chosen["kept_epoch"],
        "restarts": runs,
        "tokenize_seconds": round(tokenize_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "eval_seconds_per_epoch": round(evaluator.seconds, 1),
        "fit_cpu_seconds_incl_dev_eval": round(fit_cpu_seconds, 1),
        "total_seconds": round(time.time() - started, 1),
        "total_cpu_seconds": round(time.process_time() - cpu_started, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "submission_files": submissions,
        "savedmodel": export_path,
        "command": "python recipes/glue.py " + " ".join(args.command_line),
    }
    write_metrics(args.output_dir, summary)
    print(f"dev: {dev_metrics}; train {train_seconds:.0f} s, total {summary['total_seconds']:.0f} s; "
          f"wrote {args.output_dir}" + (f", {export_path}" if export_path else ""), flush=True)
    return summary


if __name__ == "__main__":
    main()

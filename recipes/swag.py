"""Fine-tunes BERT for SWAG multiple choice (the official train.csv / val.csv files).

Each example's four (context, ending) pairs are packed `[CLS] sent1 [SEP] sent2 ending
[SEP]`, scored by a `BertMultipleChoice` and compared with a softmax over the endings
(paper, section 4.4: 3 epochs, learning rate 2e-5, batch size 16). Writes
`metrics.json` (validation accuracy), a training curve and a SavedModel
(`savedmodels/<export_name>/<version>/`: context and endings strings in). The SWAG files
are not part of the shared data; point `--data_dir` at a copy of github.com/rowanz/swagaf
`data/`.

    python recipes/swag.py --data_dir swagaf/data --init_checkpoint bert_base_uncased

A killed run resumes after its last finished epoch when the same command is started
again (checkpoints in `<output_dir>/checkpoints/` while it runs; `--checkpoint_dir`).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bert_pkg.data.swag import read_swag, swag_features  # noqa: E402
from keras_bert_pkg.training.fine_tuning_defaults import fill_fine_tuning_defaults  # noqa: E402
from keras_bert_pkg.training.recipe_flags import (  # noqa: E402
    add_training_flags, backbone_source, finish_run, run_search, run_with_flags, search_record)
from keras_bert_pkg.training.resumable_fine_tuning import fine_tune_resumably  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, process_cpu_seconds  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_flags(p, require_model=True, max_seq_length=128,
                       output_dir=os.path.join(PROJECT_ROOT, "runs", "swag"),
                       export_dir=os.path.join(PROJECT_ROOT, "savedmodels"), export_name="swag")
    p.add_argument("--data_dir", required=True, help="folder with the SWAG CSV files")
    p.add_argument("--train_file", default="train.csv")
    p.add_argument("--valid_file", default="val.csv")
    p.add_argument("--max_valid_examples", type=int)
    p.add_argument("--dropout", type=float, default=0.1)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run_with_flags(run, args)


def run(args):
    started, cpu_started = time.time(), process_cpu_seconds()
    train = read_swag(os.path.join(args.data_dir, args.train_file))[: args.max_train_examples]
    valid = read_swag(os.path.join(args.data_dir, args.valid_file))[: args.max_valid_examples]
    config, tokenizer, build_backbone = backbone_source(args, dropout=args.dropout)
    preprocessor = kb.BertPreprocessor(tokenizer, args.max_seq_length)
    train_x, train_y = swag_features(train, preprocessor)
    valid_x, valid_y = swag_features(valid, preprocessor)
    if train_y is None:
        raise SystemExit(f"{args.train_file} has examples without a label.")

    defaults = fill_fine_tuning_defaults(args, "swag", config["hidden_dim"])
    print(f"settings for {defaults['row']}: {defaults['filled']}")

    def build_model():
        return kb.BertMultipleChoice(build_backbone(),
                                     train_x["token_ids"].shape[1], preprocessor, dropout=args.dropout)

    def evaluate(m):
        predicted = m.predict(valid_x, batch_size=args.batch_size, verbose=0).argmax(-1)
        accuracy = float(np.mean(predicted == valid_y)) if valid_y is not None else float("nan")
        return {"score": accuracy, "metrics": {"accuracy": accuracy}, "predicted": predicted}

    def fine_tune(trial, checkpoint_dir, key):
        keras.utils.set_random_seed(trial.seed)
        model = build_model()
        steps_per_epoch = -(-len(train_y) // trial.batch_size)
        steps = max(1, round(trial.epochs * steps_per_epoch))
        model.compile(optimizer=kb.create_optimizer(trial.learning_rate, steps,
                                                    int(args.warmup_fraction * steps),
                                                    weight_decay=args.weight_decay))
        dataset = tf.data.Dataset.from_tensor_slices((train_x, train_y)).shuffle(
            len(train_y), seed=trial.seed).batch(trial.batch_size).repeat()
        logger = kb.StepLossLogger(steps_per_epoch, log=None)  # one point an epoch
        evaluator = kb.DevEvaluator(evaluate)
        fine_tune_resumably(model, dataset, steps_per_epoch, steps, checkpoint_dir=checkpoint_dir,
                            callbacks=[logger, evaluator], run_key=key)
        kept = evaluator.kept_evaluation()
        record = {"score": kept["score"], "loss": logger.points,
                  "val_accuracy": [m["accuracy"] for m in evaluator.history]}
        return record, model, kept

    outcome = run_search(args, fine_tune, build_model)
    best, model = outcome.best, outcome.model
    predicted = (outcome.evaluation or evaluate(model))["predicted"]
    history = {"loss": best["loss"], "val_accuracy": best["val_accuracy"]}
    metrics = {
        "task": "swag", "model": args.init_checkpoint or args.architecture, "args": vars(args),
        "defaults": defaults, "trial": best["trial"], "search": search_record(outcome),
        "data": {"train": os.path.join(args.data_dir, args.train_file),
                 "valid": os.path.join(args.data_dir, args.valid_file),
                 "train_examples": len(train), "valid_examples": len(valid)},
        "history": history,
        "predictions": {e.id: int(p) for e, p in zip(valid, predicted)},
    }
    if valid_y is not None:
        metrics["validation"] = {"accuracy": float(np.mean(predicted == valid_y)),
                                 "examples": len(valid_y)}
    plot_history(history, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"SWAG fine-tuning ({metrics['model']})")
    if not args.no_export:  # context + endings strings in
        metrics["export"] = kb.export_model(model, args.export_dir, args.export_name).path
    metrics["total_seconds"] = time.time() - started
    metrics["total_cpu_seconds"] = process_cpu_seconds() - cpu_started
    finish_run(args, metrics)
    if "validation" in metrics:
        print(f"validation accuracy {metrics['validation']['accuracy']:.4f} "
              f"({len(valid)} examples, {metrics['total_seconds']:.0f} s)")
    return metrics


if __name__ == "__main__":
    main()

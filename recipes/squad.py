"""Fine-tunes BERT for SQuAD v1.1 / v2.0 question answering, scores it with the official
scorer, and exports a SavedModel that answers questions from raw strings.

With no data flags it runs the embedded demo: it generates a small templated QA set
(official JSON layout, `squad_demo.py`) and its vocabulary into `--output_dir`, trains a
tiny BERT (bert_tiny, 4 heads) from scratch, predicts, scores with the official script and
exports to `savedmodels/squad/<version>/`, in a few CPU-minutes:

    python recipes/squad.py
    python recipes/squad.py --version 2.0

On real data, from a pretrained checkpoint:

    python recipes/squad.py --version 1.1 \
        --train_file ../shared/data/squad/v1.1/train.json \
        --predict_file ../shared/data/squad/v1.1/dev.json \
        --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --max_seq_length 256 --doc_stride 128 --epochs 2 --learning_rate 1e-4 \
        --precision mixed_bfloat16 --eval_every_epoch --output_dir runs/squad_minilm

Writes to `--output_dir`: `predictions.json`, `nbest_predictions.json`,
`null_odds.json` (v2.0), `metrics.json`, `training_curve.png`, `model.keras`.

A killed run resumes after its last finished epoch when the same command is started
again (checkpoints in `<output_dir>/checkpoints/` while it runs; `--checkpoint_dir`).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)

from keras_bert_pkg.atomic_files import atomic_path  # noqa: E402
from keras_bert_pkg.data.squad_examples import read_squad_examples  # noqa: E402
from keras_bert_pkg.data.squad_features import (  # noqa: E402
    convert_examples_to_features, squad_labels, squad_ragged_features)
from keras_bert_pkg.data.squad_postprocessing import write_squad_predictions  # noqa: E402
from keras_bert_pkg.evaluation.squad_evaluation import evaluate_squad_model  # noqa: E402
from keras_bert_pkg.training.fine_tuning_defaults import fill_fine_tuning_defaults  # noqa: E402
from keras_bert_pkg.training.fine_tuning_trial import start_trial  # noqa: E402
from keras_bert_pkg.training.recipe_flags import (  # noqa: E402
    add_training_flags, backbone_source, finish_run, run_search, run_with_flags, search_record)
from keras_bert_pkg.training.resumable_fine_tuning import fine_tune_resumably  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, process_cpu_seconds  # noqa: E402
from squad_demo import write_squad_demo  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The embedded demo: settings where a tiny BERT learns the templated task from scratch.
# (bert_tiny with 4 heads instead of 2 learns it markedly better at the same cost.)
DEMO = dict(architecture="bert_tiny", num_heads=4, max_seq_length=128, doc_stride=64,
            max_query_length=32, epochs=3, batch_size=16, learning_rate=1e-3, dropout=0.0)
# Real data: settings that suit the model's size (training/fine_tuning_defaults.py), filled in `run`.


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_flags(p, output_dir=os.path.join(PROJECT_ROOT, "runs", "squad"),
                       export_dir=os.path.join(PROJECT_ROOT, "savedmodels"), export_name="squad")
    p.add_argument("--version", choices=["1.1", "2.0"], default="1.1")
    p.add_argument("--train_file", help="SQuAD JSON to train on (default: generated demo)")
    p.add_argument("--predict_file", help="SQuAD JSON to predict and score (default: demo dev)")
    p.add_argument("--num_heads", type=int, help="attention heads of an --architecture model")
    p.add_argument("--dropout", type=float, help="backbone dropout (default: the checkpoint's)")
    p.add_argument("--doc_stride", type=int)
    p.add_argument("--max_query_length", type=int)
    p.add_argument("--n_best_size", type=int, default=20)
    p.add_argument("--max_answer_length", type=int, default=30)
    p.add_argument("--null_score_diff_threshold", type=float, default=None,
                   help="v2.0: answer '' when null score - best span score exceeds it (default: 0 "
                        "for predictions.json, the dev set's best-F1 threshold for the export)")
    p.add_argument("--predict_batch_size", type=int, default=64)
    p.add_argument("--eval_every_epoch", action="store_true",
                   help="also score the predict file after each epoch")
    p.add_argument("--demo_train_paragraphs", type=int, default=1800)
    p.add_argument("--demo_dev_paragraphs", type=int, default=80)
    args = p.parse_args(argv)
    if (args.train_file is None) != (args.predict_file is None):
        p.error("give both --train_file and --predict_file, or neither (the demo)")
    args.demo = args.train_file is None
    if args.demo and not args.init_checkpoint and not args.architecture:
        args.architecture, args.num_heads = DEMO["architecture"], args.num_heads or DEMO["num_heads"]
    for key, value in (DEMO if args.demo else {}).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.num_heads and not args.architecture:
        p.error("--num_heads applies to --architecture models only")
    if not args.demo and not args.init_checkpoint and not args.architecture:
        p.error("real data needs --init_checkpoint (or --architecture to train from scratch)")
    return args


def main(argv=None):
    args = parse_args(argv)
    return run_with_flags(run, args)


def run(args):
    started, cpu_started = time.time(), process_cpu_seconds()
    os.makedirs(args.output_dir, exist_ok=True)
    v2 = args.version == "2.0"
    if args.demo:
        paths = write_squad_demo(os.path.join(args.output_dir, "data"), args.version,
                                 args.demo_train_paragraphs, args.demo_dev_paragraphs, seed=args.seed)
        args.train_file, args.predict_file = paths["train_file"], paths["predict_file"]
        args.vocab = args.vocab or paths["vocab"]
    overrides = {} if args.dropout is None else {"dropout": args.dropout}
    if args.architecture:
        if args.max_seq_length:
            overrides["max_sequence_length"] = max(args.max_seq_length, 8)
        if args.num_heads:
            overrides["num_heads"] = args.num_heads
    config, tokenizer, build_backbone = backbone_source(args, **overrides)
    defaults = fill_fine_tuning_defaults(args, f"squad{args.version}", config["hidden_dim"])
    print(f"settings for {defaults['row']}: {defaults['filled']}")

    train_examples = read_squad_examples(args.train_file, is_training=True, version_2_with_negative=v2)
    train_examples = train_examples[: args.max_train_examples]
    dev_examples = read_squad_examples(args.predict_file, is_training=False, version_2_with_negative=v2)
    windows = dict(max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
                   max_query_length=args.max_query_length)
    train_features = convert_examples_to_features(train_examples, tokenizer, is_training=True, **windows)
    dev_features = convert_examples_to_features(dev_examples, tokenizer, **windows)
    print(f"Train: {len(train_examples)} questions → {len(train_features)} features; "
          f"dev: {len(dev_examples)} questions → {len(dev_features)} features")
    features = squad_ragged_features(train_features)  # shared by every trial

    def build_model():
        return kb.BertSpanLabeler(build_backbone(),
                                  kb.BertPreprocessor(tokenizer, args.max_seq_length, dynamic_padding=True))

    def evaluate(m):
        return evaluate_squad_model(
            m, args.predict_file, dev_examples, dev_features, args.version,
            batch_size=args.predict_batch_size, n_best_size=args.n_best_size,
            max_answer_length=args.max_answer_length,
            null_score_diff_threshold=args.null_score_diff_threshold or 0.0)

    def fine_tune(trial, checkpoint_dir, key):
        model, dataset, steps_per_epoch, total_steps = start_trial(
            args, trial, build_model, features, squad_labels(train_features), tokenizer.pad_token_id)
        logger = kb.StepLossLogger(max(1, total_steps // 10))
        evaluator = kb.DevEvaluator(evaluate) if args.eval_every_epoch else None
        print(f"Training {total_steps} steps (batch {trial.batch_size}, {trial.epochs:g} epochs, "
              f"lr {trial.learning_rate:g}, precision {args.precision})")
        train_started, train_cpu = time.time(), process_cpu_seconds()
        fine_tune_resumably(model, dataset, steps_per_epoch, total_steps, checkpoint_dir=checkpoint_dir,
                            callbacks=[logger] + ([evaluator] if evaluator else []), run_key=key)
        train_seconds, train_cpu_seconds = time.time() - train_started, process_cpu_seconds() - train_cpu
        predict_started = time.time()
        result = evaluator.kept_evaluation() if evaluator else evaluate(model)
        record = {"score": result["score"], "metrics": result["metrics"], "loss": logger.points,
                  "per_epoch": evaluator.history if evaluator else [], "steps_per_epoch": steps_per_epoch,
                  "train_steps": int(model.optimizer.iterations.numpy()), "train_seconds": train_seconds,
                  "train_cpu_seconds": train_cpu_seconds, "predict_seconds": time.time() - predict_started}
        return record, model, result

    outcome = run_search(args, fine_tune, build_model)
    best, model = outcome.best, outcome.model
    result = outcome.evaluation or evaluate(model)
    write_squad_predictions(args.output_dir, result["predictions"], result["nbest"],
                            result["null_odds"] if v2 else None)
    with atomic_path(os.path.join(args.output_dir, "model.keras")) as tmp:
        model.save(tmp)
    scores = result["metrics"]
    threshold = None
    if v2:
        threshold = (args.null_score_diff_threshold if args.null_score_diff_threshold is not None
                     else scores.get("best_f1_thresh", 0.0))
    decoding = kb.SpanDecoding(doc_stride=args.doc_stride, max_query_length=args.max_query_length,
                               max_answer_length=args.max_answer_length, n_best_size=args.n_best_size,
                               null_score_diff_threshold=threshold)
    export_path = None
    if not args.no_export:  # serving_default: question + context of any length → answers
        export_path = kb.export_model(model, args.export_dir, args.export_name, decoding=decoding,
                                      token_ids_model=False).path
    metrics = dict(scores, version=args.version, demo=args.demo, train_file=args.train_file,
                   predict_file=args.predict_file, train_questions=len(train_examples),
                   train_features=len(train_features), dev_questions=len(dev_examples),
                   dev_features=len(dev_features), export_path=export_path,
                   **{k: best[k] for k in ("steps_per_epoch", "train_steps", "train_seconds",
                                           "train_cpu_seconds", "predict_seconds", "per_epoch")},
                   trial=best["trial"], defaults=defaults, search=search_record(outcome),
                   wall_seconds=time.time() - started, cpu_seconds=process_cpu_seconds() - cpu_started,
                   args=vars(args))
    finish_run(args, metrics)
    plot_history({"loss": best["loss"]}, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"SQuAD v{args.version}")
    print(f"SQuAD v{args.version}: EM {scores['exact_match']:.3f}  F1 {scores['f1']:.3f}"
          + (f"  (best F1 {scores['best_f1']:.3f} at null threshold {scores['best_f1_thresh']:.3f})"
             if v2 else ""))
    if export_path:
        print(f"SavedModel: {export_path}")
    print(f"Time: {metrics['wall_seconds']:.0f} s wall, {metrics['cpu_seconds']:.0f} s CPU "
          f"(training {best['train_seconds']:.0f} s wall / {best['train_cpu_seconds']:.0f} s CPU, "
          f"prediction {best['predict_seconds']:.0f} s wall)")
    return metrics


if __name__ == "__main__":
    main()

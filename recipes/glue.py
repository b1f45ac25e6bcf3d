"""Fine-tunes BERT on a GLUE task and writes dev scores, predictions and a SavedModel.

The paper's recipe (section 4.1): AdamW (weight decay 0.01, not on LayerNorm/bias), 10%
linear warm-up then linear decay, batch 32, learning rate 5e-5 / 3e-5 / 2e-5, dropout 0.1
on the pooled output; settings not given on the command line suit the model's size
(`training/fine_tuning_defaults.py`: small models such as MiniLM take others). Training
batches are length-bucketed and padded only to their longest row. `--search` is the
paper's dev-set selection: a grid of learning rates, batch sizes, epochs and seeds
(`--search_seeds 0,1,2` alone: random restarts), the best dev run kept, within
`--search_budget` CPU-minutes. `--keep_best_epoch` applies the same selection to the
epochs of each run.

Writes to `--output_dir`: `metrics.json` (dev metrics as GLUE reports them, timings,
settings), `dev_predictions.tsv` (MNLI: one per dev set), `submission/<TASK>.tsv` (GLUE
test-server files; an MNLI run also predicts `AX.tsv`), `training_curve.png`; and
SavedModels for TF Serving to `<export_dir>/<export_name>/<next version>/` (raw text in:
`text`, or `sentence1` + `sentence2` for pairs) and `<export_dir>/<export_name>_token_ids/`.

    python recipes/glue.py --task mrpc --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2
    python recipes/glue.py --task sst2 \
        --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --epochs 1 --batch_size 32 --learning_rate 5e-5 --max_seq_length 64 \
        --output_dir runs/glue_sst2

A killed run resumes after its last finished epoch when the same command is started
again (checkpoints in `<output_dir>/checkpoints/` while it runs; `--checkpoint_dir`).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)

from keras_bert_pkg.data.glue import glue_task, write_predictions, write_submission  # noqa: E402
from keras_bert_pkg.evaluation.glue_evaluation import (  # noqa: E402
    evaluate_glue, glue_dev_splits, glue_test_splits, predict_glue)
from keras_bert_pkg.training.fine_tuning_defaults import fill_fine_tuning_defaults  # noqa: E402
from keras_bert_pkg.training.fine_tuning_trial import start_trial  # noqa: E402
from keras_bert_pkg.training.recipe_flags import (  # noqa: E402
    add_training_flags, backbone_source, finish_run, run_search, run_with_flags, search_record)
from keras_bert_pkg.training.resumable_fine_tuning import fine_tune_resumably  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, process_cpu_seconds  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data", "glue")
TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, type=str.lower, choices=TASKS)
    add_training_flags(p, require_model=True, max_seq_length=128,
                       export_dir=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--data_dir", default=DEFAULT_DATA, help="GLUE root (SST-2/, MRPC/, ...)")
    p.add_argument("--train_split", default="train",
                   help="split to train on (QNLI locally has dev only: --train_split dev)")
    p.add_argument("--train_file", help="train on this file instead (same columns), e.g. "
                                        "MRPC/train.rebuilt.tsv")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout on the pooled output")
    p.add_argument("--eval_batch_size", type=int, default=128)
    p.add_argument("--max_eval_examples", type=int)
    p.add_argument("--max_test_examples", type=int)
    p.add_argument("--no_test", action="store_true", help="skip the test-set submission files")
    p.add_argument("--log_every", type=int, default=50, help="training-curve points every N steps")
    p.add_argument("--keep_best_epoch", action=argparse.BooleanOptionalAction,
                   help="keep each run's epoch with the best dev score instead of the last "
                        "(default: by the model's size, training/fine_tuning_defaults.py)")
    args = p.parse_args(argv)
    args.output_dir = args.output_dir or os.path.join(PROJECT_ROOT, "runs", f"glue_{args.task}")
    args.export_name = args.export_name or f"glue_{args.task}"
    return args


def main(argv=None):
    args = parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)
    return run_with_flags(run, args)


def run(args):
    started, cpu_started = time.time(), process_cpu_seconds()
    spec = glue_task(args.task)
    train = kb.read_glue(spec, args.data_dir, args.train_split, path=args.train_file)
    train = train.subset(args.max_train_examples)
    dev_sets = {name: kb.read_glue(spec, args.data_dir, split).subset(args.max_eval_examples)
                for name, split in glue_dev_splits(spec.name).items()}
    skipped = {s.split: s.num_skipped for s in [train, *dev_sets.values()]}
    print(f"{spec.name}: {len(train)} training examples ({train.path}), dev "
          + ", ".join(f"{n} {len(s)}" for n, s in dev_sets.items()) + f"; skipped rows: {skipped}")

    config, tokenizer, build_backbone = backbone_source(args)
    defaults = fill_fine_tuning_defaults(args, "glue", config["hidden_dim"], len(train))
    print(f"settings for {defaults['row']}: {defaults['filled']}")
    preprocessor = kb.BertPreprocessor(tokenizer, args.max_seq_length, dynamic_padding=True)

    def build_model():
        return kb.BertClassifier(build_backbone(), spec.num_classes, dropout=args.dropout,
                                 preprocessor=kb.BertPreprocessor(tokenizer, args.max_seq_length, dynamic_padding=True))
    features = kb.tokenize_to_ragged(preprocessor, train.features)  # shared by every trial
    pad = tokenizer.pad_token_id

    def fine_tune(trial, checkpoint_dir, key):
        model, dataset, steps_per_epoch, total_steps = start_trial(
            args, trial, build_model, features, train.labels, pad)
        logger = kb.StepLossLogger(min(args.log_every, max(total_steps // 2, 1)))
        evaluator = kb.DevEvaluator(lambda m: evaluate_glue(m, spec.name, dev_sets, args.eval_batch_size),
                                    keep_best=args.keep_best_epoch)
        fine_tune_resumably(model, dataset, steps_per_epoch, total_steps, checkpoint_dir=checkpoint_dir,
                            callbacks=[logger, evaluator], run_key=key)
        kept = evaluator.kept_evaluation()
        record = {"score": kept["score"], "dev": kept["metrics"], "dev_per_epoch": evaluator.history,
                  "kept_epoch": evaluator.best_epoch, "steps": total_steps, "steps_per_epoch": steps_per_epoch,
                  "final_train_loss": logger.points[-1] if logger.points else None,
                  "train_loss_curve": logger.points, "train_loss_every": logger.every}
        return record, model, kept

    outcome = run_search(args, fine_tune, build_model)
    best, model = outcome.best, outcome.model
    evaluation = outcome.evaluation or evaluate_glue(model, spec.name, dev_sets, args.eval_batch_size)
    for name, split in dev_sets.items():
        filename = "dev_predictions.tsv" if len(dev_sets) == 1 else f"{split.split}_predictions.tsv"
        write_predictions(spec, split, evaluation["predictions"][name],
                          os.path.join(args.output_dir, filename), scores=evaluation["logits"][name])
    submissions = []
    for task, split_name in ([] if args.no_test else glue_test_splits(spec.name, args.data_dir)):
        split = kb.read_glue(task, args.data_dir, split_name).subset(args.max_test_examples)
        _, predictions = predict_glue(model, spec.name, split, args.eval_batch_size)
        submissions.append(write_submission(task, split, predictions,
                                            os.path.join(args.output_dir, "submission")))
    curve = {f"train_loss (mean of {best['train_loss_every']} steps)": best["train_loss_curve"]}
    for name, metrics in best["dev"].items():
        for key in metrics:
            if key != "score":
                curve[f"dev {name} {key} (per epoch)"] = [h[name][key] for h in best["dev_per_epoch"]]
    plot_history(curve, os.path.join(args.output_dir, "training_curve.png"), title=f"GLUE {spec.name}")
    export_path = None
    if not args.no_export:
        export_path = kb.export_model(
            model, args.export_dir, args.export_name, labels=list(spec.labels) if spec.labels else None,
            text_inputs=("sentence1", "sentence2") if spec.is_pair else None).path
    summary = {
        "task": spec.name, "dev": best["dev"], "dev_per_epoch": best["dev_per_epoch"],
        "train_examples": len(train), "train_file": train.path, "skipped_rows": skipped,
        **best["trial"], "steps": best["steps"], "steps_per_epoch": best["steps_per_epoch"],
        "warmup_fraction": args.warmup_fraction, "weight_decay": args.weight_decay,
        "max_seq_length": args.max_seq_length, "defaults": defaults,
        "precision": args.precision, "init": args.init_checkpoint or f"architecture:{args.architecture}",
        "final_train_loss": best["final_train_loss"],
        "keep_best_epoch": args.keep_best_epoch, "kept_epoch": best["kept_epoch"],
        "search": search_record(outcome),
        "total_seconds": round(time.time() - started, 1),
        "total_cpu_seconds": round(process_cpu_seconds() - cpu_started, 1),
        "submission_files": submissions, "savedmodel": export_path,
        "command": "python recipes/glue.py " + " ".join(args.command_line),
    }
    finish_run(args, summary)
    print(f"dev: {best['dev']} ({best['trial_name']}); total {summary['total_seconds']:.0f} s, "
          f"{summary['total_cpu_seconds'] / 60:.1f} CPU-min; wrote {args.output_dir}"
          + (f", {export_path}" if export_path else ""))
    return summary


if __name__ == "__main__":
    main()

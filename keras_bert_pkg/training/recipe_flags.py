"""The command-line flags every training recipe shares, and what they set up.

Every recipe (`pretrain`, `glue`, `squad`, `ner`, `swag`) spells the same thing the same
way:

| flag | meaning |
|---|---|
| `--init_checkpoint` | pretrained weights: a published name (`bert_base_uncased`) or a checkpoint of any format |
| `--architecture` | random weights of a named size instead (`bert_tiny` ... `bert_large`) |
| `--vocab`, `--cased` | the vocabulary (default: the checkpoint's own) and its casing |
| `--max_seq_length` | tokens per packed input |
| `--batch_size` | the global batch (all replicas); `--per_replica_batch_size` instead |
| `--learning_rate`, `--warmup_fraction`, `--weight_decay` | BERT's optimizer |
| `--epochs` (fine-tuning) / `--steps` (pre-training) | how long |
| `--max_train_examples` | train on the first N examples |
| `--output_dir`, `--export_dir`, `--export_name`, `--no_export` | where results go |
| `--checkpoint_dir` | epoch checkpoints of a fine-tuning run (default `<output_dir>/checkpoints`): the same command started again after a kill resumes there |
| `--precision` | `float32`, `mixed` (the device's), `mixed_bfloat16`, `mixed_float16` |
| `--strategy`, `--tpu`, `--devices` | `tf.distribute` (`distribute.strategies`) |
| `--seed` | weights of new layers, dropout, data order |
| `--search`, `--search_learning_rates`, `--search_batch_sizes`, `--search_epochs`, `--search_seeds`, `--search_budget` | fine-tuning: the paper's dev-set selection over a grid (`hyperparameter_search`), within a CPU-minute budget |

Fine-tuning flags left out (learning rate, batch size, epochs, warm-up, weight decay) take
the values that suit the model's size (`fine_tuning_defaults`).

A recipe adds them with `add_training_flags`, then calls `setup_from_flags` first in
`main` and builds its model from `backbone_source(args)` (or `backbone_and_tokenizer(args)`) inside `strategy.scope()`;
`run_with_flags(run, args)` does those steps (and sets the seed) around a recipe's `run`.

Example:
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_training_flags(parser, schedule="epochs", learning_rate=2e-5)
>>> args = parser.parse_args(["--init_checkpoint", checkpoint_dir, "--batch_size", "8"])
>>> strategy = setup_from_flags(args, log=None)
>>> backbone, tokenizer = backbone_and_tokenizer(args)
>>> args.learning_rate, tokenizer.vocabulary_size() == backbone.vocabulary_size
(2e-05, True)
"""

import argparse
import os
import shutil

import keras

from keras_bert_pkg import keras_workarounds
from keras_bert_pkg.checkpoints.presets import read_preset, tokenizer_config
from keras_bert_pkg.distribute.batch_sizes import batch_sizes
from keras_bert_pkg.distribute.strategies import STRATEGY_NAMES, get_strategy
from keras_bert_pkg.distribute.strategy_info import describe_strategy, is_chief, worker_output_dir
from keras_bert_pkg.models.bert_architectures import BACKBONE_ARCHITECTURES, architecture_config
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.training.hyperparameter_search import PAPER_GRID, search, trial_grid
from keras_bert_pkg.training.precision import PRECISIONS, set_precision
from keras_bert_pkg.training.run_artifacts import write_metrics


def add_training_flags(parser, schedule="epochs", require_model=False, **defaults):
    """Adds the shared flags (module table) to an `argparse` parser.

    Args:
        parser: the recipe's parser.
        schedule: `"epochs"` (`--epochs`, fine-tuning) or `"steps"` (`--steps`,
            pre-training).
        require_model: one of `--init_checkpoint` and `--architecture` must be given.
        **defaults: the recipe's defaults for any flag (e.g. `learning_rate=2e-5`).
    """
    if schedule not in ("epochs", "steps"):
        raise ValueError(f"schedule must be 'epochs' or 'steps', got {schedule!r}.")
    group = parser.add_argument_group("shared training flags")
    model = group.add_mutually_exclusive_group(required=require_model)
    model.add_argument("--init_checkpoint",
                       help="pretrained weights: a published name (e.g. bert_base_uncased) or a "
                            "checkpoint directory / file of any format (Hugging Face, Google TF1, "
                            "Model Garden, keras-hub, .keras)")
    model.add_argument("--architecture", choices=sorted(BACKBONE_ARCHITECTURES),
                       help="random weights of this size instead of --init_checkpoint")
    group.add_argument("--vocab", help="vocab.txt (default: the checkpoint's own)")
    group.add_argument("--cased", action="store_true",
                       help="do not lower-case (with --vocab; a checkpoint's casing is its own)")
    group.add_argument("--max_seq_length", type=int, help="tokens per packed input")
    group.add_argument("--batch_size", type=int, help="global batch size (all replicas)")
    group.add_argument("--learning_rate", type=float, help="peak learning rate")
    if schedule == "epochs":
        group.add_argument("--epochs", type=float, help="training epochs (may be fractional)")
    else:
        group.add_argument("--steps", type=int, help="training steps")
    fine_tuning = schedule == "epochs"  # fine-tuning: left-out settings suit the model's size
    group.add_argument("--warmup_fraction", type=float, default=None if fine_tuning else 0.1,
                       help="share of the steps with linear warm-up")
    group.add_argument("--weight_decay", type=float, default=None if fine_tuning else 0.01,
                       help="decoupled weight decay (not on LayerNorm and biases)")
    group.add_argument("--max_train_examples", type=int, help="train on the first N examples")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--precision", default="float32", choices=PRECISIONS,
                       help="mixed: float16 on GPU, bfloat16 on TPU and bfloat16 CPUs, else float32")
    group.add_argument("--output_dir", help="run folder: metrics.json, predictions, curves")
    group.add_argument("--export_dir", default="savedmodels",
                       help="TF Serving root: <export_dir>/<export_name>/<version>/")
    group.add_argument("--export_name", help="the exported model's name")
    group.add_argument("--no_export", action="store_true", help="write no SavedModel")
    group.add_argument("--checkpoint_dir",
                       help="resumable checkpoints (default <output_dir>/checkpoints; removed when the run ends)")
    if fine_tuning:
        _add_search_flags(parser)
    distribution = parser.add_argument_group("distribution (tf.distribute)")
    distribution.add_argument(
        "--strategy", default="auto", choices=STRATEGY_NAMES,
        help="auto: a TPU if found, else all local GPUs (mirrored), else one device; "
             "multi_worker: the cluster in TF_CONFIG; tpu: the TPU named by --tpu")
    distribution.add_argument("--tpu", help="TPU name or grpc://ip:8470 address; 'local' on a TPU VM")
    distribution.add_argument("--devices",
                              help="comma-separated devices for one_device / mirrored")
    distribution.add_argument("--per_replica_batch_size", type=int,
                              help="batch per replica; sets the global batch to this x replicas")
    parser.set_defaults(**defaults)


def _list_of(kind):
    def parse(text):
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}")
        return values
    return parse


def _add_search_flags(parser):
    group = parser.add_argument_group(
        "hyperparameter search (the paper's dev-set selection; any --search_* list turns it on)")
    grid = "; ".join(f"{k.replace('_', ' ')} {','.join(f'{v:g}' for v in vs)}" for k, vs in PAPER_GRID.items())
    group.add_argument("--search", action="store_true",
                       help=f"fine-tune over the paper's grid ({grid}) and keep the best dev run")
    group.add_argument("--search_learning_rates", type=_list_of(float), help="e.g. 5e-5,3e-5,2e-5")
    group.add_argument("--search_batch_sizes", type=_list_of(int), help="e.g. 16,32")
    group.add_argument("--search_epochs", type=_list_of(float), help="e.g. 2,3,4")
    group.add_argument("--search_seeds", type=_list_of(int),
                       help="random restarts, e.g. 0,1,2 (default: --seed)")
    group.add_argument("--search_budget", type=float,
                       help="CPU-minutes: no trial starts once they are spent (or would be)")


def search_trials(args):
    """The search's `Trial`s from the flags: each `--search_*` list as given; a grid
    dimension not given is the paper's with `--search`, else the single flag's value
    (`--learning_rate`, ...), so no search flag at all gives one trial."""
    seeds = args.search_seeds or [args.seed]
    grid = {}
    for dimension, single in (("learning_rates", "learning_rate"), ("batch_sizes", "batch_size"),
                              ("epochs", "epochs")):
        given = getattr(args, f"search_{dimension}")
        grid[dimension] = given or (PAPER_GRID[dimension] if args.search else [getattr(args, single)])
    return trial_grid(seeds=seeds, **grid)


def run_search(args, fine_tune, build_model=None):
    """Fine-tunes the flags' trials (`search_trials`) and keeps the best on dev
    (`hyperparameter_search.search`), resumable in `checkpoint_folder(args)`.

    Args:
        args: the parsed flags.
        fine_tune: `(trial, checkpoint_dir, run_key) -> (record, model, evaluation)`: one
            fine-tuning run (`fine_tune_resumably` with that folder and key).
        build_model: `() -> model`, to restore the best weights of a search that finished
            before a kill.

    Returns: the `SearchOutcome`.
    """
    trials = search_trials(args)
    folder = checkpoint_folder(args)
    fixed = {"learning_rate": None, "batch_size": None, "epochs": None, "seed": None}

    def one(trial):
        # one trial checkpoints where a plain run does; a search gives each its own folder
        trial_folder = folder and (folder if len(trials) == 1 else os.path.join(folder, trial.name))
        return fine_tune(trial, trial_folder, run_key(args, **trial.as_dict()))

    budget = None if args.search_budget is None else 60.0 * args.search_budget
    return search(one, trials, folder=folder, key=run_key(args, **fixed), budget_cpu_seconds=budget,
                  build_model=build_model)


def search_record(outcome):
    """The search's part of `metrics.json`: every trial's record, the best one, and
    the trials the budget left out."""
    return {"best_trial": outcome.best["trial_name"], "trials": outcome.runs,
            "not_run": outcome.not_run, "cpu_seconds": outcome.cpu_seconds}


def setup_from_flags(args, private_dirs=("output_dir", "export_dir"), log=print):
    """Sets a run up from the shared flags; call it first in `main`.

    Installs the Keras workarounds for several replicas (`keras_workarounds.install`),
    builds the strategy, sets `args.batch_size` (global) and `args.per_replica_batch_size`,
    sets the dtype policy of `args.precision` on the strategy's device (and stores the
    policy name back), points a non-chief worker's `private_dirs` at its own folder, and
    logs one line saying all that.

    Returns: the `tf.distribute.Strategy` (build models inside its `scope()`).
    """
    keras_workarounds.install()
    strategy = get_strategy(args.strategy, devices=args.devices, tpu=args.tpu)
    info = describe_strategy(strategy)
    line = (f"strategy {info['strategy']} ({info['class']}): {info['num_replicas']} replica(s) "
            f"on {info['num_workers']} worker(s), {info['device_type']}, task {info['task']}")
    if args.batch_size is not None or args.per_replica_batch_size is not None:
        global_size = None if args.per_replica_batch_size is not None else args.batch_size
        args.batch_size, args.per_replica_batch_size = batch_sizes(
            strategy, global_size, args.per_replica_batch_size)
        line += (f"; global batch {args.batch_size} = {args.per_replica_batch_size} per replica "
                 f"x {info['num_replicas']}")
    args.precision = set_precision(args.precision, strategy)
    line += f"; precision {args.precision}"
    for attribute in private_dirs or ():
        if getattr(args, attribute, None) and not is_chief(strategy):
            setattr(args, attribute, worker_output_dir(getattr(args, attribute), strategy))
    if log is not None:
        log(line)
    return strategy


def backbone_source(args, **backbone_overrides):
    """What the shared flags ask for, read once: `(config, tokenizer, build_backbone)`.

    `--init_checkpoint`: its configuration and weights, and its own vocabulary and casing
    (unless `--vocab`). `--architecture`: random weights of that size over `--vocab`'s
    vocabulary. `config` holds the backbone's constructor arguments (its `hidden_dim`
    picks the fine-tuning defaults); `build_backbone()` builds the backbone afresh on every
    call, from the weights read here or as a new random draw, so each search trial starts
    from the checkpoint and nothing but the checkpoint's tensors is held between trials.

    Raises:
        argparse.ArgumentTypeError: for missing or inconsistent flags, naming them.
    """
    if args.init_checkpoint:
        contents = read_preset(args.init_checkpoint)
        config = {**contents.config, **backbone_overrides}
        tokenizer = (BertTokenizer(args.vocab, lowercase=not args.cased) if args.vocab
                     else BertTokenizer(**tokenizer_config(contents)))

        def build_backbone():
            return BertBackbone.from_contents(contents, **backbone_overrides)
    elif args.architecture:
        if not args.vocab:
            raise argparse.ArgumentTypeError("--architecture needs --vocab (the vocab.txt).")
        tokenizer = BertTokenizer(args.vocab, lowercase=not args.cased)
        config = architecture_config(
            args.architecture, **{"vocabulary_size": tokenizer.vocabulary_size(), **backbone_overrides})

        def build_backbone():
            return BertBackbone(**config)
    else:
        raise argparse.ArgumentTypeError("give --init_checkpoint (pretrained) or --architecture "
                                         "(random weights).")
    if tokenizer.vocabulary_size() != config["vocabulary_size"]:
        raise argparse.ArgumentTypeError(
            f"the vocabulary has {tokenizer.vocabulary_size()} tokens but the model's embedding "
            f"has {config['vocabulary_size']} (--vocab {args.vocab!r}).")
    if args.max_seq_length and args.max_seq_length > config["max_sequence_length"]:
        raise argparse.ArgumentTypeError(
            f"--max_seq_length {args.max_seq_length} exceeds the model's "
            f"{config['max_sequence_length']} positions.")
    return config, tokenizer, build_backbone


def backbone_and_tokenizer(args, **backbone_overrides):
    """The backbone and tokenizer the shared flags ask for (`backbone_source`, built once)."""
    _, tokenizer, build_backbone = backbone_source(args, **backbone_overrides)
    return build_backbone(), tokenizer


# Flags that change where results go, not what is trained: a run resumes across them.
_NOT_IN_RUN_KEY = ("output_dir", "export_dir", "export_name", "no_export", "checkpoint_dir", "command_line",
                   "devices", "tpu", "strategy", "search_budget")


def run_key(args, **more):
    """A string of the settings that decide a run's training (every flag but where its
    results go), for `fine_tune_resumably`: a checkpoint resumes only the same run."""
    settings = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_IN_RUN_KEY}
    settings.update(more)
    return " ".join(f"{k}={v!r}" for k, v in sorted(settings.items()))


def checkpoint_folder(args, name="checkpoints"):
    """`--checkpoint_dir`, default `<output_dir>/<name>` (None without an output folder)."""
    if args.checkpoint_dir:
        return args.checkpoint_dir
    return os.path.join(args.output_dir, name) if args.output_dir else None


def finish_run(args, metrics):
    """Writes `metrics.json` into `--output_dir`, then removes the run's epoch checkpoints
    (`checkpoint_folder(args)`): the run is complete, and the same command starts a new one.

    Returns: the path of `metrics.json`.
    """
    path = write_metrics(args.output_dir, metrics)
    checkpoints = checkpoint_folder(args)
    if checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return path


def run_with_flags(run, args):
    """`setup_from_flags(args)`, the seed `args.seed`, then `run(args)` inside the strategy's
    scope: the `main` of a fine-tuning recipe.

    Returns: what `run` returns.
    """
    strategy = setup_from_flags(args)
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        return run(args)

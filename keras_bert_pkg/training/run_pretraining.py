"""`run_pretraining`: a whole BERT pre-training run, as `recipes/pretrain.py` drives it.

Text or TFRecords in; a `BertPretrainer` trained for a fixed number of steps with BERT's
optimiser, resumable after a kill; TensorBoard logs; before/after evaluation on a
held-out set with the most-frequent-token baseline; `metrics.json`, a PNG of loss / MLM
accuracy / NSP accuracy against the step, and the trained `pretrainer.keras` and
`backbone.keras` out.

The paper's two-phase schedule (appendix A.2) is two calls: phase 1 at `seq_length=128`
(`max_predictions_per_seq=20`) for 90% of the steps, then phase 2 at `seq_length=512`
(`max_predictions_per_seq=80`) for the last 10%, started from phase 1's weights with
`init_weights=<phase 1>/pretrainer.keras` and a fresh optimiser and warm-up. Position
embeddings are 512 long from the start (the presets' `max_sequence_length`), so
phase 2 trains the positions beyond 128 that phase 1 never saw.
"""

import json
import os
import time

import keras

from keras_bert_pkg.data.masked_lm_baseline import most_frequent_token_baseline
from keras_bert_pkg.data.pretraining_documents import parse_document_range, read_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary, create_training_instances
from keras_bert_pkg.data.pretraining_records import (expand_file_patterns, instances_dataset,
                                                     pretraining_record_dataset)
from keras_bert_pkg.data.pretraining_stream import pretraining_stream_dataset
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_presets import preset_config
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.training.mixed_precision import set_precision
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint
from keras_bert_pkg.training.resumable_fit import resumable_fit
from keras_bert_pkg.training.run_artifacts import write_metrics
from keras_bert_pkg.training.strategies import (describe_strategy, distribute_file_dataset, get_strategy,
                                                is_chief, per_replica_batch_size, resolve_precision,
                                                shard_dataset, worker_output_dir)

# Google's bert_config.json keys → BertBackbone arguments. Google's "gelu" is the tanh
# approximation.
_GOOGLE_CONFIG_KEYS = {
    "vocab_size": "vocabulary_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "hidden_size": "hidden_dim",
    "intermediate_size": "intermediate_dim",
    "hidden_dropout_prob": "dropout",
    "max_position_embeddings": "max_sequence_length",
    "type_vocab_size": "num_segments",
    "initializer_range": "initializer_range",
    "hidden_act": "hidden_activation",
}


def backbone_config_from_json(path):
    """`BertBackbone` arguments from a JSON file: either our own argument names or a
    Google `bert_config.json` (`hidden_size`, `num_hidden_layers`, ...).

    Raises:
        ValueError: naming the file and the keys that are neither.
    """
    with open(path) as f:
        raw = json.load(f)
    if "hidden_size" in raw:
        config, unknown = {}, []
        for key, value in raw.items():
            if key in _GOOGLE_CONFIG_KEYS:
                config[_GOOGLE_CONFIG_KEYS[key]] = value
            elif key not in ("attention_probs_dropout_prob", "directionality", "pooler_fc_size",
                             "pooler_num_attention_heads", "pooler_num_fc_layers",
                             "pooler_size_per_head", "pooler_type", "model_type", "layer_norm_eps"):
                unknown.append(key)
        if config.get("hidden_activation") == "gelu":
            config["hidden_activation"] = "gelu_approximate"
        if "layer_norm_eps" in raw:
            config["layer_norm_epsilon"] = raw["layer_norm_eps"]
    else:
        config = dict(raw)
        allowed = set(preset_config("bert_tiny")) | {"return_all_layers", "causal", "name"}
        unknown = sorted(set(config) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown backbone config key(s) {sorted(unknown)}.")
    return config


def plot_pretraining_history(history, path, title=None):
    """Plots loss, MLM accuracy and NSP accuracy (train and, when present, held-out)
    against the global step. `history` is the list of per-log dicts with `step`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", ["loss", "mlm_loss", "nsp_loss"]), ("MLM accuracy", ["mlm_accuracy"]),
              ("NSP accuracy", ["nsp_accuracy"])]
    panels = [(t, names) for t, names in panels if any(n in h for h in history for n in names)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for ax, (panel_title, names) in zip(axes[0], panels):
        for name in names:
            for key, style in ((name, "-"), ("val_" + name, "--")):
                points = [(h["step"], h[key]) for h in history if key in h]
                if points:
                    ax.plot(*zip(*points), style, marker=".", label=key)
        ax.set_title(panel_title)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]


def run_pretraining(output_dir, vocab, input_files=None, text=None, text_format="auto",
                    text_document_range=None, eval_input_files=None, eval_text=None,
                    eval_document_range=None, preset="bert_base", config=None, next_sentence=True,
                    left_to_right=False, seq_length=None, max_predictions_per_seq=None,
                    batch_size=32, steps=1000, learning_rate=1e-4, warmup_steps=None,
                    optimizer="adamw", weight_decay=0.01, gradient_accumulation_steps=None,
                    strategy="default", precision="float32", xla=False, checkpoint_every=1000,
                    log_every=100, eval_every=None, eval_steps=None, masked_lm_prob=0.15,
                    short_seq_prob=0.1, whole_word_masking=False, shuffle_buffer=10000, seed=0,
                    lowercase=True, dropout=None, init_weights=None, baseline_batches=100,
                    verbose="auto"):
    """Pre-trains a `BertPretrainer`; resumes from `output_dir/checkpoints` if present.

    Args:
        output_dir: run folder: `checkpoints/`, `tensorboard/`, `metrics.json`,
            `pretraining_curves.png`, `pretrainer.keras`, `backbone.keras`, `vocab.txt`.
        vocab: the `vocab.txt` (its size sets the model's vocabulary).
        input_files: TFRecords from the data tool (glob, comma list or list), or
        text: raw text files for the dynamic-masking stream (glob/comma list/list).
        text_format: the text's format (`pretraining_documents`).
        text_document_range, eval_document_range: `"START:END"` slices of the text's
            documents (to hold some out).
        eval_input_files / eval_text: a held-out set (records, or text made into
            fixed masked pairs with `seed`), evaluated before and after training.
        preset / config: the backbone: a preset name, or a JSON file (ours or a Google
            `bert_config.json`); `dropout` overrides its dropout.
        next_sentence: False for the "No NSP" ablation.
        left_to_right: the "LTR & No NSP" ablation (causal backbone, next-token
            targets; needs `next_sentence=False`).
        seq_length, max_predictions_per_seq: for text (default 128 and 20); read from
            and checked against records.
        batch_size: global batch size (split over replicas).
        steps: training steps (batches); with gradient accumulation every
            `gradient_accumulation_steps` batches make one update.
        learning_rate, warmup_steps, optimizer, weight_decay: `create_optimizer`.
        strategy: a `get_strategy` name or a `tf.distribute.Strategy`; precision: a
            `set_precision` name (`"mixed"` follows the strategy's device); xla:
            compile the step with XLA. Under `multi_worker` every worker runs this
            function; the chief writes `output_dir`, the others
            `output_dir/workers/worker_<i>/` (checkpoints: the chief only).
        checkpoint_every, log_every: see `resumable_fit`; eval_every: evaluate the
            held-out set every this many steps during training (a multiple of
            `log_every`; None: only before and after).
        eval_steps: evaluation batches (None: the whole held-out set).
        masked_lm_prob, short_seq_prob, whole_word_masking, shuffle_buffer: data.
        seed: seed of weights, dropout and data order.
        lowercase: tokenizer casing.
        init_weights: start from these weights (`.keras` or `.weights.h5` of a
            `BertPretrainer`; phase 2 of the two-phase schedule).
        baseline_batches: training batches counted for the most-frequent-token baseline.
        verbose: Keras verbosity.

    Returns: the metrics dict written to `metrics.json`.
    """
    if (input_files is None) == (text is None):
        raise ValueError("Give exactly one of input_files (TFRecords) and text (raw text).")
    if left_to_right and next_sentence:
        raise ValueError("left_to_right needs next_sentence=False (the paper's 'LTR & No NSP').")
    os.makedirs(output_dir, exist_ok=True)
    started = time.time()
    dist = get_strategy(strategy)  # first: multi_worker / tpu set up the runtime
    keras.utils.set_random_seed(seed)
    policy = set_precision(resolve_precision(precision, dist))
    per_replica_batch = per_replica_batch_size(batch_size, dist)
    artifacts_dir = worker_output_dir(output_dir, dist)
    tokenizer = BertTokenizer(vocab, lowercase=lowercase)
    vocabulary_size = tokenizer.vocabulary_size()

    # --- data -----------------------------------------------------------------------
    if input_files is not None:
        def make_records(files, batch, skip):
            return pretraining_record_dataset(
                files, batch, seq_length=seq_length,
                max_predictions_per_seq=max_predictions_per_seq, shuffle=True,
                shuffle_buffer=shuffle_buffer, seed=seed, skip_batches=skip,
                left_to_right=left_to_right)

        def make_train(start_step):
            return make_records(input_files, batch_size, start_step)

        def make_train_input(start_step):  # sharded by FILE between workers
            return distribute_file_dataset(dist, expand_file_patterns(input_files), make_records,
                                           batch_size, start_step)
        train_source = {"input_files": _as_list(input_files)}
    else:
        seq_length = seq_length or 128
        max_predictions_per_seq = max_predictions_per_seq or 20
        documents = read_documents(_expand_text(text), tokenizer, text_format,
                                   parse_document_range(text_document_range))
        masking_vocab = MaskingVocabulary.from_tokenizer(tokenizer)

        def make_train(start_step):
            return pretraining_stream_dataset(
                documents, masking_vocab, batch_size, seq_length=seq_length,
                max_predictions_per_seq=max_predictions_per_seq, seed=seed,
                short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob,
                whole_word_masking=whole_word_masking, shuffle_buffer=min(shuffle_buffer, 1000),
                skip_batches=start_step, left_to_right=left_to_right)

        def make_train_input(start_step):  # generated: sharded by DATA between workers
            return shard_dataset(make_train(start_step), "data")
        train_source = {"text": _as_list(text), "documents": len(documents)}

    eval_ds = None
    if eval_input_files is not None:
        eval_ds = pretraining_record_dataset(eval_input_files, batch_size, shuffle=False, repeat=False,
                                             drop_remainder=False, left_to_right=left_to_right)
    elif eval_text is not None:
        eval_docs = read_documents(_expand_text(eval_text), tokenizer, text_format,
                                   parse_document_range(eval_document_range))
        n = seq_length or 128
        p = max_predictions_per_seq or 20
        eval_instances = create_training_instances(
            eval_docs, MaskingVocabulary.from_tokenizer(tokenizer), max_seq_length=n, dupe_factor=1,
            short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob, max_predictions_per_seq=p,
            seed=seed + 1, whole_word_masking=whole_word_masking)
        eval_ds = instances_dataset(eval_instances, batch_size, n, p, left_to_right=left_to_right)
    if eval_ds is not None:  # held-out sets are small (often one file): sharded by DATA
        eval_ds = shard_dataset(eval_ds, "data")

    # --- model ----------------------------------------------------------------------
    with dist.scope():
        if config:
            backbone_args = backbone_config_from_json(config)
        else:
            backbone_args = preset_config(preset)
        backbone_args.update(vocabulary_size=vocabulary_size, causal=bool(left_to_right))
        if dropout is not None:
            backbone_args["dropout"] = float(dropout)
        backbone = BertBackbone(**backbone_args)
        model = BertPretrainer(backbone, next_sentence=next_sentence)
        if init_weights:
            _load_weights(model, init_weights)
        model.compile(
            optimizer=create_optimizer(learning_rate, total_steps=steps, warmup_steps=warmup_steps,
                                       optimizer=optimizer, weight_decay=weight_decay,
                                       gradient_accumulation_steps=gradient_accumulation_steps),
            jit_compile=bool(xla),
        )

    checkpoint_dir = os.path.join(output_dir, "checkpoints")
    initial_path = os.path.join(output_dir, "initial_eval.json")
    fresh = ResumableCheckpoint(checkpoint_dir, model).latest_step() is None
    initial_eval = None
    if eval_ds is not None:
        if fresh or not os.path.exists(initial_path):
            initial_eval = model.evaluate(eval_ds, steps=eval_steps, return_dict=True, verbose=0)
            if is_chief(dist):
                with open(initial_path, "w") as f:
                    json.dump(initial_eval, f, default=float)
        else:
            with open(initial_path) as f:
                initial_eval = json.load(f)

    fit_started = time.time()
    validate = eval_ds is not None and eval_every
    history, start_step = resumable_fit(
        model, make_train_input, steps, checkpoint_dir, checkpoint_every=checkpoint_every,
        log_every=log_every, tensorboard_dir=os.path.join(artifacts_dir, "tensorboard"),
        validation_data=eval_ds if validate else None, validation_steps=eval_steps,
        validation_every=max(1, int(eval_every) // max(1, min(log_every, steps))) if validate else 1,
        verbose=verbose)
    fit_seconds = time.time() - fit_started

    metrics = {
        "steps": steps,
        "resumed_from_step": start_step,
        "batch_size": batch_size,
        "per_replica_batch_size": per_replica_batch,
        "train_seconds_this_invocation": fit_seconds,
        "steps_per_second_this_invocation": (steps - start_step) / fit_seconds if fit_seconds else None,
        "precision": policy,
        "strategy": describe_strategy(dist)["strategy"],
        "num_replicas": dist.num_replicas_in_sync,
        "distribution": describe_strategy(dist),
        "vocabulary_size": vocabulary_size,
        "backbone": backbone_args,
        "next_sentence": bool(next_sentence),
        "left_to_right": bool(left_to_right),
        "train_data": train_source,
        "history": history,
        "final_train": history[-1] if history else None,
    }
    if eval_ds is not None:
        metrics["initial_eval"] = initial_eval
        metrics["final_eval"] = model.evaluate(eval_ds, steps=eval_steps, return_dict=True, verbose=0)
        metrics["most_frequent_token_baseline"] = most_frequent_token_baseline(
            make_train(0), eval_ds, vocabulary_size, max_train_batches=baseline_batches,
            max_eval_batches=eval_steps)
        token = metrics["most_frequent_token_baseline"]["token_id"]
        metrics["most_frequent_token_baseline"]["token"] = tokenizer.id_to_token(token)
    metrics["total_seconds_this_invocation"] = time.time() - started
    write_metrics(artifacts_dir, metrics)
    plot_pretraining_history(history, os.path.join(artifacts_dir, "pretraining_curves.png"),
                             title=f"BERT pre-training ({preset if not config else os.path.basename(config)})")
    model.save(os.path.join(artifacts_dir, "pretrainer.keras"))
    backbone.save(os.path.join(artifacts_dir, "backbone.keras"))
    with open(os.path.join(artifacts_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in tokenizer.get_vocabulary()))
    return metrics


def _expand_text(text):
    import tensorflow as tf

    files = []
    for pattern in _as_list(text):
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise FileNotFoundError(f"No text file matches {pattern!r}.")
        files.extend(matched)
    return files


def _load_weights(model, path):
    """Loads a previous `BertPretrainer`'s weights (`.keras` or `.weights.h5`)."""
    path = str(path)
    if path.endswith(".weights.h5"):
        model.load_weights(path)
    elif path.endswith(".keras"):
        previous = keras.models.load_model(path)
        model.set_weights(previous.get_weights())
    else:
        raise ValueError(f"init_weights must be a .keras or .weights.h5 file, got {path!r}.")


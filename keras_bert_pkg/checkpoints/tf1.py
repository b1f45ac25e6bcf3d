"""Google's original TF1 BERT checkpoints: `bert_config.json` + `bert_model.ckpt.*`.

This is the format of every checkpoint published with the paper. Tensor names are the
canonical ones (`bert/embeddings/word_embeddings`, `bert/encoder/layer_N/attention/self/
query/kernel` [H, H], `bert/pooler/dense/*`, `cls/predictions/*`,
`cls/seq_relationship/output_weights` [2, H]), so reading is a name-for-name copy;
optimizer slots (`adam_m`, `adam_v`) and `global_step` of training checkpoints are
skipped and reported as ignored.

In `bert_config.json`, `"hidden_act": "gelu"` means the tanh approximation (the original
`modeling.gelu`), our `"gelu_approximate"`. The original has no name for the exact erf
form; a model using it is written with `"hidden_act": "gelu_exact"` (read back by this
module; the original code would refuse it instead of running the wrong function), with a
warning. `layer_norm_eps` is written only when it is not BERT's 1e-12.

Writing uses TensorFlow's `SaveV2` op — the op `tf.compat.v1.train.Saver` runs — so the
files are a name-based V2 checkpoint like Google's, readable by
`tf.train.load_checkpoint` and by tf-models-official's TF1 converter.

Example:
>>> from keras_bert_pkg.checkpoints.tf1 import config_from_bert_config
>>> config_from_bert_config({"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
...     "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu"})["hidden_activation"]
'gelu_approximate'
"""

import glob
import json
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from keras_bert_pkg.broken_files import read_json, read_tf_checkpoint, read_tf_tensor
from keras_bert_pkg.checkpoints.contents import CheckpointContents
from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary
from keras_bert_pkg.checkpoints.load_report import LazyTensors, caller_stacklevel
from keras_bert_pkg.checkpoints.weight_map import model_weight_map

CONFIG_FILE = "bert_config.json"
CHECKPOINT_NAME = "bert_model.ckpt"
VOCAB_FILE = "vocab.txt"

# `hidden_act` in bert_config.json → our `hidden_activation`.
TF1_ACTIVATIONS = {"gelu": "gelu_approximate", "relu": "relu", "gelu_exact": "gelu"}
OUR_ACTIVATIONS = {"gelu_approximate": "gelu", "gelu_new": "gelu", "gelu_tanh": "gelu",
                   "relu": "relu", "gelu": "gelu_exact", "gelu_exact": "gelu_exact"}

_IGNORED_PATTERNS = (
    (re.compile(r"(^|/)(adam_[mv]|Adam(_\d+)?|LAMB(_\d+)?|Momentum)$"), "optimizer slot"),
    (re.compile(r"^(global_step|beta[12]_power|good_steps|loss_scale|current_loss_scale)$"), "training counter"),
)


def config_from_bert_config(bert_config, source=CONFIG_FILE):
    """`BertBackbone` arguments from a Google `bert_config.json` dict (original semantics)."""
    act = bert_config.get("hidden_act", "gelu")
    if act not in TF1_ACTIVATIONS:
        raise ValueError(
            f"{source}: hidden_act {act!r} is not supported; expected one of {sorted(TF1_ACTIVATIONS)} "
            "('gelu' is the original code's tanh approximation)."
        )
    if "embedding_size" in bert_config and bert_config["embedding_size"] not in (None, bert_config.get("hidden_size")):
        raise ValueError(f"{source}: embedding_size != hidden_size (a factorized embedding) is not BERT.")
    try:
        return dict(
            vocabulary_size=int(bert_config["vocab_size"]),
            num_layers=int(bert_config["num_hidden_layers"]),
            num_heads=int(bert_config["num_attention_heads"]),
            hidden_dim=int(bert_config["hidden_size"]),
            intermediate_dim=int(bert_config["intermediate_size"]),
            dropout=float(bert_config.get("hidden_dropout_prob", 0.1)),
            max_sequence_length=int(bert_config.get("max_position_embeddings", 512)),
            num_segments=int(bert_config.get("type_vocab_size", 16)),
            hidden_activation=TF1_ACTIVATIONS[act],
            layer_norm_epsilon=float(bert_config.get("layer_norm_eps", 1e-12)),
            initializer_range=float(bert_config.get("initializer_range", 0.02)),
        )
    except KeyError as e:
        raise ValueError(f"{source}: required key {e.args[0]!r} is missing.") from None


def config_to_bert_config(backbone):
    """A Google `bert_config.json` dict for a `BertBackbone`."""
    act = OUR_ACTIVATIONS[backbone.hidden_activation]
    config = {
        "attention_probs_dropout_prob": backbone.dropout,
        "hidden_act": act,
        "hidden_dropout_prob": backbone.dropout,
        "hidden_size": backbone.hidden_dim,
        "initializer_range": backbone.initializer_range,
        "intermediate_size": backbone.intermediate_dim,
        "max_position_embeddings": backbone.max_sequence_length,
        "num_attention_heads": backbone.num_heads,
        "num_hidden_layers": backbone.num_layers,
        "type_vocab_size": backbone.num_segments,
        "vocab_size": backbone.vocabulary_size,
    }
    if backbone.layer_norm_epsilon != 1e-12:
        config["layer_norm_eps"] = backbone.layer_norm_epsilon
    return config


def _ignored_reason(name):
    for pattern, reason in _IGNORED_PATTERNS:
        if pattern.search(name):
            return reason
    return None


def find_tf_checkpoint(directory):
    """The checkpoint prefix inside a directory (via its `checkpoint` file or `*.index`),
    or None."""
    latest = tf.train.latest_checkpoint(directory)
    if latest:
        return latest
    indexes = sorted(glob.glob(os.path.join(directory, "*.index")))
    if not indexes:
        return None
    preferred = [p for p in indexes if os.path.basename(p) == f"{CHECKPOINT_NAME}.index"]
    if preferred:
        return preferred[0][: -len(".index")]
    if len(indexes) > 1:
        raise ValueError(
            f"{directory}: several checkpoints ({[os.path.basename(p) for p in indexes]}) and no "
            "'checkpoint' file saying which is current; pass the prefix of one of them.")
    return indexes[0][: -len(".index")]


def tf_checkpoint_kind(prefix):
    """`"tf1"` for name-based (Google) checkpoints, `"model_garden"` for object-based ones."""
    names = list(read_tf_checkpoint(prefix).get_variable_to_shape_map())
    if any(name.startswith(("bert/", "cls/")) for name in names):
        return "tf1"
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in names:
        return "model_garden"
    raise ValueError(
        f"{prefix}: a TensorFlow checkpoint, but neither Google BERT names (bert/...) nor a "
        "TF2 object graph were found in it.")


def resolve_prefix(path):
    """The checkpoint prefix for a directory, a prefix, or a `*.index`/`*.data-*` file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        prefix = find_tf_checkpoint(path)
        if prefix is None:
            raise FileNotFoundError(
                f"{path}: expected {CONFIG_FILE} and {CHECKPOINT_NAME}.index / {CHECKPOINT_NAME}.data-* in it."
            )
        return prefix
    if path.endswith(".index"):
        return path[: -len(".index")]
    match = re.match(r"(.*)\.data-\d+-of-\d+$", path)
    return match.group(1) if match else path


def read_tf1(path):
    """Reads a Google TF1 BERT checkpoint into `CheckpointContents`.

    Args:
        path: the directory, or the checkpoint prefix (e.g. `.../bert_model.ckpt`).
            `bert_config.json` must be in the checkpoint's directory.
    """
    prefix = resolve_prefix(path)
    directory = os.path.dirname(prefix)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"{directory}: expected {CONFIG_FILE} beside {os.path.basename(prefix)} (the number of "
            "attention heads and the activation are not stored in the checkpoint)."
        )
    config = config_from_bert_config(read_json(config_path), source=config_path)
    reader = read_tf_checkpoint(prefix)
    getters, shapes, ignored = {}, {}, {}
    for name, shape in reader.get_variable_to_shape_map().items():
        reason = _ignored_reason(name)
        if reason:
            ignored[name] = reason
            continue
        getters[name] = lambda name=name: read_tf_tensor(reader, prefix, name)
        shapes[name] = tuple(shape)
    vocab = os.path.join(directory, VOCAB_FILE)
    return CheckpointContents(
        source=prefix, format="tf1", config=config, tensors=LazyTensors(getters, shapes),
        ignored=ignored, vocabulary=vocab if os.path.isfile(vocab) else None,
    )


def save_tf1(model, directory, vocabulary=None, checkpoint_name=CHECKPOINT_NAME):
    """Writes a backbone or pretrainer in Google's TF1 layout.

    Files: `bert_config.json`, `bert_model.ckpt.index`, `bert_model.ckpt.data-00000-of-00001`,
    a `checkpoint` state file, and `vocab.txt` when `vocabulary` is given (a path or a token
    list). A pretrainer also writes `cls/predictions/*` and `cls/seq_relationship/*`.

    Returns:
        The checkpoint prefix (`directory/bert_model.ckpt`).
    """
    backbone = model.backbone if hasattr(model, "backbone") else model
    os.makedirs(directory, exist_ok=True)
    config = config_to_bert_config(backbone)
    if config["hidden_act"] == "gelu_exact":
        warnings.warn(
            f"{directory}/{CONFIG_FILE}: this model uses the exact (erf) GELU, which the original "
            "BERT code has no name for; it is written as hidden_act 'gelu_exact' (keras_bert_pkg "
            "reads it back; other readers must be given the exact GELU explicitly, since their "
            "'gelu' is the tanh approximation).",
            stacklevel=caller_stacklevel(),
        )
    entries = model_weight_map(model)
    prefix = os.path.join(directory, checkpoint_name)
    names = [entry.name for entry in entries]
    tensors = [tf.constant(np.asarray(entry.get(), np.float32)) for entry in entries]
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors
    )
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{checkpoint_name}"\nall_model_checkpoint_paths: "{checkpoint_name}"\n')
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    if vocabulary is not None:
        write_vocabulary(vocabulary, os.path.join(directory, VOCAB_FILE))
    return prefix

"""keras-hub preset directories: `config.json` + `model.weights.h5` (from `save_to_preset`).

keras-hub's `BertBackbone` has the same sublayers as ours, so weights map one to one.
Its activation and epsilon are fixed, though: every block uses the tanh GELU and
LayerNorm epsilon 1e-12. Reading therefore gives `hidden_activation="gelu_approximate"`;
writing a model that uses anything else would make keras-hub compute different numbers
(on the real all-MiniLM-L6-v2 weights, which use the exact GELU, `sequence_output` moves
by up to 6e-3 on the test's 12 real inputs), so `save_keras_hub` refuses such a model unless
`allow_activation_change=True`, and then warns.

When a keras-hub `BertMaskedLM` task was saved too (`task.json` + `task.weights.h5`), its
masked-LM head is read as well (keras-hub's BERT has no next-sentence head).

Example:
>>> from keras_bert_pkg.checkpoints.keras_hub import is_keras_hub_preset
>>> is_keras_hub_preset("/nonexistent")
False
"""

import os
import warnings

import keras_hub

from keras_bert_pkg.broken_files import read_json
from keras_bert_pkg.checkpoints.contents import CheckpointContents
from keras_bert_pkg.checkpoints.load_report import LazyTensors, caller_stacklevel
from keras_bert_pkg.checkpoints.weight_map import (backbone_weight_map, keras_hub_backbone_weight_map,
                                                   masked_lm_head_weight_map)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TASK_FILE = "task.json"
TASK_WEIGHTS_FILE = "task.weights.h5"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_ASSET = os.path.join("assets", "tokenizer", "vocabulary.txt")


def is_keras_hub_preset(path):
    """True when `path` is a directory with a keras-hub `config.json` and `model.weights.h5`."""
    config = os.path.join(path, CONFIG_FILE)
    if not (os.path.isfile(config) and os.path.isfile(os.path.join(path, WEIGHTS_FILE))):
        return False
    try:
        data = read_json(config)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "keras_hub" in f"{data.get('module', '')} {data.get('registered_name', '')}"


def config_from_keras_hub(config, source=CONFIG_FILE):
    """`BertBackbone` arguments from a keras-hub `BertBackbone` config dict."""
    try:
        return dict(
            vocabulary_size=int(config["vocabulary_size"]),
            num_layers=int(config["num_layers"]),
            num_heads=int(config["num_heads"]),
            hidden_dim=int(config["hidden_dim"]),
            intermediate_dim=int(config["intermediate_dim"]),
            dropout=float(config.get("dropout", 0.1)),
            max_sequence_length=int(config.get("max_sequence_length", 512)),
            num_segments=int(config.get("num_segments", 2)),
            hidden_activation="gelu_approximate",  # fixed in keras-hub's BertBackbone
            layer_norm_epsilon=1e-12,
        )
    except KeyError as e:
        raise ValueError(f"{source}: required key {e.args[0]!r} is missing.") from None


def read_keras_hub(path):
    """Reads a keras-hub BERT preset directory into `CheckpointContents`.

    The weights are loaded by keras-hub itself (`BertBackbone.from_preset`, local files
    only), then taken over by variable path.
    """
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    data = read_json(os.path.join(directory, CONFIG_FILE))
    if data.get("class_name") != "BertBackbone":
        raise ValueError(
            f"{directory}/{CONFIG_FILE}: a keras-hub {data.get('class_name')!r} preset; only BertBackbone presets are BERT."
        )
    config = config_from_keras_hub(data.get("config", {}), source=os.path.join(directory, CONFIG_FILE))
    task_path = os.path.join(directory, TASK_FILE)
    head = None
    if os.path.isfile(task_path) and os.path.isfile(os.path.join(directory, TASK_WEIGHTS_FILE)):
        task_class = read_json(task_path).get("class_name")
        if task_class == "BertMaskedLM":
            task = keras_hub.models.BertMaskedLM.from_preset(directory, preprocessor=None)
            backbone, head = task.backbone, task.masked_lm_head
        else:
            warnings.warn(f"{task_path}: a {task_class} task; only its backbone is read.", stacklevel=caller_stacklevel())
            backbone = keras_hub.models.BertBackbone.from_preset(directory)
    else:
        backbone = keras_hub.models.BertBackbone.from_preset(directory)
    entries = keras_hub_backbone_weight_map(backbone)
    if head is not None:
        entries += masked_lm_head_weight_map(head)
    getters = {entry.name: entry.get for entry in entries}
    names = {entry.name: entry.path for entry in entries}
    vocab = os.path.join(directory, VOCABULARY_ASSET)
    return CheckpointContents(
        source=directory, format="keras_hub", config=config, tensors=LazyTensors(getters), names=names,
        vocabulary=vocab if os.path.isfile(vocab) else None, lowercase=_tokenizer_lowercase(directory),
    )


def _tokenizer_lowercase(directory):
    """The `lowercase` of the keras-hub `BertTokenizer` saved in a preset, or None."""
    path = os.path.join(directory, TOKENIZER_FILE)
    if not os.path.isfile(path):
        return None
    lowercase = read_json(path).get("config", {}).get("lowercase")
    return lowercase if isinstance(lowercase, bool) else None


def save_keras_hub(model, directory, vocabulary=None, lowercase=True, allow_activation_change=False):
    """Writes the backbone of `model` as a keras-hub `BertBackbone` preset.

    Args:
        model: a `BertBackbone` (or a model with `.backbone`; only the backbone is written).
        directory: output preset directory.
        vocabulary: optional `vocab.txt` path or token list; a keras-hub `BertTokenizer`
            preset (`tokenizer.json` + `assets/tokenizer/vocabulary.txt`) is written with it.
        lowercase: the tokenizer's lowercasing, with `vocabulary`.
        allow_activation_change: write a model whose activation is not the tanh GELU (or
            whose epsilon is not 1e-12) anyway; keras-hub will compute with its own.

    Returns:
        The keras-hub `BertBackbone` that was saved.

    Raises:
        ValueError: for a model keras-hub cannot represent exactly, unless allowed.
    """
    backbone = model.backbone if hasattr(model, "backbone") else model
    differences = []
    if backbone.hidden_activation not in ("gelu_approximate", "gelu_new", "gelu_tanh"):
        differences.append(f"hidden_activation {backbone.hidden_activation!r} (keras-hub always uses the tanh GELU)")
    if backbone.layer_norm_epsilon != 1e-12:
        differences.append(f"layer_norm_epsilon {backbone.layer_norm_epsilon} (keras-hub always uses 1e-12)")
    if backbone.causal:
        differences.append("causal=True (keras-hub's BertBackbone is bidirectional)")
    if differences:
        message = (
            f"{directory}: keras-hub's BertBackbone cannot represent this model exactly: "
            + "; ".join(differences) + ". Its outputs would differ from ours."
        )
        if not allow_activation_change:
            raise ValueError(message + " Pass allow_activation_change=True to write it anyway.")
        warnings.warn(message, stacklevel=caller_stacklevel())
    target = keras_hub.models.BertBackbone(
        vocabulary_size=backbone.vocabulary_size,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        intermediate_dim=backbone.intermediate_dim,
        dropout=backbone.dropout,
        max_sequence_length=backbone.max_sequence_length,
        num_segments=backbone.num_segments,
    )
    sources = {entry.name: entry for entry in backbone_weight_map(backbone)}
    for entry in keras_hub_backbone_weight_map(target):
        entry.variable.assign(entry.to_variable_layout(sources[entry.name].get()))
    target.save_to_preset(directory)
    if vocabulary is not None:
        if not isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = list(vocabulary)
        else:
            vocabulary = os.fspath(vocabulary)
        keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase).save_to_preset(directory)
    return target

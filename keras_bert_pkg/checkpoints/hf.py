"""Hugging Face BERT checkpoints: `config.json` + `model.safetensors` (or `pytorch_model.bin`).

Reads `BertModel`, `BertForPreTraining`, `BertForMaskedLM` (and any other `Bert*` whose
body is a `BertModel`) with or without the `bert.` prefix, single-file or sharded
safetensors. Writes safetensors + `config.json` (+ `vocab.txt`) that Hugging Face
transformers loads as `BertModel` (a backbone) or `BertForPreTraining` (a pretrainer).

Activation names keep Hugging Face's meaning: `"gelu"` is the exact erf form (our
`"gelu"`), `"gelu_new"` / `"gelu_pytorch_tanh"` / `"gelu_fast"` the tanh form (our
`"gelu_approximate"`).

A `pytorch_model.bin` is a pickle; it is read only with torch's `weights_only=True`
loader (no code from the file is run). torch is not a dependency: without it the reader
says how to convert the file to safetensors.

Example:
>>> from keras_bert_pkg.checkpoints.hf import hf_to_canonical_name
>>> hf_to_canonical_name("encoder.layer.0.attention.self.query.weight")
('bert/encoder/layer_0/attention/self/query/kernel', True)
"""

import json
import os
import re

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from keras_bert_pkg.broken_files import BrokenFileError, read_json, truncated_file_hint
from keras_bert_pkg.checkpoints.contents import CheckpointContents
from keras_bert_pkg.checkpoints.load_report import LazyTensors
from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary
from keras_bert_pkg.checkpoints.weight_map import model_weight_map

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
TOKENIZER_FILE = "tokenizer.json"

# Hugging Face `hidden_act` → our `hidden_activation`.
HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_fast": "gelu_approximate",
    "relu": "relu",
}
# Ours → the name written to config.json.
OUR_ACTIVATIONS = {"gelu": "gelu", "gelu_exact": "gelu", "gelu_approximate": "gelu_new",
                   "gelu_new": "gelu_new", "gelu_tanh": "gelu_new", "relu": "relu"}

_EMBEDDING_MODULES = ("word_embeddings", "position_embeddings", "token_type_embeddings")
_BUFFERS = ("embeddings.position_ids",)


def is_hf_directory(path):
    """True when `path` holds a Hugging Face BERT checkpoint (config + weights)."""
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and any(
        os.path.isfile(os.path.join(path, f)) for f in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, PYTORCH_FILE)
    )


# === Names ===

def hf_to_canonical_name(name):
    """Maps a Hugging Face tensor name (without prefix) to `(canonical name, transpose)`.

    Returns None for names that are not BERT weights (e.g. a classifier head).
    """
    if name == "cls.predictions.bias":
        return "cls/predictions/output_bias", False
    if name == "cls.seq_relationship.weight":  # [2, H] in both layouts
        return "cls/seq_relationship/output_weights", False
    if name == "cls.seq_relationship.bias":
        return "cls/seq_relationship/output_bias", False
    match = re.fullmatch(r"(embeddings|encoder|pooler|cls\.predictions\.transform)\.(.+)\.(weight|bias|gamma|beta)", name)
    if not match:
        return None
    top, module, leaf = match.groups()
    module_path = re.sub(r"^layer\.(\d+)\.", r"layer_\1/", module).replace(".", "/")
    body = f"{top.replace('.', '/')}/{module_path}"
    if not re.fullmatch(
        r"embeddings/(word_embeddings|position_embeddings|token_type_embeddings|LayerNorm)"
        r"|encoder/layer_\d+/(attention/self/(query|key|value)|attention/output/(dense|LayerNorm)"
        r"|intermediate/dense|output/(dense|LayerNorm))"
        r"|pooler/dense|cls/predictions/transform/(dense|LayerNorm)",
        body,
    ):
        return None
    prefix = "" if top.startswith("cls") else "bert/"
    last = module_path.rsplit("/", 1)[-1]
    if last == "LayerNorm":
        return f"{prefix}{body}/{'gamma' if leaf in ('weight', 'gamma') else 'beta'}", False
    if last in _EMBEDDING_MODULES:
        return (f"{prefix}{body}", False) if leaf == "weight" else None
    if leaf in ("gamma", "beta"):
        return None
    return f"{prefix}{body}/{'kernel' if leaf == 'weight' else 'bias'}", leaf == "weight"


def canonical_to_hf_name(name, prefix=""):
    """Maps a canonical name to `(Hugging Face name, transpose)`; `prefix` is e.g. `"bert."`."""
    if name == "cls/predictions/output_bias":
        return "cls.predictions.bias", False
    if name == "cls/seq_relationship/output_weights":
        return "cls.seq_relationship.weight", False
    if name == "cls/seq_relationship/output_bias":
        return "cls.seq_relationship.bias", False
    if name.startswith("bert/"):
        body, head = name[len("bert/"):], prefix
    elif name.startswith("cls/"):
        body, head = name, ""
    else:
        raise ValueError(f"Not a canonical BERT tensor name: {name!r}.")
    parts = body.split("/")
    leaf = parts[-1]
    transpose = False
    if parts[-1] in _EMBEDDING_MODULES:
        leaf_name = "weight"
    else:
        parts = parts[:-1]
        leaf_name = {"gamma": "weight", "beta": "bias", "kernel": "weight", "bias": "bias"}[leaf]
        transpose = leaf == "kernel"
    dotted = re.sub(r"layer_(\d+)", r"layer.\1", ".".join(parts))
    return f"{head}{dotted}.{leaf_name}", transpose


# === Config ===

def config_from_hf(hf_config, source="config.json"):
    """`BertBackbone` arguments from a Hugging Face BERT `config.json` dict.

    Raises:
        ValueError: naming the file and key, for a non-BERT model type, a non-absolute
            position embedding, a factorized embedding or an unknown activation.
    """
    model_type = hf_config.get("model_type", "bert")
    if model_type != "bert":
        raise ValueError(f"{source}: model_type is {model_type!r}; only 'bert' checkpoints are supported.")
    position_type = hf_config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(f"{source}: position_embedding_type {position_type!r} is not supported (only 'absolute').")
    if "embedding_size" in hf_config and hf_config["embedding_size"] != hf_config["hidden_size"]:
        raise ValueError(f"{source}: embedding_size != hidden_size (a factorized embedding) is not BERT.")
    act = hf_config.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise ValueError(
            f"{source}: hidden_act {act!r} is not supported; expected one of {sorted(HF_ACTIVATIONS)}."
        )
    try:
        return dict(
            vocabulary_size=int(hf_config["vocab_size"]),
            num_layers=int(hf_config["num_hidden_layers"]),
            num_heads=int(hf_config["num_attention_heads"]),
            hidden_dim=int(hf_config["hidden_size"]),
            intermediate_dim=int(hf_config["intermediate_size"]),
            dropout=float(hf_config.get("hidden_dropout_prob", 0.1)),
            max_sequence_length=int(hf_config.get("max_position_embeddings", 512)),
            num_segments=int(hf_config.get("type_vocab_size", 2)),
            hidden_activation=HF_ACTIVATIONS[act],
            layer_norm_epsilon=float(hf_config.get("layer_norm_eps", 1e-12)),
            initializer_range=float(hf_config.get("initializer_range", 0.02)),
        )
    except KeyError as e:
        raise ValueError(f"{source}: required key {e.args[0]!r} is missing.") from None


def config_to_hf(backbone, architecture="BertModel"):
    """A Hugging Face `config.json` dict for a `BertBackbone`."""
    return {
        "architectures": [architecture],
        "model_type": "bert",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": OUR_ACTIVATIONS[backbone.hidden_activation],
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": backbone.initializer_range,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }


# === Reading tensors ===

def _read_safetensors_file(path):
    """Returns (getters, shapes) for one safetensors file, reading lazily."""
    getters, shapes = {}, {}
    try:
        f = safe_open(path, framework="numpy")
    except (SafetensorError, OSError) as e:
        raise BrokenFileError(f"{path}: not a readable safetensors file ({e})." + truncated_file_hint(path)) from None
    with f:
        for name in f.keys():
            piece = f.get_slice(name)
            shapes[name] = tuple(piece.get_shape())
            dtype = piece.get_dtype()

            def get(name=name, dtype=dtype):
                try:
                    if dtype == "BF16":  # numpy has no bfloat16: read through TensorFlow
                        with safe_open(path, framework="tf") as g:
                            value = g.get_tensor(name).numpy().astype(np.float32)
                    else:
                        with safe_open(path, framework="numpy") as g:
                            value = g.get_tensor(name)
                except (SafetensorError, OSError) as e:
                    raise BrokenFileError(f"{path}: tensor {name} cannot be read ({e})."
                                          + truncated_file_hint(path)) from None
                return value

            getters[name] = get
    return getters, shapes


def _read_pytorch_bin(path):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{path} is a PyTorch pickle file. Reading it safely needs torch "
            "(torch.load(..., weights_only=True), which runs no code from the file), and "
            "torch is not installed (it is not a dependency of keras_bert_pkg). Either "
            "install torch, or convert the file to safetensors on a machine that has torch:\n"
            "  import torch, safetensors.torch\n"
            f"  sd = torch.load('{path}', map_location='cpu', weights_only=True)\n"
            "  safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, "
            "'model.safetensors', metadata={'format': 'pt'})\n"
            "and put model.safetensors beside config.json."
        ) from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    getters = {name: (lambda t=t: t.float().numpy() if t.is_floating_point() else t.numpy()) for name, t in state.items()}
    return getters, {name: tuple(t.shape) for name, t in state.items()}


def read_hf_tensors(directory):
    """All tensors of a Hugging Face checkpoint directory as `(getters, shapes)` dicts."""
    index = os.path.join(directory, SAFETENSORS_INDEX_FILE)
    single = os.path.join(directory, SAFETENSORS_FILE)
    if os.path.isfile(single):
        return _read_safetensors_file(single)
    if os.path.isfile(index):
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise BrokenFileError(f"{index}: no \"weight_map\" object naming the shard of each tensor.")
        files = sorted(set(weight_map.values()))
        getters, shapes = {}, {}
        for name in files:
            g, s = _read_safetensors_file(os.path.join(directory, name))
            getters.update(g)
            shapes.update(s)
        return getters, shapes
    binary = os.path.join(directory, PYTORCH_FILE)
    if os.path.isfile(binary):
        return _read_pytorch_bin(binary)
    raise FileNotFoundError(
        f"{directory}: no {SAFETENSORS_FILE}, {SAFETENSORS_INDEX_FILE} or {PYTORCH_FILE} found."
    )


def _map_name(name, prefixed):
    """Canonical `(name, transpose)` of a tensor of a checkpoint with/without `bert.`."""
    if not prefixed:
        return hf_to_canonical_name(name)
    if name.startswith("cls."):
        return hf_to_canonical_name(name)
    if name.startswith("bert."):
        mapped = hf_to_canonical_name(name[len("bert."):])
        return mapped if mapped and mapped[0].startswith("bert/") else None
    return None


def read_hf(path):
    """Reads a Hugging Face BERT checkpoint directory into `CheckpointContents`.

    Args:
        path: a directory with `config.json` and `model.safetensors` (or a sharded
            index, or `pytorch_model.bin`), or the path of the weights file itself.
    """
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{directory}: expected {CONFIG_FILE} beside the weights.")
    config = config_from_hf(read_json(config_path), source=config_path)
    if os.path.isfile(path) and path.endswith(".safetensors"):
        getters, shapes = _read_safetensors_file(path)
    elif os.path.isfile(path) and path.endswith(".bin"):
        getters, shapes = _read_pytorch_bin(path)
    else:
        getters, shapes = read_hf_tensors(directory)

    prefixed = any(name.startswith("bert.") for name in getters)
    canonical_getters, canonical_shapes, names, ignored = {}, {}, {}, {}
    for name, get in getters.items():
        if name in _BUFFERS or (prefixed and name[len("bert."):] in _BUFFERS):
            ignored[name] = "buffer, not a weight"
            continue
        if name in ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias"):
            continue  # checked against their tied tensors below
        mapped = _map_name(name, prefixed)
        if mapped is None:  # e.g. a task head (`classifier.weight`)
            canonical_getters[name] = get  # stays under its own name → reported unused
            canonical_shapes[name] = shapes[name]
            continue
        canonical, transpose = mapped
        canonical_getters[canonical] = (lambda get=get: get().T) if transpose else get
        canonical_shapes[canonical] = shapes[name][::-1] if transpose else shapes[name]
        names[canonical] = name

    word_name = names.get("bert/embeddings/word_embeddings")
    for name, tied_to in (
        ("cls.predictions.decoder.weight", word_name),
        ("cls.predictions.decoder.bias", "cls.predictions.bias"),
    ):
        if name not in getters:
            continue
        if tied_to in getters and np.array_equal(getters[name](), getters[tied_to]()):
            ignored[name] = "tied copy of another tensor"
        else:  # an untied copy: our head is tied, so say it is not used
            canonical_getters[name] = getters[name]
            canonical_shapes[name] = shapes[name]
    vocab = os.path.join(directory, VOCAB_FILE)
    return CheckpointContents(
        source=path, format="hf", config=config,
        tensors=LazyTensors(canonical_getters, canonical_shapes), names=names, ignored=ignored,
        vocabulary=vocab if os.path.isfile(vocab) else None,
        namer=lambda canonical: canonical_to_hf_name(canonical, "bert." if prefixed else "")[0],
        lowercase=tokenizer_lowercase(directory),
    )


def tokenizer_lowercase(directory):
    """Whether the Hugging Face tokenizer saved in `directory` lower-cases: its
    `tokenizer_config.json`'s `do_lower_case`, else its `tokenizer.json` normalizer's
    `lowercase`; None when neither says."""
    config_path = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if os.path.isfile(config_path):
        config = read_json(config_path)
        if isinstance(config.get("do_lower_case"), bool):
            return config["do_lower_case"]
    tokenizer_path = os.path.join(directory, TOKENIZER_FILE)
    if os.path.isfile(tokenizer_path):
        normalizer = read_json(tokenizer_path).get("normalizer") or {}
        if normalizer.get("type") == "BertNormalizer" and isinstance(normalizer.get("lowercase"), bool):
            return normalizer["lowercase"]
    return None


# === Writing ===

def save_hf(model, directory, vocabulary=None, prefix=None, position_ids=True):
    """Writes a backbone or pretrainer as a Hugging Face checkpoint directory.

    Args:
        model: a `BertBackbone` (written as `BertModel`) or `BertPretrainer` (written as
            `BertForPreTraining`, body under `bert.`, the tied decoder omitted as
            transformers itself does).
        directory: output directory (created).
        vocabulary: optional `vocab.txt` path (copied) or list of tokens (written).
        prefix: tensor-name prefix of the body; default `""` for a backbone and
            `"bert."` for a pretrainer.
        position_ids: also write the `embeddings.position_ids` buffer (int64
            `[1, max_sequence_length]`), as older transformers versions do; it makes an
            HF → ours → HF round trip reproduce such files exactly.

    Returns:
        The directory.
    """
    is_pretrainer = getattr(model, "masked_lm_head", None) is not None
    backbone = model.backbone if is_pretrainer else model
    if prefix is None:
        prefix = "bert." if is_pretrainer else ""
    os.makedirs(directory, exist_ok=True)
    tensors = {}
    for entry in model_weight_map(model):
        name, transpose = canonical_to_hf_name(entry.name, prefix)
        value = entry.get()
        tensors[name] = np.ascontiguousarray(value.T if transpose else value).astype(np.float32)
    if position_ids:
        tensors[f"{prefix}embeddings.position_ids"] = np.arange(backbone.max_sequence_length, dtype=np.int64)[None]
    save_file(tensors, os.path.join(directory, SAFETENSORS_FILE), metadata={"format": "pt"})
    config = config_to_hf(backbone, "BertForPreTraining" if is_pretrainer else "BertModel")
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    if vocabulary is not None:
        write_vocabulary(vocabulary, os.path.join(directory, VOCAB_FILE))
    return directory

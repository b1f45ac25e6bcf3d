"""Every checkpoint format behind one reader and one writer.

`detect_format(path)` tells the format of a local checkpoint, `read_checkpoint(path)`
reads it into `CheckpointContents` (the configuration as `BertBackbone` arguments, the
tensors under canonical names, the vocabulary and casing when the checkpoint has them),
and `save_checkpoint(model, path, format)` writes a backbone or pretrainer. Nothing here
builds a model: `BertBackbone.from_preset` and `BertPretrainer.from_preset` build one
from the contents and assign the tensors (`load_report.load_weights`).

| format | what it is |
|---|---|
| `hf` | Hugging Face: `config.json` + `model.safetensors` (or sharded, or `pytorch_model.bin`) |
| `tf1` | Google's original: `bert_config.json` + `bert_model.ckpt.*` |
| `model_garden` | TensorFlow Model Garden TF2 `tf.train.Checkpoint` (+ `bert_config.json`) |
| `keras_hub` | a keras-hub preset directory (`config.json` + `model.weights.h5`) |
| `keras` | a `.keras` file of this package (backbone, pretrainer or task model) |

Example:
>>> detect_format(checkpoint_dir)
'hf'
>>> read_checkpoint(checkpoint_dir).config["hidden_dim"]
16
"""

import os

from keras_bert_pkg.checkpoints.hf import is_hf_directory, read_hf, save_hf
from keras_bert_pkg.checkpoints.keras_file import read_keras_file
from keras_bert_pkg.checkpoints.keras_hub import is_keras_hub_preset, read_keras_hub, save_keras_hub
from keras_bert_pkg.checkpoints.model_garden import read_model_garden
from keras_bert_pkg.checkpoints.tf1 import find_tf_checkpoint, read_tf1, save_tf1, tf_checkpoint_kind

FORMATS = ("hf", "tf1", "keras_hub", "model_garden", "keras")

EXPECTED_FILES = (
    "Expected one of: a Hugging Face directory (config.json + model.safetensors, "
    "model.safetensors.index.json or pytorch_model.bin); a Google TF1 directory "
    "(bert_config.json + bert_model.ckpt.index + bert_model.ckpt.data-*); a Model Garden "
    "TF2 directory (bert_config.json + a tf.train.Checkpoint *.index/*.data-*); a keras-hub "
    "preset directory (config.json naming keras_hub + model.weights.h5); a .keras file; or "
    "a published checkpoint name (see keras_bert_pkg.checkpoints.registry.list_checkpoints())."
)

_READERS = {"hf": read_hf, "tf1": read_tf1, "keras_hub": read_keras_hub,
            "model_garden": read_model_garden, "keras": read_keras_file}


def detect_format(path):
    """Returns the checkpoint format of a local `path`: one of `FORMATS`.

    Raises:
        FileNotFoundError: when `path` matches no format, saying which files were expected.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        if path.endswith(".keras"):
            return "keras"
        if path.endswith((".safetensors", ".bin", ".safetensors.index.json")):
            return "hf"
        if path.endswith(".h5") and is_keras_hub_preset(os.path.dirname(path) or "."):
            return "keras_hub"
        if path.endswith(".index"):
            return tf_checkpoint_kind(path[: -len(".index")])
        if os.path.basename(path) in ("config.json", "bert_config.json"):
            return detect_format(os.path.dirname(path) or ".")
    elif os.path.isdir(path):
        if is_keras_hub_preset(path):
            return "keras_hub"
        if is_hf_directory(path):
            return "hf"
        prefix = find_tf_checkpoint(path)
        if prefix:
            return tf_checkpoint_kind(prefix)
        present = sorted(os.listdir(path))[:20]
        raise FileNotFoundError(f"{path}: not a BERT checkpoint directory (it holds {present}). "
                                f"{EXPECTED_FILES}")
    elif os.path.isfile(path + ".index"):
        return tf_checkpoint_kind(path)
    raise FileNotFoundError(f"{path}: no such file or directory. {EXPECTED_FILES}")


def read_checkpoint(path, format=None):
    """Reads a local checkpoint of any format into `CheckpointContents`.

    Args:
        path: a checkpoint directory, file or prefix (see `detect_format`).
        format: skip detection and read as this format.
    """
    path = os.fspath(path)
    format = format or detect_format(path)
    if format not in _READERS:
        raise ValueError(f"Unknown checkpoint format {format!r}; expected one of {FORMATS}.")
    return _READERS[format](path)


def save_checkpoint(model, path, format, vocabulary=None, **options):
    """Writes a `BertBackbone` or `BertPretrainer` as `"hf"`, `"tf1"`, `"keras_hub"` or `"keras"`.

    Args:
        model: the model to write.
        path: output directory (or `.keras` file for `"keras"`).
        format: the target format.
        vocabulary: optional `vocab.txt` path or token list written beside the weights.
        **options: options of the format's writer (`keras_hub`: `lowercase`,
            `allow_activation_change`).

    Returns: what the format's writer returns (the directory, prefix or file).
    """
    if format == "hf":
        return save_hf(model, path, vocabulary=vocabulary, **options)
    if format == "tf1":
        return save_tf1(model, path, vocabulary=vocabulary, **options)
    if format == "keras_hub":
        save_keras_hub(model, path, vocabulary=vocabulary, **options)
        return path
    if format == "keras":
        if not str(path).endswith(".keras"):
            raise ValueError(f"A Keras model file must end in .keras, got {path!r}.")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        model.save(path)
        return path
    raise ValueError(f"Cannot write format {format!r}; expected 'hf', 'tf1', 'keras_hub' or 'keras'.")

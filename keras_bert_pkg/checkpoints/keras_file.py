"""Our own `.keras` files (a backbone, a pretrainer or a task model) as a checkpoint.

The file is loaded with Keras (`compile=False`) and read like any other format: the
backbone's configuration, its tensors under canonical names (the pretrainer's heads
too), and, when the model carries a preprocessor, its tokenizer's vocabulary and casing;
else the `vocab.txt` beside the file, when there is one with as many tokens as the
model's embedding has rows (`recipes/pretrain.py` writes `backbone.keras` and `vocab.txt`
side by side).
So a fine-tuned model's encoder can start another fine-tuning (`from_preset("run/
model.keras")`) or be written in any other format.

Example:
>>> contents = read_keras_file(keras_file)
>>> contents.format, contents.config["num_layers"]
('keras', 2)
"""

import os
import zipfile

import keras

from keras_bert_pkg.broken_files import BrokenFileError, truncated_file_hint
from keras_bert_pkg.checkpoints.contents import CheckpointContents
from keras_bert_pkg.checkpoints.load_report import LazyTensors
from keras_bert_pkg.checkpoints.vocabulary_file import read_vocabulary
from keras_bert_pkg.checkpoints.weight_map import backbone_weight_map, model_weight_map

# Settings of the saved object, not of the architecture.
_NOT_ARCHITECTURE = ("name", "trainable", "dtype")


def read_keras_file(path):
    """Reads a `.keras` file of a `BertBackbone`, `BertPretrainer` or task model."""
    if not zipfile.is_zipfile(path):
        raise BrokenFileError(f"{path}: not a .keras file (a .keras file is a zip archive)."
                              + truncated_file_hint(path))
    model = keras.models.load_model(path, compile=False)
    if getattr(model, "masked_lm_head", None) is not None:
        backbone, entries = model.backbone, model_weight_map(model)
    elif hasattr(model, "backbone"):
        backbone = model.backbone
        entries = backbone_weight_map(backbone)
    elif hasattr(model, "transformer_layers"):
        backbone, entries = model, backbone_weight_map(model)
    else:
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a BERT backbone, "
                         "pretrainer or task model of keras_bert_pkg.")
    config = {key: value for key, value in backbone.get_config().items()
              if key not in _NOT_ARCHITECTURE}
    tokenizer = getattr(getattr(model, "preprocessor", None), "tokenizer", None)
    return CheckpointContents(
        source=path, format="keras", config=config,
        tensors=LazyTensors({entry.name: entry.get for entry in entries}),
        names={entry.name: entry.path for entry in entries},
        vocabulary=(tokenizer.get_vocabulary() if tokenizer is not None
                    else vocabulary_beside(path, config["vocabulary_size"])),
        lowercase=tokenizer.lowercase if tokenizer is not None else None,
    )


def vocabulary_beside(path, vocabulary_size):
    """The tokens of the `vocab.txt` beside `path` when it has `vocabulary_size` of them,
    else None (none there, or another model's vocabulary). Read once, as a list."""
    beside = os.path.join(os.path.dirname(os.path.abspath(path)), "vocab.txt")
    if not os.path.isfile(beside):
        return None
    tokens = read_vocabulary(beside)
    return tokens if len(tokens) == vocabulary_size else None

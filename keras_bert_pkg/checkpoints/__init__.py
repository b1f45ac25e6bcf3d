"""Reading and writing BERT checkpoints: Hugging Face, Google TF1, Model Garden, keras-hub, .keras.

Start with `load_checkpoint(path)` (or `BertBackbone.from_checkpoint` /
`BertPretrainer.from_checkpoint`) and `save_checkpoint(model, path, format)`; published
checkpoints by name are in `registry`. One module per format: `hf`, `tf1`, `keras_hub`,
`model_garden`; `weight_map` holds our variable ↔ canonical-name table.
"""

from keras_bert_pkg.checkpoints.load_report import CheckpointMismatchError, LoadReport
from keras_bert_pkg.checkpoints.loader import detect_format, load_checkpoint, save_checkpoint
from keras_bert_pkg.checkpoints.registry import fetch, list_checkpoints, register_checkpoint

__all__ = [
    "CheckpointMismatchError",
    "LoadReport",
    "detect_format",
    "fetch",
    "list_checkpoints",
    "load_checkpoint",
    "register_checkpoint",
    "save_checkpoint",
]

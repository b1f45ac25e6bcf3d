"""`load_with_report`: a model from a checkpoint together with the `LoadReport` of its
weights (what `from_preset` builds, with the report the tests inspect)."""

from keras_bert_pkg.checkpoints.load_report import load_weights
from keras_bert_pkg.checkpoints.presets import read_preset
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer


def load_with_report(path, model="backbone", strict=False, **overrides):
    """`(model, report)`; `model` is `"backbone"` or `"pretrainer"`."""
    contents = read_preset(path)
    if model == "pretrainer":
        loaded = BertPretrainer.from_contents(contents, load_weights=False, **overrides)
    else:
        loaded = BertBackbone.from_contents(contents, load_weights=False, **overrides)
    return loaded, load_weights(loaded, contents, strict=strict)

"""Pretrained BERT checkpoints: reading and writing every common format, and presets.

`presets.read_preset(name_or_path)` reads a published checkpoint (downloaded once into
the cache, `registry`) or a local one of any format (`formats`: Hugging Face, Google TF1,
Model Garden TF2, keras-hub, `.keras`) into `CheckpointContents`: the configuration, the
tensors under canonical (Google TF1) names, the vocabulary and its casing. Nothing here
builds a model: `BertBackbone.from_preset` builds one and `load_report.load_weights`
assigns the tensors; `weight_map` knows where each model holds each tensor.
"""

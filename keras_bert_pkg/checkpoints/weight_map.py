"""Our variables ↔ canonical checkpoint names.

Every checkpoint format is translated to and from one canonical naming: the names and
shapes of Google's original TF1 BERT checkpoints (`bert/embeddings/word_embeddings`,
`bert/encoder/layer_3/attention/self/query/kernel` [H, H], `cls/predictions/output_bias`,
...). Each format module (`hf.py`, `tf1.py`, `keras_hub.py`, `model_garden.py`) only
translates its own names to these; this module knows how our Keras variables hold them
(our attention kernels are [H, heads, head_dim], the next-sentence kernel is the transpose
of `output_weights`).

Example:
>>> from keras_bert_pkg.models.bert_backbone import BertBackbone
>>> backbone = BertBackbone(vocabulary_size=100, num_layers=1, num_heads=2,
...                         hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
>>> entries = backbone_weight_map(backbone)
>>> entries[0].name, entries[0].canonical_shape
('bert/embeddings/word_embeddings', (100, 8))
"""

import numpy as np

EMBEDDINGS = "bert/embeddings"
ENCODER = "bert/encoder"
POOLER = "bert/pooler/dense"
MLM = "cls/predictions"
NSP = "cls/seq_relationship"


class WeightEntry:
    """One Keras variable and the canonical tensor it holds.

    Args:
        name: canonical (Google TF1) tensor name.
        variable: the Keras variable.
        canonical_shape: the tensor's shape in the canonical layout.
        transpose: whether the canonical tensor is the transpose of the variable
            (2-D only); otherwise the two differ at most by a reshape.
    """

    def __init__(self, name, variable, canonical_shape=None, transpose=False):
        self.name = name
        self.variable = variable
        shape = tuple(int(d) for d in variable.shape)
        if transpose:
            shape = shape[::-1]
        self.canonical_shape = tuple(canonical_shape) if canonical_shape is not None else shape
        self.transpose = transpose
        if int(np.prod(self.canonical_shape)) != int(np.prod(variable.shape)):
            raise ValueError(f"{name}: canonical shape {self.canonical_shape} cannot hold {variable.path} {variable.shape}.")

    @property
    def path(self):
        """The Keras variable path, e.g. `transformer_layer_0/self_attention_layer/query/kernel`."""
        return self.variable.path

    def get(self):
        """The variable's value in the canonical layout (a float numpy array)."""
        value = np.asarray(self.variable.numpy())
        if self.transpose:
            value = value.T
        return value.reshape(self.canonical_shape)

    def to_variable_layout(self, tensor):
        """Converts a canonical tensor to this variable's layout (no shape check)."""
        tensor = np.asarray(tensor)
        if self.transpose:
            tensor = tensor.T
        return tensor.reshape(tuple(self.variable.shape))

    def __repr__(self):
        return f"WeightEntry({self.name!r} <- {self.path} {self.canonical_shape})"


def _dense(prefix, layer, entries, kernel_shape=None, bias_shape=None):
    entries.append(WeightEntry(f"{prefix}/kernel", layer.kernel, kernel_shape))
    entries.append(WeightEntry(f"{prefix}/bias", layer.bias, bias_shape))


def _layer_norm(prefix, layer, entries):
    entries.append(WeightEntry(f"{prefix}/gamma", layer.gamma))
    entries.append(WeightEntry(f"{prefix}/beta", layer.beta))


def backbone_weight_map(backbone):
    """The `WeightEntry` list of a `BertBackbone` (embeddings, every block, pooler)."""
    hidden = backbone.hidden_dim
    entries = [
        WeightEntry(f"{EMBEDDINGS}/word_embeddings", backbone.get_layer("token_embedding").embeddings),
        WeightEntry(f"{EMBEDDINGS}/token_type_embeddings", backbone.get_layer("segment_embedding").embeddings),
        WeightEntry(f"{EMBEDDINGS}/position_embeddings", backbone.get_layer("position_embedding").position_embeddings),
    ]
    _layer_norm(f"{EMBEDDINGS}/LayerNorm", backbone.get_layer("embeddings_layer_norm"), entries)
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = block._self_attention_layer
        prefix = f"{ENCODER}/layer_{i}"
        for part in ("query", "key", "value"):
            _dense(
                f"{prefix}/attention/self/{part}", getattr(attention, f"_{part}_dense"), entries,
                kernel_shape=(hidden, hidden), bias_shape=(hidden,),
            )
        _dense(f"{prefix}/attention/output/dense", attention._output_dense, entries, kernel_shape=(hidden, hidden))
        _layer_norm(f"{prefix}/attention/output/LayerNorm", block._self_attention_layer_norm, entries)
        _dense(f"{prefix}/intermediate/dense", block._feedforward_intermediate_dense, entries)
        _dense(f"{prefix}/output/dense", block._feedforward_output_dense, entries)
        _layer_norm(f"{prefix}/output/LayerNorm", block._feedforward_layer_norm, entries)
    _dense(POOLER, backbone.get_layer("pooled_dense"), entries)
    return entries


def heads_weight_map(pretrainer):
    """The `WeightEntry` list of a `BertPretrainer`'s heads (masked LM and next sentence).

    The masked-LM output matrix is tied to the word embeddings, so only its bias is a
    separate tensor (`cls/predictions/output_bias`).
    """
    entries = []
    mlm = pretrainer.get_layer("masked_lm_head")
    _dense(f"{MLM}/transform/dense", mlm._intermediate_dense, entries)
    _layer_norm(f"{MLM}/transform/LayerNorm", mlm._intermediate_layer_norm, entries)
    if getattr(mlm, "_kernel", None) is not None:
        raise ValueError(
            "The masked_lm_head has its own output kernel; BERT checkpoints tie it to "
            "the word embeddings (build the head with token_embedding=backbone.token_embedding)."
        )
    entries.append(WeightEntry(f"{MLM}/output_bias", mlm._bias))
    if getattr(pretrainer, "next_sentence", True) and _has_layer(pretrainer, "next_sentence_head"):
        nsp = pretrainer.get_layer("next_sentence_head")
        entries.append(WeightEntry(f"{NSP}/output_weights", nsp.kernel, transpose=True))
        entries.append(WeightEntry(f"{NSP}/output_bias", nsp.bias))
    return entries


def _has_layer(model, name):
    try:
        model.get_layer(name)
        return True
    except ValueError:
        return False


def model_weight_map(model):
    """Every `WeightEntry` of a `BertBackbone` or of a `BertPretrainer` (backbone + heads)."""
    if _has_layer(model, "masked_lm_head"):
        return backbone_weight_map(model.backbone) + heads_weight_map(model)
    return backbone_weight_map(model)


def backbone_config_from_shapes(shapes, num_heads, **config):
    """Infers a `BertBackbone` config from canonical tensor shapes.

    Args:
        shapes: dict canonical name → shape.
        num_heads: the number of attention heads (not visible in the shapes).
        **config: other arguments (activation, epsilon...) passed through.
    """
    word = shapes.get(f"{EMBEDDINGS}/word_embeddings")
    if word is None:
        raise ValueError(f"No {EMBEDDINGS}/word_embeddings tensor: not a BERT checkpoint.")
    layers = 0
    while f"{ENCODER}/layer_{layers}/attention/self/query/kernel" in shapes:
        layers += 1
    result = dict(
        vocabulary_size=int(word[0]),
        hidden_dim=int(word[1]),
        num_layers=layers,
        num_heads=num_heads,
        intermediate_dim=int(shapes[f"{ENCODER}/layer_0/intermediate/dense/kernel"][1]),
        max_sequence_length=int(shapes[f"{EMBEDDINGS}/position_embeddings"][0]),
        num_segments=int(shapes[f"{EMBEDDINGS}/token_type_embeddings"][0]),
    )
    result.update(config)
    return result

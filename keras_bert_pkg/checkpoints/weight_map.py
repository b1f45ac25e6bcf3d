"""Our variables ↔ canonical checkpoint names.

Every checkpoint format is translated to and from one canonical naming: the names and
shapes of Google's original TF1 BERT checkpoints (`bert/embeddings/word_embeddings`,
`bert/encoder/layer_3/attention/self/query/kernel` [H, H], `cls/predictions/output_bias`,
...). Each format module (`hf.py`, `tf1.py`, `keras_hub.py`, `model_garden.py`) only
translates its own names to these; this module knows where a model holds each of them:
ours by their public sublayers (the next-sentence kernel is the transpose of
`output_weights`), keras-hub's by variable path (its attention kernels are split by
head). Models are duck-typed here: this folder imports no model.

Example:
>>> backbone = kb.BertBackbone(vocabulary_size=100, num_layers=1, num_heads=2,
...                         hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
>>> entries = backbone_weight_map(backbone)
>>> entries[0].name, entries[0].canonical_shape
('bert/embeddings/word_embeddings', (100, 8))
"""

import re

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
    """The `WeightEntry` list of a `BertBackbone` (embeddings, every block, pooler), read
    from its public sublayers."""
    entries = [
        WeightEntry(f"{EMBEDDINGS}/word_embeddings", backbone.token_embedding.embeddings),
        WeightEntry(f"{EMBEDDINGS}/token_type_embeddings", backbone.segment_embedding.embeddings),
        WeightEntry(f"{EMBEDDINGS}/position_embeddings",
                    backbone.position_embedding.position_embeddings),
    ]
    _layer_norm(f"{EMBEDDINGS}/LayerNorm", backbone.embeddings_layer_norm, entries)
    for i, block in enumerate(backbone.transformer_layers):
        prefix = f"{ENCODER}/layer_{i}"
        _dense(f"{prefix}/attention/self/query", block.query_dense, entries)
        _dense(f"{prefix}/attention/self/key", block.key_dense, entries)
        _dense(f"{prefix}/attention/self/value", block.value_dense, entries)
        _dense(f"{prefix}/attention/output/dense", block.attention_output_dense, entries)
        _layer_norm(f"{prefix}/attention/output/LayerNorm", block.attention_layer_norm, entries)
        _dense(f"{prefix}/intermediate/dense", block.intermediate_dense, entries)
        _dense(f"{prefix}/output/dense", block.output_dense, entries)
        _layer_norm(f"{prefix}/output/LayerNorm", block.output_layer_norm, entries)
    _dense(POOLER, backbone.pooled_dense, entries)
    return entries


# keras-hub's MaskedLMHead variables, by their path inside the head.
_MASKED_LM_HEAD_PATHS = {
    "intermediate_dense/kernel": f"{MLM}/transform/dense/kernel",
    "intermediate_dense/bias": f"{MLM}/transform/dense/bias",
    "intermediate_layer_norm/gamma": f"{MLM}/transform/LayerNorm/gamma",
    "intermediate_layer_norm/beta": f"{MLM}/transform/LayerNorm/beta",
    "output_bias": f"{MLM}/output_bias",
}


def masked_lm_head_weight_map(head):
    """The `WeightEntry` list of a keras-hub `MaskedLMHead`, by variable path.

    The output matrix is tied to the word embeddings, so only its bias is a separate
    tensor (`cls/predictions/output_bias`).

    Raises:
        ValueError: for a head with its own output kernel (BERT ties it).
    """
    entries = []
    prefix = head.path + "/"
    for variable in head.weights:
        if not variable.path.startswith(prefix):
            continue  # the tied word embeddings belong to the backbone
        local = variable.path[len(prefix):]
        if local == "output_kernel":
            raise ValueError(
                f"{head.path} has its own output kernel; BERT checkpoints tie it to the word "
                "embeddings (build the head with token_embedding=backbone.token_embedding).")
        if local in _MASKED_LM_HEAD_PATHS:
            entries.append(WeightEntry(_MASKED_LM_HEAD_PATHS[local], variable))
    return entries


def heads_weight_map(pretrainer):
    """The `WeightEntry` list of a `BertPretrainer`'s heads (masked LM and next sentence)."""
    entries = masked_lm_head_weight_map(pretrainer.masked_lm_head)
    if pretrainer.next_sentence_head is not None:
        nsp = pretrainer.next_sentence_head
        entries.append(WeightEntry(f"{NSP}/output_weights", nsp.kernel, transpose=True))
        entries.append(WeightEntry(f"{NSP}/output_bias", nsp.bias))
    return entries


def model_weight_map(model):
    """Every `WeightEntry` of a `BertBackbone` or of a `BertPretrainer` (backbone + heads)."""
    if getattr(model, "masked_lm_head", None) is not None:
        return backbone_weight_map(model.backbone) + heads_weight_map(model)
    return backbone_weight_map(model)


# keras-hub's BertBackbone variables, by path: (pattern, canonical name, canonical shape).
def _keras_hub_rules(hidden):
    block = r"transformer_layer_(\d+)/"
    layer = ENCODER + "/layer_{}/"
    square = (hidden, hidden)
    return [
        (r"token_embedding/embeddings", f"{EMBEDDINGS}/word_embeddings", None),
        (r"position_embedding/embeddings", f"{EMBEDDINGS}/position_embeddings", None),
        (r"segment_embedding/embeddings", f"{EMBEDDINGS}/token_type_embeddings", None),
        (r"embeddings_layer_norm/(gamma|beta)", EMBEDDINGS + "/LayerNorm/{}", None),
        (block + r"self_attention_layer/(query|key|value)/kernel",
         layer + "attention/self/{}/kernel", square),
        (block + r"self_attention_layer/(query|key|value)/bias",
         layer + "attention/self/{}/bias", (hidden,)),
        (block + r"self_attention_layer/attention_output/(kernel)",
         layer + "attention/output/dense/{}", square),
        (block + r"self_attention_layer/attention_output/(bias)",
         layer + "attention/output/dense/{}", None),
        (block + r"self_attention_layer_norm/(gamma|beta)", layer + "attention/output/LayerNorm/{}", None),
        (block + r"feedforward_intermediate_dense/(kernel|bias)", layer + "intermediate/dense/{}", None),
        (block + r"feedforward_output_dense/(kernel|bias)", layer + "output/dense/{}", None),
        (block + r"feedforward_layer_norm/(gamma|beta)", layer + "output/LayerNorm/{}", None),
        (r"pooled_dense/(kernel|bias)", POOLER + "/{}", None),
    ]


def keras_hub_backbone_weight_map(backbone):
    """The `WeightEntry` list of a keras-hub `BertBackbone`, by variable path (its
    attention kernels are split by head: `[hidden, heads, head_dim]`)."""
    rules = [(re.compile(pattern + "$"), name, shape)
             for pattern, name, shape in _keras_hub_rules(int(backbone.hidden_dim))]
    entries = []
    for variable in backbone.weights:
        for pattern, name, shape in rules:
            match = pattern.search(variable.path)
            if match:
                entries.append(WeightEntry(name.format(*match.groups()), variable, shape))
                break
    return entries

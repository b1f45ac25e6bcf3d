"""TensorFlow Model Garden TF2 checkpoints of `BertEncoder` / `BertEncoderV2` / `BertPretrainerV2`.

These are object-based `tf.train.Checkpoint`s (keys such as
`encoder/layer_with_weights-4/_attention_layer/_query_dense/kernel/.ATTRIBUTES/...`), as
written by tf-models-official's trainer and by its `tf2_bert_encoder_checkpoint_converter`.
Object-based keys depend on the Python object structure, so the reader builds the
matching Model Garden network with tf-models-official itself, restores the checkpoint
into it with TensorFlow's own restore, and then maps its weights to canonical names by
their public variable names (`transformer/layer_0/self_attention/query/kernel`, ...).
The encoder may be saved under `encoder` or `model` (a `BertPretrainerV2` under
`model`, with `masked_lm` beside it); the masked-LM head is read when present.
Classification heads of a `BertPretrainerV2` (Model Garden's next-sentence head has an
extra dense layer, unlike BERT's) are not read, and are listed as unused.

The sizes come from `bert_config.json` beside the checkpoint when there is one (its
`"gelu"` is the tanh form, as in Model Garden); otherwise they are inferred from the
tensor shapes and the activation is Model Garden's default, the tanh GELU. LayerNorm
epsilon is Model Garden's fixed 1e-12.

Example (a Model Garden `BertEncoder` saved the way its trainer saves it):
>>> import tempfile
>>> from official.nlp.modeling import networks
>>> encoder = networks.BertEncoder(vocab_size=110, hidden_size=16, num_layers=2,
...                                num_attention_heads=2, inner_dim=32, max_sequence_length=64)
>>> prefix = tf.train.Checkpoint(encoder=encoder).write(os.path.join(tempfile.mkdtemp(), "ckpt-1"))
>>> contents = read_model_garden(prefix)
>>> contents.config["num_layers"], len(contents.tensors)
(2, 39)
"""

import os
import re
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from keras_bert_pkg.broken_files import read_json, read_tf_checkpoint, read_tf_tensor
from keras_bert_pkg.checkpoints.contents import CheckpointContents
from keras_bert_pkg.checkpoints.load_report import CheckpointMismatchError, LazyTensors
from keras_bert_pkg.checkpoints.tf1 import CONFIG_FILE, config_from_bert_config, resolve_prefix

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_IGNORED_ROOTS = ("optimizer", "save_counter", "global_step", "step")


def _keys(prefix):
    return {
        name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name: tuple(shape)
        for name, shape in read_tf_checkpoint(prefix).get_variable_to_shape_map().items()
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


def _layout(keys):
    """Finds where the encoder is in the object graph: (root path, "v1"|"v2", has MLM)."""
    for root in ("encoder", "model/encoder_network", "model", "encoder_network"):
        if any(k.startswith(f"{root}/layer_with_weights-") and "_attention_layer/" in k for k in keys):
            return root, "v1"
        if any(k.startswith(f"{root}/_transformer_layers/") for k in keys):
            return root, "v2"
    raise ValueError(
        "no Model Garden BERT encoder found in the object graph (expected keys under "
        "'encoder/' or 'model/' with _attention_layer/_query_dense weights)."
    )


def _infer_config(keys, root, version):
    query = sorted(
        (k, s) for k, s in keys.items() if k.startswith(root + "/") and k.endswith("_attention_layer/_query_dense/kernel")
    )
    intermediate = [s for k, s in keys.items() if k.startswith(root + "/") and k.endswith("/_intermediate_dense/kernel")]
    if not query or not intermediate:
        raise ValueError("cannot infer the encoder's sizes: no attention or feed-forward kernels found.")
    hidden, heads, _ = query[0][1]

    def embedding(v1_index, v2_name, alternatives=()):
        candidates = [f"{root}/layer_with_weights-{v1_index}/embeddings" if version == "v1" else f"{root}/{v2_name}/embeddings"]
        candidates += list(alternatives)
        for key in candidates:
            if key in keys:
                return keys[key]
        raise ValueError(f"cannot infer the encoder's sizes: none of {candidates} in the checkpoint.")

    word = embedding(0, "_embedding_layer", [k for k in keys if k.endswith("masked_lm/embedding_table")])
    if word[1] != hidden:
        raise ValueError(f"word embedding width {word[1]} != hidden size {hidden}: a factorized embedding is not BERT.")
    return dict(
        vocabulary_size=int(word[0]),
        num_layers=len(query),
        num_heads=int(heads),
        hidden_dim=int(hidden),
        intermediate_dim=int(intermediate[0][1]),
        max_sequence_length=int(embedding(1, "_position_embedding_layer")[0]),
        num_segments=int(embedding(2, "_type_embedding_layer")[0]),
        hidden_activation="gelu_approximate",
        layer_norm_epsilon=1e-12,
    )


def _build(config, version, with_mlm):
    import tf_keras
    from official.nlp.modeling import models, networks

    encoder_class = networks.BertEncoder if version == "v1" else networks.BertEncoderV2
    encoder = encoder_class(
        vocab_size=config["vocabulary_size"],
        hidden_size=config["hidden_dim"],
        num_layers=config["num_layers"],
        num_attention_heads=config["num_heads"],
        inner_dim=config["intermediate_dim"],
        max_sequence_length=config["max_sequence_length"],
        type_vocab_size=config["num_segments"],
        initializer=tf_keras.initializers.TruncatedNormal(stddev=config.get("initializer_range", 0.02)),
    )
    if version == "v2":
        ids = np.zeros((1, 2), "int32")
        encoder(dict(input_word_ids=ids, input_mask=ids, input_type_ids=ids))
    pretrainer = None
    if with_mlm:
        with warnings.catch_warnings():  # tf_keras warns about masked_lm_positions
            warnings.simplefilter("ignore", UserWarning)
            pretrainer = models.BertPretrainerV2(encoder_network=encoder)
            pretrainer(pretrainer.inputs)
    return encoder, pretrainer


# Model Garden variable name (after the encoder's scope, if any, and without `:0`)
# → canonical (Google) name. `{i}` is the layer index.
_ENCODER_NAMES = {
    "word_embeddings/embeddings": "bert/embeddings/word_embeddings",
    "position_embedding/embeddings": "bert/embeddings/position_embeddings",
    "type_embeddings/embeddings": "bert/embeddings/token_type_embeddings",
    "embeddings/layer_norm/gamma": "bert/embeddings/LayerNorm/gamma",
    "embeddings/layer_norm/beta": "bert/embeddings/LayerNorm/beta",
    "pooler_transform/kernel": "bert/pooler/dense/kernel",
    "pooler_transform/bias": "bert/pooler/dense/bias",
}
_BLOCK_NAMES = {
    "self_attention/query": "attention/self/query",
    "self_attention/key": "attention/self/key",
    "self_attention/value": "attention/self/value",
    "self_attention/attention_output": "attention/output/dense",
    "self_attention_layer_norm": "attention/output/LayerNorm",
    "intermediate": "intermediate/dense",
    "output": "output/dense",
    "output_layer_norm": "output/LayerNorm",
}
_BLOCK_PATTERN = re.compile(r"transformer/layer_(\d+)/(.+)/(kernel|bias|gamma|beta)")
_MLM_PREFIX = "bert/cls/predictions/"
_UNIQUE_SUFFIX = re.compile(r"^([a-z_]+?)_\d+/")  # Keras makes repeated layer names unique


def _canonical_name(variable_name, encoder_name):
    """Canonical name of a Model Garden encoder or masked-LM variable, or None.

    `encoder_name` is the encoder's name, the scope of `BertEncoderV2`'s variables.
    """
    name = variable_name.split(":")[0]
    if name.startswith(_MLM_PREFIX):
        rest = name[len(_MLM_PREFIX):]
        return "cls/predictions/output_bias" if rest == "output_bias/bias" else "cls/predictions/" + rest
    name = _UNIQUE_SUFFIX.sub(r"\1/", name.removeprefix(encoder_name + "/"), count=1)
    if name in _ENCODER_NAMES:
        return _ENCODER_NAMES[name]
    match = _BLOCK_PATTERN.fullmatch(name)
    if match and match.group(2) in _BLOCK_NAMES:
        index, part, attr = match.groups()
        return f"bert/encoder/layer_{index}/{_BLOCK_NAMES[part]}/{attr}"
    return None


def _canonical_variables(encoder, pretrainer):
    """dict canonical name → (Model Garden variable, canonical shape), by variable names."""
    layers = [encoder] + ([pretrainer.masked_lm] if pretrainer is not None else [])
    variables = {}
    for variable in (v for layer in layers for v in layer.weights):
        name = _canonical_name(variable.name, encoder.name)
        if name is None:
            raise CheckpointMismatchError(f"unexpected Model Garden variable {variable.name}: this tf-models-official "
                                          "names its BERT weights differently.")
        variables.setdefault(name, variable)  # the MLM shares the word embeddings
    hidden = variables["bert/embeddings/word_embeddings"].shape[1]
    shapes = {}
    for name, variable in variables.items():
        shape = tuple(variable.shape)
        if len(shape) == 3:  # Model Garden keeps heads apart: [H, n, d] / [n, d, H]
            shape = (hidden, hidden)
        elif re.search(r"attention/self/\w+/bias$", name):
            shape = (hidden,)
        shapes[name] = shape
    return variables, shapes


def read_model_garden(path):
    """Reads a Model Garden TF2 BERT checkpoint into `CheckpointContents`.

    Args:
        path: a directory (its `checkpoint` file or single `*.index` names the
            checkpoint) or a checkpoint prefix such as `.../ckpt-1`.
    """
    prefix = resolve_prefix(path)
    keys = _keys(prefix)
    try:
        root, version = _layout(keys)
    except ValueError as e:
        raise CheckpointMismatchError(f"{prefix}: {e}") from None
    with_mlm = any(re.match(r"(model/)?masked_lm/", k) for k in keys)
    config_path = os.path.join(os.path.dirname(prefix), CONFIG_FILE)
    if os.path.isfile(config_path):
        config = config_from_bert_config(read_json(config_path), source=config_path)
    else:
        config = _infer_config(keys, root, version)
    encoder, pretrainer = _build(config, version, with_mlm)

    roots = {}
    if root == "model/encoder_network" and pretrainer is not None:
        roots["model"] = pretrainer
    elif root == "model/encoder_network":
        raise CheckpointMismatchError(f"{prefix}: an encoder under model/encoder_network but no masked_lm.")
    elif root == "encoder_network":
        roots["encoder_network"] = encoder
    else:
        roots[root] = encoder
    if pretrainer is not None and "model" not in roots:
        roots["masked_lm"] = pretrainer.masked_lm
    variables, shapes = _canonical_variables(encoder, pretrainer)
    for variable in variables.values():  # NaN marks "not restored"
        variable.assign(np.full(variable.shape, np.nan, variable.dtype.as_numpy_dtype))
    checkpoint = tf.train.Checkpoint(**roots)
    try:
        status = checkpoint.read(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
        raise CheckpointMismatchError(f"{prefix}: the Model Garden network does not match the checkpoint: {e}") from None
    status.expect_partial()

    getters, names = {}, {}
    for name, variable in variables.items():
        value = variable.numpy()
        if np.isnan(value).all():
            continue  # not in the checkpoint → reported missing
        getters[name] = lambda value=value, shape=shapes[name]: value.reshape(shape)
        names[name] = f"{name} (Model Garden {variable.name})"

    # Keys of the checkpoint our objects do not account for are unused.
    with tempfile.TemporaryDirectory() as tmp:
        ours = set(_keys(tf.train.Checkpoint(**roots).write(os.path.join(tmp, "ckpt"))))
    ignored = {}
    for key in keys:
        if key in ours:
            continue
        if key.split("/")[0] in _IGNORED_ROOTS or "/.OPTIMIZER_SLOT/" in key or "/OPTIMIZER_SLOT/" in key:
            ignored[key] = "optimizer or training state"
        else:
            getters[key] = lambda key=key: read_tf_tensor(read_tf_checkpoint(prefix), prefix, key + _SUFFIX)
    return CheckpointContents(
        source=prefix, format="model_garden", config=config, tensors=LazyTensors(getters), names=names, ignored=ignored,
        vocabulary=os.path.join(os.path.dirname(prefix), "vocab.txt")
        if os.path.isfile(os.path.join(os.path.dirname(prefix), "vocab.txt")) else None,
    )

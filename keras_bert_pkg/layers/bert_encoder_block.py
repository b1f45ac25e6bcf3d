"""BertEncoderBlock: one Transformer block of BERT, with a fused-matmul forward pass.

The block is BERT's (section 3 of the paper, "Attention Is All You Need"'s encoder
layer with post-LayerNorm): multi-head self-attention, dropout, add & LayerNorm, then a
feed-forward layer (dense to `intermediate_dim` with GELU, dense back), dropout, add &
LayerNorm. Its sublayers are public attributes named after the tensors of Google's
checkpoints (`query_dense` holds `attention/self/query`, `attention_output_dense` holds
`attention/output/dense`, `intermediate_dense`, `output_dense`, `attention_layer_norm`,
`output_layer_norm`), each kernel in the checkpoints' `[in, out]` layout.

The forward pass keeps the hidden states as a `[tokens, hidden]` matrix and runs every
projection as one 2-D `MatMul` + `BiasAdd` (+ GELU), the pattern TensorFlow's graph
optimizer fuses into one oneDNN matmul with post-ops on CPU; the query, key and value
projections are one matmul against the concatenated kernels; the attention scores'
`1/sqrt(head_dim)` scale and the padding mask (added, not selected) are that pattern's
post-ops too, and the LayerNorms are `BertLayerNorm` (one oneDNN kernel in bfloat16).
In training the dropouts are `BertDropout` (16 random bits an element, one mask
multiply), the GELU has a float32 hand-written gradient compiled by XLA
(`gelu_for_training`), and each bias gradient is summed in float32
(`keras_workarounds.bias_add`: TensorFlow's CPU kernel sums bfloat16 in bfloat16).
When a projection is quantized
(`model.quantize("int8")`), it runs on the CPU's int8 units (`int8_matmul`: 8-bit
activations quantized on the fly, the feed-forward's GELU inside the int8 kernel); other
quantized forms run through Keras's own quantized layers.

Args:
    intermediate_dim: feed-forward inner size (4H in the paper).
    num_heads: attention heads; must divide the hidden size.
    dropout: dropout on the attention probabilities and on both sublayer outputs.
    activation: the feed-forward activation (BERT: GELU).
    layer_norm_epsilon: LayerNorm epsilon (1e-12 in BERT).
    kernel_initializer: initializer of the dense kernels (BERT: truncated normal 0.02).
    **kwargs: base layer arguments (`name`, `dtype`).

Call args: `inputs` [batch, length, hidden]; `padding_mask` [batch, length] (true for
real tokens); `attention_mask` [batch, length, length] (true where position i may
attend to j), both optional; `training`; `query_positions` (int [batch, queries],
optional): compute the outputs at these positions only, [batch, queries, hidden], the
same rows the whole output would hold there (every position is still a key and a value);
a model that reads only some positions of its last layer (pre-training's masked LM)
skips the rest of that layer's work.

Example:
>>> import numpy as np
>>> block = BertEncoderBlock(intermediate_dim=64, num_heads=2)
>>> y = block(np.zeros((1, 5, 16), "float32"), padding_mask=np.ones((1, 5), "bool"))
>>> tuple(y.shape), tuple(block.query_dense.kernel.shape)
((1, 5, 16), (16, 16))
>>> x = np.random.default_rng(0).normal(size=(1, 5, 16)).astype("float32")
>>> rows = block(x, query_positions=np.array([[0, 3]]))
>>> tuple(rows.shape), bool(np.allclose(rows, block(x).numpy()[:, [0, 3]], atol=1e-5))
((1, 2, 16), True)
"""

import re

import keras
import tensorflow as tf

from keras_bert_pkg.keras_workarounds import bias_add
from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact, gelu_for_training
from keras_bert_pkg.layers.bert_dropout import BertDropout
from keras_bert_pkg.layers.bert_layer_norm import BertLayerNorm
from keras_bert_pkg.layers.int8_matmul import int8_matmul, int8_matmul_available


# In training, BERT's two GELU forms run as `gelu_for_training` (same function, faster gradient).
_GELU_FORMS = {gelu_approximate: True, gelu_exact: False}
# int8 projections apply these in the int8 kernel (linear: none to apply).
_INT8_ACTIVATIONS = {gelu_approximate: "gelu_approximate", gelu_exact: "gelu_exact",
                     keras.activations.linear: None}


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertEncoderBlock(keras.layers.Layer):
    """One post-LayerNorm Transformer encoder block of BERT (see the module doc)."""

    def __init__(self, intermediate_dim, num_heads, dropout=0.0, activation="gelu",
                 layer_norm_epsilon=1e-12, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.intermediate_dim = int(intermediate_dim)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # The dense layers are made in build(), which knows the hidden size.
        self.attention_dropout = self._dropout("attention_dropout")
        self.attention_output_dropout = self._dropout("attention_output_dropout")
        self.attention_layer_norm = self._layer_norm("attention_layer_norm")
        self.output_dropout = self._dropout("output_dropout")
        self.output_layer_norm = self._layer_norm("output_layer_norm")

    def _dense(self, units, name, activation=None):
        initializer = keras.initializers.get(keras.initializers.serialize(self.kernel_initializer))
        return keras.layers.Dense(units, activation=activation, kernel_initializer=initializer,
                                  dtype=self.dtype_policy, name=name)

    def _layer_norm(self, name):
        return BertLayerNorm(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)

    def _dropout(self, name):
        return BertDropout(self.dropout, dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        hidden = int(input_shape[-1])
        if hidden % self.num_heads:
            raise ValueError(f"BertEncoderBlock {self.name!r}: hidden size {hidden} is not "
                             f"divisible by num_heads {self.num_heads}.")
        self.query_dense = self._dense(hidden, "query_dense")
        self.key_dense = self._dense(hidden, "key_dense")
        self.value_dense = self._dense(hidden, "value_dense")
        self.attention_output_dense = self._dense(hidden, "attention_output_dense")
        self.intermediate_dense = self._dense(self.intermediate_dim, "intermediate_dense",
                                              self.activation)
        self.output_dense = self._dense(hidden, "output_dense")
        for layer in (self.query_dense, self.key_dense, self.value_dense,
                      self.attention_output_dense, self.intermediate_dense):
            layer.build((None, hidden))
        self.output_dense.build((None, self.intermediate_dim))
        self.attention_layer_norm.build((None, hidden))
        self.output_layer_norm.build((None, hidden))
        self.built = True

    # --- projections -----------------------------------------------------------------
    @staticmethod
    def _quantized(layer):
        return getattr(layer, "quantization_mode", None) is not None

    @staticmethod
    def _int8(layer):
        """An int8 projection whose activations are quantized too: `int8_matmul`'s job."""
        return (getattr(layer, "quantization_mode", None) == "int8"
                and getattr(layer, "inputs_quantizer", None) is not None and not layer.lora_enabled
                and int8_matmul_available())

    def _project(self, x, layer):
        """`x @ kernel + bias` as one 2-D matmul (+ the layer's activation when quantized):
        float kernels as `MatMul` + `BiasAdd`, int8 ones by `int8_matmul`, other
        quantized forms by Keras's own call."""
        if self._int8(layer):
            if layer.activation in _INT8_ACTIVATIONS:
                return int8_matmul(x, layer.kernel, layer.kernel_scale, layer.bias,
                                   activation=_INT8_ACTIVATIONS[layer.activation])
            return layer.activation(int8_matmul(x, layer.kernel, layer.kernel_scale, layer.bias))
        if self._quantized(layer):
            return layer(x)
        kernel = tf.cast(layer.kernel, self.compute_dtype)
        return bias_add(tf.matmul(x, kernel), tf.cast(layer.bias, self.compute_dtype))

    def _projections(self, x, layers):
        """`x` projected by each of `layers`, concatenated on the last axis: one matmul
        against the concatenated kernels (one projection a layer when quantized)."""
        if any(self._quantized(layer) for layer in layers):
            return tf.concat([self._project(x, layer) for layer in layers], axis=1)
        kernel = tf.concat([tf.cast(layer.kernel, self.compute_dtype) for layer in layers], axis=1)
        bias = tf.concat([tf.cast(layer.bias, self.compute_dtype) for layer in layers], axis=0)
        return bias_add(tf.matmul(x, kernel), bias)

    def _heads(self, projected, batch, length, parts):
        """[tokens, parts * hidden] -> `parts` tensors [batch, heads, length, head_dim]."""
        head_dim = projected.shape[-1] // parts // self.num_heads
        projected = tf.reshape(projected, [batch, length, parts, self.num_heads, head_dim])
        # unstack, not [i]: the gradient of `parts` slices is `parts` zero-filled full-size
        # tensors summed (StridedSliceGrad + AddN, ~10% of a bf16 training step); unstack's
        # is one stack.
        return tf.unstack(tf.transpose(projected, [2, 0, 3, 1, 4]), num=parts, axis=0)

    # --- forward ---------------------------------------------------------------------
    def call(self, inputs, padding_mask=None, attention_mask=None, training=None,
             query_positions=None):
        shape = tf.shape(inputs)
        batch, length = shape[0], shape[1]
        hidden = inputs.shape[-1]
        head_dim = hidden // self.num_heads
        sequence = tf.cast(inputs, self.compute_dtype)
        x = tf.reshape(sequence, [-1, hidden])  # [tokens, hidden]

        # Self-attention.
        if query_positions is None:
            queries = length
            query, key, value = self._heads(
                self._projections(x, (self.query_dense, self.key_dense, self.value_dense)),
                batch, length, 3)
        else:
            # Only the rows at `query_positions` go on past the keys and values: each
            # row's output depends on every key and value but on its own query alone.
            key, value = self._heads(self._projections(x, (self.key_dense, self.value_dense)),
                                     batch, length, 2)
            x = tf.reshape(tf.gather(sequence, query_positions, batch_dims=1), [-1, hidden])
            queries = tf.shape(query_positions)[1]
            (query,) = self._heads(self._projections(x, (self.query_dense,)), batch, queries, 1)
            if attention_mask is not None:
                attention_mask = tf.gather(attention_mask, query_positions, batch_dims=1)
        # matmul, scale and mask as one oneDNN matmul with post-ops (TensorFlow's graph
        # optimizer fuses BatchMatMul * constant + addend): the mask is added, not selected.
        scale = tf.cast(1.0 / float(head_dim) ** 0.5, self.compute_dtype)
        scores = tf.matmul(query, key, transpose_b=True) * scale  # [batch, heads, queries, length]
        bias = _attention_bias(padding_mask, attention_mask, scores.dtype)
        if bias is not None:
            scores += bias
        probs = self.attention_dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.matmul(probs, value)  # [batch, heads, queries, head_dim]
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, hidden])
        attended = self._project(context, self.attention_output_dense)
        attended = self.attention_output_dropout(attended, training=training)
        x = self.attention_layer_norm(attended + x)

        # Feed-forward.
        if self._quantized(self.intermediate_dense):
            inner = self._project(x, self.intermediate_dense)
        elif training and self.activation in _GELU_FORMS:  # inference keeps the fusable form
            inner = gelu_for_training(self._project(x, self.intermediate_dense),
                                      approximate=_GELU_FORMS[self.activation])
        else:
            inner = self.activation(self._project(x, self.intermediate_dense))
        out = self.output_dropout(self._project(inner, self.output_dense), training=training)
        x = self.output_layer_norm(out + x)
        return tf.reshape(x, [batch, queries, hidden])

    def compute_output_spec(self, inputs, padding_mask=None, attention_mask=None,
                            training=None, query_positions=None):
        shape = tuple(inputs.shape)
        if query_positions is not None:
            shape = (shape[0], query_positions.shape[1], shape[2])
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape  # without `query_positions`

    def get_config(self):
        config = super().get_config()
        config.update({
            "intermediate_dim": self.intermediate_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config


def _attention_bias(padding_mask, attention_mask, dtype):
    """[batch, 1, 1 or queries, length] additive scores bias (0 = attend, a large negative
    number where keras.layers.Softmax would mask: -1e9, or -0.7 x float16's max), or None."""
    mask = None
    if padding_mask is not None:
        mask = tf.cast(padding_mask, tf.bool)[:, tf.newaxis, tf.newaxis, :]
    if attention_mask is not None:
        extra = tf.cast(attention_mask, tf.bool)[:, tf.newaxis, :, :]
        mask = extra if mask is None else tf.logical_and(mask, extra)
    if mask is None:
        return None
    large_negative = -0.7 * 65504.0 if dtype == tf.float16 else -1e9
    return tf.where(mask, tf.zeros([], dtype), tf.constant(large_negative, dtype))


# --- weights files written before this layer existed ------------------------------------
# Up to version 0.1 the block was keras-hub's TransformerEncoder (subclassed as
# `FastTransformerEncoder`), whose weights sit in `.keras` / `.weights.h5` files under its
# private attribute names, with the attention kernels split by head.
_LEGACY_BLOCK = re.compile(r"(^|/)fast_transformer_encoder(_\d+)?/")
_LEGACY_SUBLAYERS = {
    "_self_attention_layer/query_dense": "query_dense",
    "_self_attention_layer/key_dense": "key_dense",
    "_self_attention_layer/value_dense": "value_dense",
    "_self_attention_layer/output_dense": "attention_output_dense",
    "_self_attention_layer_norm": "attention_layer_norm",
    "_feedforward_intermediate_dense": "intermediate_dense",
    "_feedforward_output_dense": "output_dense",
    "_feedforward_layer_norm": "output_layer_norm",
}


def is_legacy_weight_path(path):
    """Whether a weights-file path is one of the pre-0.2 block layout."""
    return _LEGACY_BLOCK.search(path) is not None


def upgrade_legacy_weight(path, value):
    """`(new path, new value)` of a weight of a pre-0.2 weights file (module comment):
    the block's own path and sublayer names of today, attention kernels `[in, out]`."""
    match = _LEGACY_BLOCK.search(path)
    if match is None:
        return path, value
    index = match.group(2) or ""
    head = path[:match.start()] + match.group(1) + f"bert_encoder_block{index}/"
    rest = path[match.end():]
    for old, new in _LEGACY_SUBLAYERS.items():
        if rest.startswith(old + "/"):
            rest = new + rest[len(old):]
            break
    if rest.startswith(("query_dense/", "key_dense/", "value_dense/")):
        value = value.reshape(value.shape[0], -1) if value.ndim == 3 else value.reshape(-1)
    elif rest.startswith("attention_output_dense/") and value.ndim == 3:
        value = value.reshape(-1, value.shape[-1])
    return head + rest, value

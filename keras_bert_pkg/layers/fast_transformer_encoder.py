"""FastTransformerEncoder: keras-hub's TransformerEncoder with a faster forward pass.

The weights, sublayers, names and configuration are exactly those of
`keras_hub.layers.TransformerEncoder` (so checkpoints map onto it unchanged); only the
computation graph differs. keras-hub runs every projection as a rank-3 `einsum` /
`tensordot` followed by a broadcast add, then the activation as separate ops. On a CPU
with oneDNN (TensorFlow's default on x86) that leaves the bias add and GELU as separate
passes over memory and, in bfloat16, as slow element-wise kernels. Here the hidden states
are kept as a [tokens, hidden] matrix and every projection is a 2-D `MatMul` followed by
`BiasAdd` (and the activation), the pattern TensorFlow's graph optimizer fuses into a
single oneDNN matmul with bias and GELU post-ops; the query, key and value projections are
one matmul against the concatenated kernels. Attention is two batched matmuls with the
padding mask applied as in `keras.layers.MultiHeadAttention`.

The function computed is the same as keras-hub's (post- or pre-LayerNorm, dropout on
attention probabilities and sublayer outputs in training). One difference at positions
whose whole attention row is masked (a sequence made only of padding): keras zeroes those
probabilities, this layer leaves them uniform; such rows carry no real token. When a
sublayer is quantized (`model.quantize(...)`), when attention scores are requested, or
when the layer is used under a non-TensorFlow backend, it falls back to keras-hub's own
forward pass.

Args: those of `keras_hub.layers.TransformerEncoder` (`intermediate_dim`, `num_heads`,
`dropout`, `activation`, `layer_norm_epsilon`, `kernel_initializer`, `bias_initializer`,
`normalize_first`, plus base layer kwargs).

Example:
>>> import numpy as np
>>> block = FastTransformerEncoder(intermediate_dim=64, num_heads=2)
>>> y = block(np.zeros((1, 5, 16), "float32"), padding_mask=np.ones((1, 5), "bool"))
>>> tuple(y.shape)
(1, 5, 16)
"""

import keras
import tensorflow as tf
from keras_hub.layers import TransformerEncoder

_LARGE_NEGATIVE = -1e9  # what keras.layers.Softmax puts at masked positions (non-float16)


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FastTransformerEncoder(TransformerEncoder):
    """keras-hub's `TransformerEncoder`, same weights, with a fused-matmul forward pass.

    See the module docstring for what changes and what does not.
    """

    def _use_fallback(self, inputs, padding_mask, return_attention_scores):
        if return_attention_scores or keras.config.backend() != "tensorflow":
            return True
        if padding_mask is None and getattr(inputs, "_keras_mask", None) is not None:
            return True  # keras-hub reads the implicit Keras mask
        sublayers = (
            self._self_attention_layer._query_dense,
            self._self_attention_layer._key_dense,
            self._self_attention_layer._value_dense,
            self._self_attention_layer._output_dense,
            self._feedforward_intermediate_dense,
            self._feedforward_output_dense,
        )
        return any(getattr(layer, "quantization_mode", None) for layer in sublayers)

    def _kernel(self, layer, rows):
        return tf.reshape(tf.cast(layer.kernel, self.compute_dtype), [rows, -1])

    def _bias(self, layer):
        return tf.reshape(tf.cast(layer.bias, self.compute_dtype), [-1])

    def _dense(self, x, layer, rows):
        return tf.nn.bias_add(tf.matmul(x, self._kernel(layer, rows)), self._bias(layer))

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None,
             return_attention_scores=False):
        if self._use_fallback(inputs, padding_mask, return_attention_scores):
            return super().call(inputs, padding_mask=padding_mask, attention_mask=attention_mask,
                                training=training, return_attention_scores=return_attention_scores)
        attention = self._self_attention_layer
        num_heads = self.num_heads
        shape = tf.shape(inputs)
        batch, length = shape[0], shape[1]
        hidden = inputs.shape[-1]
        head_dim = hidden // num_heads
        x = tf.reshape(tf.cast(inputs, self.compute_dtype), [-1, hidden])  # [tokens, hidden]

        # --- self-attention -----------------------------------------------------------
        residual = x
        if self.normalize_first:
            x = self._self_attention_layer_norm(x)
        # The 1/sqrt(head_dim) scaling of the queries is folded into their kernel and bias
        # (a pass over [hidden, hidden] weights instead of over every query).
        scale = tf.cast(1.0 / float(head_dim) ** 0.5, self.compute_dtype)
        qkv_kernel = tf.concat([self._kernel(attention._query_dense, hidden) * scale,
                                self._kernel(attention._key_dense, hidden),
                                self._kernel(attention._value_dense, hidden)], axis=1)
        qkv_bias = tf.concat([self._bias(attention._query_dense) * scale, self._bias(attention._key_dense),
                              self._bias(attention._value_dense)], axis=0)
        qkv = tf.nn.bias_add(tf.matmul(x, qkv_kernel), qkv_bias)
        qkv = tf.transpose(tf.reshape(qkv, [batch, length, 3, num_heads, head_dim]), [2, 0, 3, 1, 4])
        # unstack, not qkv[i]: the gradient of three slices is three zero-filled full-size
        # tensors summed (StridedSliceGrad + AddN, ~10% of a bf16 training step); unstack's is
        # one stack.
        query, key, value = tf.unstack(qkv, num=3, axis=0)  # [batch, heads, length, head_dim]
        scores = tf.matmul(query, key, transpose_b=True)  # [batch, heads, length, length]
        mask = self._attention_mask(padding_mask, attention_mask)
        if mask is not None:
            scores = tf.where(mask, scores, tf.cast(_LARGE_NEGATIVE, scores.dtype))
        probs = tf.nn.softmax(scores, axis=-1)
        if attention._dropout > 0.0:
            probs = attention._dropout_layer(probs, training=training)
        context = tf.matmul(probs, value)  # [batch, heads, length, head_dim]
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, hidden])
        x = self._dense(context, attention._output_dense, hidden)
        x = self._self_attention_dropout(x, training=training)
        x = x + residual
        if not self.normalize_first:
            x = self._self_attention_layer_norm(x)

        # --- feed-forward -------------------------------------------------------------
        residual = x
        if self.normalize_first:
            x = self._feedforward_layer_norm(x)
        intermediate = self._feedforward_intermediate_dense
        x = self._dense(x, intermediate, hidden)
        if intermediate.activation is not None:
            x = intermediate.activation(x)
        x = self._dense(x, self._feedforward_output_dense, self.intermediate_dim)
        x = self._feedforward_dropout(x, training=training)
        x = x + residual
        if not self.normalize_first:
            x = self._feedforward_layer_norm(x)
        return tf.reshape(x, [batch, length, hidden])

    @staticmethod
    def _attention_mask(padding_mask, attention_mask):
        """[batch, 1, 1 or length, length] bool mask (True = attend), or None."""
        mask = None
        if padding_mask is not None:
            mask = tf.cast(padding_mask, tf.bool)[:, tf.newaxis, tf.newaxis, :]
        if attention_mask is not None:
            extra = tf.cast(attention_mask, tf.bool)[:, tf.newaxis, :, :]
            mask = extra if mask is None else tf.logical_and(mask, extra)
        return mask

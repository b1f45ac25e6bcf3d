"""BertLayerNorm: Keras's LayerNormalization, run as one oneDNN kernel in bfloat16 on CPU.

BERT normalizes every token's hidden vector (epsilon 1e-12) after the embeddings and
after each sublayer: 25 LayerNorms in BERT-Base. Keras computes a LayerNorm of bfloat16
inputs in float32 as about ten separate element-wise TensorFlow ops with casts around
them; in a bfloat16 forward pass of BERT-Base on a 2-core AMX CPU they took ~85 ms of
~400 (`benchmarks/profile_step.py`), more than the attention.

TensorFlow's graph optimizer has a oneDNN layer-norm kernel (`_MklLayerNorm`: bfloat16
in and out, float32 statistics) that it substitutes for one op pattern only: the
`FusedBatchNormV3` formulation tf-keras 2 used (the tokens as the channels of a
`[1, tokens, hidden, 1]` NCHW tensor, unit scale and zero offset made by `Fill`, then
`* gamma + beta`). `BertLayerNorm` writes exactly that pattern when the compute dtype is
bfloat16 on CPU, inside a function kept out of the caller's graph (`_noinline`) whose
token axis is unknown: with a static one the optimizer folds the `Fill`s into constants
and the substitution no longer matches (the unfused `FusedBatchNormV3` is slower than
Keras's ops). In training the optimizer keeps that pattern unfused (oneDNN's generic batch
norm, ~1.5 ms a [1024, 768] call, forward or backward), so training at a static shape on
CPU (`xla_on_cpu`) runs `layer_norm_for_training` instead: the forward and the backward
pass each one XLA-compiled function in float32 (2.4 vs 4.4 ms forward + backward at
[1024, 768] on a 2-core AMX CPU; through the layer, errors against float64 at that shape:
output 0.029 vs 0.054, input gradient 0.0099 vs 0.0119, gamma gradient 0.24 vs 0.35,
gamma and beta taken in bfloat16 as before). At an unknown token axis (bucketed
fine-tuning) training keeps the `FusedBatchNormV3` pattern. Other dtypes, devices and
axes run Keras's `LayerNormalization` unchanged. The weights (`gamma`, `beta`) and the config are
LayerNormalization's, so checkpoints and `.keras` files do not change.

Args: those of `keras.layers.LayerNormalization` (BERT: `epsilon=1e-12`).

Example:
>>> import numpy as np
>>> norm = BertLayerNorm(epsilon=1e-12, dtype="mixed_bfloat16")
>>> y = norm(np.arange(12, dtype="float32").reshape(3, 4))
>>> y.dtype.name, [round(float(v), 2) for v in y[0]]
('bfloat16', [-1.34, -0.45, 0.45, 1.34])
"""

import functools

import keras
import tensorflow as tf

from keras_bert_pkg.layers.xla_on_cpu import compiles_on_cpu, cpu_only


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertLayerNorm(keras.layers.LayerNormalization):
    """LayerNormalization with a fused oneDNN forward pass in bfloat16 on CPU (module doc)."""

    def call(self, inputs, training=None):
        if not self._fusable(inputs):
            return super().call(inputs)
        hidden = int(inputs.shape[-1])
        x = tf.reshape(tf.cast(inputs, tf.bfloat16), [-1, hidden])
        gamma = tf.cast(self.gamma, tf.bfloat16)
        beta = tf.cast(self.beta, tf.bfloat16)
        if training and compiles_on_cpu(x):
            y = layer_norm_for_training(x, gamma, beta, float(self.epsilon))
        else:
            y = _fused_layer_norm(hidden, float(self.epsilon))(x, gamma, beta)
        return tf.reshape(y, tf.shape(inputs))

    def _fusable(self, inputs):
        axes = [a % len(inputs.shape) for a in self.axis]
        return (self.compute_dtype == "bfloat16" and self.scale and self.center
                and axes == [len(inputs.shape) - 1] and inputs.shape[-1] is not None
                and cpu_only())  # the fused pattern is a oneDNN CPU rewrite


@functools.lru_cache(maxsize=None)
def _fused_layer_norm(hidden, epsilon):
    """The `[tokens, hidden]` bfloat16 LayerNorm as a non-inlined function whose token axis
    is unknown (one per hidden size and epsilon)."""

    def layer_norm(x, gamma, beta):
        tokens = tf.shape(x)[:1]
        normalized, *_ = tf.raw_ops.FusedBatchNormV3(
            x=tf.reshape(x, tf.concat([[1], tokens, [hidden, 1]], 0)),
            scale=tf.fill(tokens, 1.0), offset=tf.fill(tokens, 0.0),
            mean=tf.constant([], tf.float32), variance=tf.constant([], tf.float32),
            epsilon=epsilon, data_format="NCHW", is_training=True)
        return tf.reshape(normalized, tf.shape(x)) * gamma + beta

    return tf.function(layer_norm, input_signature=[
        tf.TensorSpec([None, hidden], tf.bfloat16), tf.TensorSpec([hidden], tf.bfloat16),
        tf.TensorSpec([hidden], tf.bfloat16)], experimental_attributes={"_noinline": True})


def layer_norm_for_training(x, gamma, beta, epsilon):
    """LayerNorm of each row of `x` ([tokens, hidden]), computed in float32 with a
    hand-written gradient: the forward and the backward pass are each one XLA-compiled
    function (the statistics and the normalized values fused into a pass or two over
    the tensor); the result and the gradients have the inputs' dtypes.

    Raises:
        ValueError: when `x` is not a matrix.

    Example:
    >>> x = tf.constant([[1.0, 2.0, 3.0]])
    >>> with tf.GradientTape() as tape:
    ...     gamma = tf.ones([3])
    ...     tape.watch(gamma)
    ...     y = layer_norm_for_training(x, gamma, tf.zeros([3]), 1e-12)
    >>> [round(float(v), 3) for v in y[0]], [round(float(v), 3) for v in tape.gradient(y, gamma)]
    ([-1.225, 0.0, 1.225], [-1.225, 0.0, 1.225])
    """
    if x.shape.rank != 2:
        raise ValueError(f"layer_norm_for_training takes [tokens, hidden], got a tensor of shape {x.shape}")

    @tf.custom_gradient
    def layer_norm(inputs, scale, offset):
        y, mean, inverse_std = _layer_norm_forward(inputs, scale, offset, epsilon)

        def gradient(dy):
            dx, dscale, doffset = _layer_norm_backward(inputs, scale, mean, inverse_std, dy)
            return dx, tf.cast(dscale, scale.dtype), tf.cast(doffset, offset.dtype)

        return y, gradient

    return layer_norm(x, gamma, beta)


@tf.function(jit_compile=True)
def _layer_norm_forward(x, gamma, beta, epsilon):
    """`(y, mean, 1 / std)`: y in `x`'s dtype, the per-token statistics in float32."""
    xf = tf.cast(x, tf.float32)
    mean = tf.reduce_mean(xf, axis=-1, keepdims=True)
    inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(xf - mean), axis=-1, keepdims=True) + epsilon)
    y = (xf - mean) * inverse_std * tf.cast(gamma, tf.float32) + tf.cast(beta, tf.float32)
    return tf.cast(y, x.dtype), mean, inverse_std


@tf.function(jit_compile=True)
def _layer_norm_backward(x, gamma, mean, inverse_std, dy):
    """The gradients for `x` (in its dtype), gamma and beta (float32)."""
    dyf = tf.cast(dy, tf.float32)
    normalized = (tf.cast(x, tf.float32) - mean) * inverse_std
    dnormalized = dyf * tf.cast(gamma, tf.float32)
    dx = inverse_std * (dnormalized - tf.reduce_mean(dnormalized, axis=-1, keepdims=True)
                        - normalized * tf.reduce_mean(dnormalized * normalized, axis=-1, keepdims=True))
    return tf.cast(dx, x.dtype), tf.reduce_sum(dyf * normalized, axis=0), tf.reduce_sum(dyf, axis=0)

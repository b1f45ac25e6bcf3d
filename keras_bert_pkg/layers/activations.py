"""GELU in the two forms BERT checkpoints use.

Google's original BERT code computes GELU with the tanh approximation; Hugging Face's
`"gelu"` is the exact erf form (its `"gelu_new"` is the tanh one). A checkpoint must be
run with the form it was trained with, so the backbone records the name.
"""

import math

import keras
import tensorflow as tf

from keras_bert_pkg.layers.xla_on_cpu import compiles_on_cpu


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
def gelu_approximate(x):
    """GELU, tanh approximation: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).

    Example:
    >>> import numpy as np
    >>> float(gelu_approximate(np.float32(1.0)))  # doctest: +ELLIPSIS
    0.841...
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
def gelu_exact(x):
    """GELU, exact form: x * Phi(x) with the Gaussian CDF computed through erf."""
    return keras.activations.gelu(x, approximate=False)


def gelu_for_training(x, approximate):
    """GELU (either form) with a hand-written gradient, both computed in float32.

    The same function as `gelu_approximate` / `gelu_exact`, for training graphs: there
    the matmul + GELU fusion cannot apply (the gradient needs the pre-activation), and
    the automatic gradient of GELU in bfloat16 is a dozen element-wise TensorFlow ops,
    each a slow bfloat16 pass (measured on a [1024, 3072] bfloat16 tensor, forward +
    backward: 23.7 ms; the hand-written float32 gradient: 13.0 ms). The forward result is
    rounded to `x`'s dtype; the gradient `dy * GELU'(x)` is computed from `x` in float32.
    On CPU at a static shape (`xla_on_cpu`) the forward and the backward are each one
    XLA-compiled function, keeping only `x` for the backward (which recomputes the rest)
    instead of two float32 intermediates: level with the TensorFlow ops on idle cores
    (5.5 vs 5.4 ms), 8.8 vs 25 ms when the cores are shared, and a step's activations
    smaller. XLA's `tanh`, `exp` and `erfc` differ from TensorFlow's in the last float32
    bits, so results may differ by a rounding step of `x`'s dtype.

    Example:
    >>> x = tf.constant([-1.0, 0.5, 2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = gelu_for_training(x, approximate=False)
    >>> [round(float(g), 4) for g in tape.gradient(y, x)]
    [-0.0833, 0.8675, 1.0852]
    """
    parts = _tanh_parts if approximate else _erf_parts

    @tf.custom_gradient
    def gelu(inputs):
        if compiles_on_cpu(inputs):
            return _COMPILED_FORWARD[parts](inputs), lambda dy: _COMPILED_BACKWARD[parts](inputs, dy)
        xf = tf.cast(inputs, tf.float32)
        y, slope = parts(xf)
        return tf.cast(y, inputs.dtype), lambda dy: _times_slope(inputs, dy, slope)

    return gelu(x)


def _tanh_parts(xf):
    """`(GELU(x), GELU'(x))`, tanh form, from float32 `x`."""
    t = tf.tanh(_SQRT_2_OVER_PI * (xf + 0.044715 * xf * xf * xf))
    slope = 0.5 * (1.0 + t) + 0.5 * xf * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * xf * xf)
    return 0.5 * xf * (1.0 + t), slope


def _erf_parts(xf):
    """`(GELU(x), GELU'(x))`, erf form, from float32 `x`."""
    cdf = 0.5 * tf.math.erfc(xf * -_SQRT_HALF)
    return xf * cdf, cdf + xf * tf.exp(-0.5 * xf * xf) * _INV_SQRT_2PI


def _times_slope(x, dy, slope):
    return tf.cast(tf.cast(dy, tf.float32) * slope, x.dtype)


def _compiled_forward(parts):
    return tf.function(lambda x: tf.cast(parts(tf.cast(x, tf.float32))[0], x.dtype), jit_compile=True)


def _compiled_backward(parts):
    return tf.function(lambda x, dy: _times_slope(x, dy, parts(tf.cast(x, tf.float32))[1]), jit_compile=True)


# XLA drops the unused half of `parts` in each.
_COMPILED_FORWARD = {parts: _compiled_forward(parts) for parts in (_tanh_parts, _erf_parts)}
_COMPILED_BACKWARD = {parts: _compiled_backward(parts) for parts in (_tanh_parts, _erf_parts)}


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_ACTIVATIONS = {
    "gelu_approximate": gelu_approximate,
    "gelu_new": gelu_approximate,
    "gelu_tanh": gelu_approximate,
    "gelu": gelu_exact,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
}


def get_activation(name):
    """Returns the activation function for a name used in BERT configs.

    Args:
        name: `"gelu_approximate"` (tanh form; also `"gelu_new"`, `"gelu_tanh"`),
            `"gelu"` / `"gelu_exact"` (erf form) or `"relu"`.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown hidden_activation {name!r}; expected one of {sorted(_ACTIVATIONS)}."
        )
    return _ACTIVATIONS[name]

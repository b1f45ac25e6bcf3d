"""int8_matmul: `x @ kernel + bias` for a Keras int8-quantized kernel, on the CPU's int8 units.

Keras's int8 `Dense` (after `model.quantize("int8")`) multiplies int8 by int8 with
`tf.matmul`, which TensorFlow runs on a generic integer GEMM: slower than float32. This
function runs the same product through TensorFlow's oneDNN kernel for unsigned 8-bit
activations times signed 8-bit weights (`keras_workarounds.quantized_matmul`: int32 sums,
scaled back to float by the activations' step and each column's weight scale, and the
bias added, inside the kernel; AVX512-VNNI or AMX-INT8 where the CPU has them, AVX2
otherwise). In a process that assumes frozen weights (`frozen_weights`), the kernel
converts the int8 weights to its blocked layout once instead of on every call, and a
bfloat16 result comes out of the kernel as bfloat16 (elsewhere as float32, then cast).

The activations are quantized on the fly, asymmetrically over the whole tensor (as
PyTorch's dynamic quantization does): `x ~ x_min + step * q`, `q` in 0..255 over the
tensor's range (its minimum and maximum, widened to hold 0; one `QuantizeV2`). The
weights keep Keras's per-column scales (`kernel_float = kernel / kernel_scale`). The
product is then corrected exactly:

    x @ W + b = step * q @ W + (b + x_min * colsum(W)),    W = kernel / kernel_scale

so the kernel computes `step * q @ W` and adds the shifted bias. The integer product is
exact; the only rounding is the activations' 8 bits. Gradients flow to `x` and `bias`
through the dequantized kernel (as in Keras's own int8 layer).

`int8_matmul_available()` says whether this TensorFlow has the kernel on this machine
(TensorFlow's x86 builds do); without it, and on GPUs, callers keep Keras's own call.

Args of `int8_matmul`:
    x: `[rows, in]` float tensor (any float dtype; the result has the same).
    kernel: `[in, out]` int8 tensor (a quantized Keras `Dense`'s `kernel`).
    kernel_scale: `[out]` (or `[1, out]`) float scales: `kernel_float = kernel / kernel_scale`.
    bias: `[out]` or None.
    activation: None, `"gelu_exact"` or `"gelu_approximate"` (BERT's tanh form), applied
        inside the kernel.

Example:
>>> import numpy as np
>>> x = np.array([[0.5, -1.0, 2.0]], "float32")
>>> w = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 0.25]], "float32")
>>> scale = 127 / np.abs(w).max(axis=0)
>>> kernel = np.round(w * scale).astype("int8")
>>> y = int8_matmul(x, kernel, scale) if int8_matmul_available() else x @ w
>>> np.round(np.asarray(y), 1).tolist()
[[0.0, 1.5]]
"""

import functools

import tensorflow as tf

from keras_bert_pkg.frozen_weights import frozen_weights_assumed
from keras_bert_pkg.keras_workarounds import quantized_matmul
from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact

_WEIGHT_LEVELS = 127.0  # int8 steps of a column's scale


@functools.lru_cache(maxsize=None)
def int8_matmul_available():
    """True when TensorFlow's oneDNN int8 matmul kernel (`_QuantizedMatMul`) runs here (CPU)."""
    if tf.config.list_logical_devices("GPU"):
        return False  # the kernel is CPU-only: a GPU model would copy every projection
    try:
        # init_scope: run the probe eagerly even when first asked while a graph is traced
        with tf.init_scope(), tf.device("/CPU:0"):
            int8_matmul(tf.ones((1, 4)), tf.ones((4, 2), tf.int8), tf.ones((2,))).numpy()
        return True
    except (tf.errors.NotFoundError, tf.errors.UnimplementedError, tf.errors.InvalidArgumentError,
            ValueError):  # ValueError: the op is not registered in this TensorFlow
        return False


def _product(x, kernel, scale, bias, activation, weights_constant):
    """The forward product (module doc), in a graph."""
    x32 = tf.cast(x, tf.float32)
    # the range holds 0 (so an empty or constant input has one, as QuantizeV2 needs)
    low = tf.minimum(tf.reduce_min(x32), 0.0)
    high = tf.maximum(tf.reduce_max(x32), low + 1e-6)
    # the raw op: tf.quantization.quantize logs a deprecation warning on every trace
    quantized = tf.raw_ops.QuantizeV2(input=x32, min_range=low, max_range=high, T=tf.quint8,
                                      mode="MIN_FIRST")
    column_sums = tf.reduce_sum(tf.cast(kernel, tf.float32), axis=0) / scale
    shifted_bias = bias + quantized.output_min * column_sums
    # bfloat16 out of the kernel only with constant weights: with weights in TensorFlow's
    # layout oneDNN 3.7 has no u8 x s8 -> bf16 kernel but its reference one (~100x slower)
    output_dtype = x.dtype if x.dtype == tf.bfloat16 and weights_constant else tf.float32
    y = quantized_matmul(quantized.output, quantized.output_max - quantized.output_min,
                         tf.bitcast(kernel, tf.qint8), _WEIGHT_LEVELS / scale, shifted_bias,
                         output_dtype, activation=activation, weights_constant=weights_constant)
    return tf.cast(y, x.dtype)


# Eager calls trace one graph for every projection: its kernels must not keep weights.
_eager_product = tf.function(functools.partial(_product, weights_constant=False),
                             reduce_retracing=True)
_ACTIVATIONS = {"gelu_exact": gelu_exact, "gelu_approximate": gelu_approximate}


def int8_matmul(x, kernel, kernel_scale, bias=None, activation=None):
    """`activation(x @ (kernel / kernel_scale) + bias)` through the int8 kernel (module doc)."""
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, tf.int8)
    scale = tf.reshape(tf.cast(kernel_scale, tf.float32), [-1])  # [out]
    bias = tf.zeros_like(scale) if bias is None else tf.cast(bias, tf.float32)

    @tf.custom_gradient
    def product(x, bias):
        if tf.executing_eagerly():
            # stop_gradient: the tape would otherwise ask the traced function for its own gradient
            y = _eager_product(tf.stop_gradient(x), kernel, scale, tf.stop_gradient(bias), activation)
        else:
            y = _product(x, kernel, scale, bias, activation, weights_constant=frozen_weights_assumed())

        def gradient(upstream):
            # the float product's gradient, through the dequantized kernel
            dequantized = tf.cast(kernel, tf.float32) / scale
            upstream = tf.cast(upstream, tf.float32)
            if activation is not None:  # back through the activation, at the float product
                with tf.GradientTape() as tape:
                    z = tf.matmul(tf.cast(x, tf.float32), dequantized) + bias
                    tape.watch(z)
                    y = _ACTIVATIONS[activation](z)
                upstream = tape.gradient(y, z, output_gradients=upstream)
            return (tf.cast(tf.matmul(upstream, dequantized, transpose_b=True), x.dtype),
                    tf.reduce_sum(upstream, axis=0))

        return y, gradient

    return product(x, bias)

"""int8_matmul: `x @ kernel + bias` for a Keras int8-quantized kernel, on the CPU's int8 units.

Keras's int8 `Dense` (after `model.quantize("int8")`) multiplies int8 by int8 with
`tf.matmul`, which TensorFlow runs on a generic integer GEMM: slower than float32. This
function runs the same product through TensorFlow's oneDNN kernel for unsigned 8-bit
activations times signed 8-bit weights (`QuantizedMatMulWithBiasAndDequantize`: int32
sums, scaled back to float and the bias added inside the kernel; AVX512-VNNI or AMX-INT8
where the CPU has them, AVX2 otherwise).

The activations are quantized on the fly, asymmetrically over the whole tensor (as
PyTorch's dynamic quantization does): `x ~ x_min + step * q`, `q` in 0..255 over the
tensor's range (its minimum and maximum, widened to hold 0; one `QuantizeV2`). The
weights keep Keras's per-column scales (`kernel_float = kernel / kernel_scale`). The
product is then corrected exactly:

    x @ W + b = (step * (q @ kernel) + b * kernel_scale + x_min * colsum(kernel)) / kernel_scale

so the kernel computes `step * (q @ kernel) + bias'` and one multiply applies the
per-column scales. The integer product is exact; the only rounding is the
activations' 8 bits. Gradients flow to `x` and `bias` through the dequantized kernel
(as in Keras's own int8 layer).

`int8_matmul_available()` says whether this TensorFlow has the kernel on this machine
(TensorFlow's x86 builds do); without it, and on GPUs, callers keep Keras's own call.

Args of `int8_matmul`:
    x: `[rows, in]` float tensor (any float dtype; the result has the same).
    kernel: `[in, out]` int8 tensor (a quantized Keras `Dense`'s `kernel`).
    kernel_scale: `[out]` (or `[1, out]`) float scales: `kernel_float = kernel / kernel_scale`.
    bias: `[out]` or None.

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

_LEVELS = 255.0  # uint8 steps over the activations' range


@functools.lru_cache(maxsize=None)
def int8_matmul_available():
    """True when TensorFlow's oneDNN `QuantizedMatMulWithBiasAndDequantize` kernel runs
    here (CPU)."""
    if tf.config.list_logical_devices("GPU"):
        return False  # the kernel is CPU-only: a GPU model would copy every projection
    try:
        # init_scope: run the probe eagerly even when first asked while a graph is traced
        with tf.init_scope(), tf.device("/CPU:0"):
            int8_matmul(tf.ones((1, 4)), tf.ones((4, 2), tf.int8), tf.ones((2,))).numpy()
        return True
    except (tf.errors.NotFoundError, tf.errors.UnimplementedError, tf.errors.InvalidArgumentError):
        return False


def _kernel_product(q, kernel, step, bias):
    """`step * (q @ kernel) + bias` in float32, for `q` quint8 `[rows, in]`, `kernel` int8."""
    return tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
        a=q, b=tf.bitcast(kernel, tf.qint8), bias=bias,
        # a's range is 0..255 * step and b's is -127..127: unit weight scale
        min_a=tf.zeros_like(step), max_a=step * _LEVELS, min_b=-127.0, max_b=127.0,
        min_freezed_output=0.0, max_freezed_output=0.0,  # unused with a float output
        Toutput=tf.float32, input_quant_mode="SCALED")


def int8_matmul(x, kernel, kernel_scale, bias=None):
    """`x @ (kernel / kernel_scale) + bias` through the int8 kernel (see the module doc)."""
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel, tf.int8)
    scale = tf.reshape(tf.cast(kernel_scale, tf.float32), [-1])  # [out]
    bias = tf.zeros_like(scale) if bias is None else tf.cast(bias, tf.float32)

    @tf.custom_gradient
    def product(x, bias):
        x32 = tf.cast(x, tf.float32)
        # the range holds 0 (so an empty or constant input has one, as QuantizeV2 needs)
        low = tf.minimum(tf.reduce_min(x32), 0.0)
        high = tf.maximum(tf.reduce_max(x32), low + 1e-6)
        # the raw op: tf.quantization.quantize logs a deprecation warning on every trace
        quantized = tf.raw_ops.QuantizeV2(input=x32, min_range=low, max_range=high, T=tf.quint8,
                                          mode="MIN_FIRST")
        step = (quantized.output_max - quantized.output_min) / _LEVELS
        integer_column_sums = tf.reduce_sum(tf.cast(kernel, tf.float32), axis=0)
        shifted_bias = bias * scale + quantized.output_min * integer_column_sums
        y = _kernel_product(quantized.output, kernel, step, shifted_bias) / scale

        def gradient(upstream):
            dequantized = tf.cast(kernel, tf.float32) / scale
            upstream = tf.cast(upstream, tf.float32)
            return (tf.cast(tf.matmul(upstream, dequantized, transpose_b=True), x.dtype),
                    tf.reduce_sum(upstream, axis=0))

        return tf.cast(y, x.dtype), gradient

    return product(x, bias)

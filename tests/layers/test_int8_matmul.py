"""int8_matmul: the integer product is exact, the result is within the activations'
8-bit rounding of the float product, and gradients reach the input and the bias."""

import os
import subprocess
import sys
import unittest

import numpy as np
import tensorflow as tf

from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact
from keras_bert_pkg.layers.int8_matmul import int8_matmul, int8_matmul_available
from tests.test_case import PROJECT_ROOT, TestCase

_KERNELS_SCRIPT = """
import numpy as np, tensorflow as tf
from keras_bert_pkg.layers.int8_matmul import int8_matmul
kernel = np.ones((64, 32), "int8")
f = tf.function(lambda x: int8_matmul(x, kernel, np.ones(32, "float32"), activation="gelu_exact"))
for rows in (48, 80):
    f(tf.cast(tf.random.normal((rows, 64)), tf.bfloat16)).numpy()
"""


def _quantized_kernel(w):
    """Keras's int8 `Dense` form: int8 kernel and per-column scale (kernel = w * scale)."""
    scale = 127.0 / np.abs(w).max(axis=0)
    return np.round(w * scale).astype("int8"), scale.astype("float32")


@unittest.skipUnless(int8_matmul_available(), "no oneDNN int8 matmul kernel in this TensorFlow")
class Int8MatmulTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.x = (rng.standard_normal((40, 96)) + 0.3).astype("float32")
        self.w = (rng.standard_normal((96, 48)) * 0.05).astype("float32")
        self.kernel, self.scale = _quantized_kernel(self.w)
        self.dequantized = self.kernel / self.scale

    def test_matches_the_dequantized_product_within_8_bit_activations(self):
        bias = np.linspace(-1, 1, 48).astype("float32")
        got = int8_matmul(self.x, self.kernel, self.scale, bias).numpy()
        exact = self.x @ self.dequantized + bias
        # each activation is off by at most half a step (the tensor's range / 255)
        step = (self.x.max() - self.x.min()) / 255
        bound = 0.5 * step * np.abs(self.dequantized).sum(0)[None, :]
        self.assertTrue((np.abs(got - exact) <= bound + 1e-5).all())
        self.assertLess(np.abs(got - exact).max(), 0.02 * np.abs(exact).max())

    def test_values_on_the_grid_are_exact(self):
        # values min + k * step (step = range / 255) come out exactly: only the
        # activations' rounding differs from the float product
        levels = np.arange(192) * 37 % 256
        levels[:2] = 0, 255
        x = (levels.reshape(2, 96) / 64.0 - 2.0).astype("float32")
        got = int8_matmul(x, self.kernel, self.scale).numpy()
        np.testing.assert_allclose(got, x @ self.dequantized, rtol=1e-5, atol=1e-5)

    def test_bfloat16_in_bfloat16_out_and_in_a_graph(self):
        x16 = tf.cast(self.x, tf.bfloat16)
        got = tf.function(lambda x: int8_matmul(x, self.kernel, self.scale[None, :]))(x16)
        self.assertEqual(got.dtype, tf.bfloat16)
        np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(),
                                   tf.cast(x16, tf.float32).numpy() @ self.dequantized, atol=0.05)

    def test_empty_and_constant_inputs(self):
        self.assertEqual(int8_matmul(np.zeros((0, 96), "float32"), self.kernel, self.scale).shape, (0, 48))
        for value in (0.0, 2.5, -1.0):
            x = np.full((3, 96), value, "float32")
            np.testing.assert_allclose(int8_matmul(x, self.kernel, self.scale).numpy(),
                                       x @ self.dequantized, rtol=1e-5, atol=1e-5)

    def test_availability_is_probed_eagerly_even_from_inside_a_trace(self):
        int8_matmul_available.cache_clear()
        graph = tf.function(lambda: tf.constant(int8_matmul_available())).get_concrete_function().graph
        self.assertNotIn("_QuantizedMatMul", [op.type for op in graph.get_operations()])
        self.assertTrue(int8_matmul_available())

    def test_gradient_is_through_the_dequantized_kernel(self):
        x, bias = tf.constant(self.x), tf.Variable(tf.zeros(48))
        upstream = np.random.default_rng(1).standard_normal((40, 48)).astype("float32")
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(int8_matmul(x, self.kernel, self.scale, bias) * upstream)
        dx, dbias = tape.gradient(loss, [x, bias])
        np.testing.assert_allclose(dx.numpy(), upstream @ self.dequantized.T, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(dbias.numpy(), upstream.sum(0), rtol=1e-5, atol=1e-5)

    def test_gelu_in_the_kernel(self):
        bias = np.linspace(-1, 1, 48).astype("float32")
        for name, gelu in (("gelu_exact", gelu_exact), ("gelu_approximate", gelu_approximate)):
            plain = int8_matmul(self.x, self.kernel, self.scale, bias).numpy()
            fused = tf.function(lambda x, name=name: int8_matmul(x, self.kernel, self.scale, bias, name))
            np.testing.assert_allclose(fused(self.x).numpy(), gelu(plain).numpy(), rtol=1e-4, atol=1e-4)
            graph = fused.get_concrete_function(tf.TensorSpec(self.x.shape, tf.float32)).graph
            self.assertEqual([op.type for op in graph.get_operations() if "Gelu" in op.type or "Erf" in op.type
                              or "Tanh" in op.type], [])  # no GELU outside the kernel
        with self.assertRaisesRegex(ValueError, "activation must be one of"):
            tf.function(lambda x: int8_matmul(x, self.kernel, self.scale, bias, "relu"))(self.x)

    def test_gradient_through_the_fused_gelu(self):
        x = tf.constant(self.x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(int8_matmul(x, self.kernel, self.scale, activation="gelu_exact") ** 2)
        with tf.GradientTape() as float_tape:
            float_tape.watch(x)
            float_loss = tf.reduce_sum(gelu_exact(tf.matmul(x, self.dequantized)) ** 2)
        np.testing.assert_allclose(tape.gradient(loss, x).numpy(), float_tape.gradient(float_loss, x).numpy(),
                                   rtol=0.05, atol=0.02)

    def test_no_reference_kernel_in_either_weights_mode(self):
        # oneDNN falls back to its reference (~100x slower) kernel for some type/layout pairs
        # (bfloat16 out with weights in TensorFlow's layout): its verbose log names the kernel.
        for frozen in ("0", "1"):
            env = dict(os.environ, ONEDNN_VERBOSE="1", TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=frozen,
                       PYTHONPATH=str(PROJECT_ROOT))
            result = subprocess.run([sys.executable, "-c", _KERNELS_SCRIPT], env=env, capture_output=True,
                                    text=True, timeout=300, cwd=PROJECT_ROOT)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            products = [line.split(",") for line in result.stdout.splitlines()
                        if line.startswith("onednn_verbose") and ",exec,cpu,inner_product," in line]
            self.assertTrue(products, "no int8 product in oneDNN's log")
            self.assertEqual([p[6] for p in products if p[6].startswith("ref")], [], f"frozen={frozen}")

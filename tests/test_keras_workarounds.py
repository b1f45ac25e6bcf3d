"""keras_workarounds: the Keras internals they rely on are there, each workaround is still
needed (the bug reproduces without it, in a process of its own), and it fixes the bug.

When Keras changes, these fail first: `test_internals_are_there` when a workaround no
longer fits, `test_each_workaround_is_still_needed_and_works` when Keras fixed the bug
(then delete the workaround and its test).
"""

import json
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg import keras_workarounds
from keras_bert_pkg.keras_workarounds import (TESTED_KERAS, TESTED_TENSORFLOW, bias_add, check_internals,
                                              clip_after_all_reduce)
from keras_bert_pkg.training.optimizers import create_optimizer
from tests.test_case import PROJECT_ROOT, TestCase


def _within(version, tested):
    """Whether `version`'s major.minor lies in the `(lowest, highest)` range `tested`."""
    major_minor = lambda v: tuple(int(part) for part in v.split(".")[:2])  # noqa: E731
    return major_minor(tested[0]) <= major_minor(version) <= major_minor(tested[1])


class KerasInternalsTest(TestCase):
    def test_internals_are_there(self):
        self.assertEqual(check_internals(), {name: True for name in check_internals()})
        self.assertTrue(_within(keras.__version__, TESTED_KERAS),
                        f"Keras {keras.__version__} is outside the verified {TESTED_KERAS}: check every "
                        "workaround against it, then widen TESTED_KERAS")

    def test_install_is_explicit_and_idempotent(self):
        keras_workarounds.install()
        self.assertTrue(keras_workarounds.is_installed())
        keras_workarounds.install()
        self.assertTrue(keras_workarounds.is_installed())

    def test_each_workaround_is_still_needed_and_works(self):
        """Two logical CPUs, in a fresh process (before and after `install`)."""
        run = subprocess.run([sys.executable, str(PROJECT_ROOT / "tests" / "keras_workarounds_job.py")],
                             capture_output=True, text=True, timeout=600, cwd=str(PROJECT_ROOT))
        lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
        self.assertEqual(run.returncode, 0, run.stderr[-3000:])
        result = json.loads(lines[-1][len("RESULT "):])
        self.assertFalse(result["installed_on_import"])  # nothing is patched by importing
        # 1. fit under two replicas fails on a bool input without the patched build.
        self.assertIn("bool", result["symbolic_build_without"])
        self.assertIsNone(result["symbolic_build_with"])
        # 2. MultiWorkerMirroredStrategy cannot average a scalar over axis 0 (tensorflow#72388).
        self.assertIn("reduction dimension", result["scalar_reduce_without"])
        # 3. Keras clips each replica's half (norm 5 -> 1 each, sum 2); wrapped: the sum (1).
        self.assertAlmostEqual(result["clip_one_device"], 1.0, places=5)
        self.assertAlmostEqual(result["clip_two_replicas_without"], 2.0, places=5)
        self.assertAlmostEqual(result["clip_two_replicas_with"], 1.0, places=5)


class ClippingTest(TestCase):
    def test_sparse_gradient_is_clipped_by_its_true_norm(self):
        # Token 0 twice in the batch: the embedding gradient holds row 0 twice. The
        # gradient is [[6, 0], [0, 0]] (norm 6); Keras's own norm would be sqrt(18).
        grad = tf.IndexedSlices(tf.constant([[3.0, 0.0], [3.0, 0.0]]), tf.constant([0, 0]),
                                dense_shape=tf.constant([2, 2]))
        dense = tf.constant([[0.0, 0.0]])
        optimizer = create_optimizer(1e-3, total_steps=10)
        self.assertTrue(optimizer.clips_after_all_reduce)
        clipped = optimizer._clip_gradients([grad, None, dense])
        np.testing.assert_allclose(clipped[0].numpy(), [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)
        self.assertIsNone(clipped[1])
        keras_own = keras.optimizers.AdamW(global_clipnorm=1.0)._clip_gradients([grad])
        self.assertNotAlmostEqual(float(tf.convert_to_tensor(keras_own[0])[0, 0]), 1.0, places=3)

    def test_global_norm_clip_equals_keras_formula(self):
        rng = np.random.default_rng(0)
        grads = [tf.constant(rng.standard_normal(shape).astype("float32")) for shape in [(5, 3), (7,), (2, 2, 2)]]
        ours = create_optimizer(1e-3, total_steps=10, global_clipnorm=0.5)._clip_gradients(grads)
        keras_own = keras.optimizers.AdamW(global_clipnorm=0.5)._clip_gradients(grads)
        for a, b in zip(ours, keras_own):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
        small = [g * 1e-3 for g in grads]  # under the norm: unchanged
        for a, b in zip(create_optimizer(1e-3, total_steps=10)._clip_gradients(small), small):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
        nan = create_optimizer(1e-3, total_steps=10)._clip_gradients([tf.constant([np.inf, 1.0])])
        self.assertTrue(np.isnan(nan[0].numpy()).all())

    def test_no_clipping_is_keras_unchanged(self):
        optimizer = clip_after_all_reduce(keras.optimizers.SGD(0.1))
        grads = [tf.constant([30.0, 40.0])]
        self.assertIs(optimizer._clip_gradients(grads)[0], grads[0])
        self.assertIs(clip_after_all_reduce(optimizer), optimizer)


class BiasAddGradientTest(TestCase):
    """4. TensorFlow's CPU `BiasAddGrad` sums bfloat16 in bfloat16; `bias_add`'s gradient
    sums in float32. Fails when TensorFlow fixed it (then delete `bias_add`)."""

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.dy = tf.cast((rng.standard_normal((1024, 3072)) + 0.3).astype("float32"), tf.bfloat16)
        self.exact = tf.reduce_sum(tf.cast(self.dy, tf.float64), axis=0).numpy()

    def _error(self, bias_gradient):
        return np.abs(tf.cast(bias_gradient, tf.float64).numpy() - self.exact)

    def test_tensorflow_version_is_verified(self):
        self.assertTrue(_within(tf.__version__, TESTED_TENSORFLOW),
                        f"TensorFlow {tf.__version__} is outside the verified {TESTED_TENSORFLOW}: check "
                        "bias_add against it, then widen TESTED_TENSORFLOW")

    def test_tensorflow_bias_add_grad_still_sums_in_bfloat16(self):
        with tf.device("/CPU:0"):
            error = self._error(tf.raw_ops.BiasAddGrad(out_backprop=self.dy))
        # Summed in float32 and rounded once, no column is off by more than half a
        # bfloat16 step (1.0 at these sums, up to ~420); TensorFlow's are off by ~8 on average.
        self.assertGreater(error.mean(), 2.0, "BiasAddGrad now sums bfloat16 accurately: delete "
                           "keras_workarounds.bias_add and use tf.nn.bias_add")

    def test_bias_add_is_tf_bias_add_with_a_float32_sum(self):
        x = tf.cast(tf.random.stateless_normal([1024, 3072], seed=[1, 2]), tf.bfloat16)
        bias = tf.cast(tf.random.stateless_normal([3072], seed=[3, 4]), tf.bfloat16)
        with tf.GradientTape() as tape:
            tape.watch([x, bias])
            y = bias_add(x, bias)
        dx, dbias = tape.gradient(y, [x, bias], output_gradients=self.dy)
        self.assertAllEqual(y, tf.nn.bias_add(x, bias))
        self.assertAllEqual(dx, self.dy)
        self.assertEqual(dbias.dtype, tf.bfloat16)
        self.assertLessEqual(self._error(dbias).max(), 2.0 ** -8 * np.abs(self.exact).max())
        # 3-D inputs sum over every leading axis.
        x3 = tf.reshape(x, [8, 128, 3072])
        with tf.GradientTape() as tape:
            tape.watch(bias)
            y3 = bias_add(x3, bias)
        dbias3 = tape.gradient(y3, bias, output_gradients=tf.reshape(self.dy, [8, 128, 3072]))
        self.assertLessEqual(self._error(dbias3).max(), 2.0 ** -8 * np.abs(self.exact).max())


class QuantizedMatmulTest(TestCase):
    """keras_workarounds.quantized_matmul (module doc, 5.)."""

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.a = rng.integers(0, 256, (64, 32)).astype("uint8")
        self.b = rng.integers(-127, 128, (32, 16)).astype("int8")
        self.b_max = np.linspace(0.5, 2.0, 16).astype("float32")
        self.bias = np.linspace(-1, 1, 16).astype("float32")
        self.exact = (self.a * 0.02) @ (self.b * self.b_max / 127) + self.bias

    def _product(self, weights_constant=False, output_dtype=tf.float32):
        @tf.function
        def product(a, b):
            return keras_workarounds.quantized_matmul(
                tf.bitcast(a, tf.quint8), 255 * 0.02, tf.bitcast(b, tf.qint8), self.b_max, self.bias,
                output_dtype, weights_constant=weights_constant)
        return product

    def test_public_op_still_takes_one_weight_scale(self):
        # In a process of its own: TensorFlow 2.20 aborts the process on a per-column min_b.
        script = (
            "import numpy as np, tensorflow as tf\n"
            "a = np.full((4, 8), 255, 'uint8'); b = np.ones((8, 2), 'int8'); m = np.array([1.0, 2.0], 'float32')\n"
            "y = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(a=tf.bitcast(a, tf.quint8),\n"
            "    b=tf.bitcast(b, tf.qint8), bias=tf.zeros(2), min_a=0.0, max_a=1.0, min_b=-m, max_b=m,\n"
            "    min_freezed_output=0.0, max_freezed_output=0.0, Toutput=tf.float32, input_quant_mode='SCALED')\n"
            "print('per-column', np.allclose(y.numpy(), [[8 / 127, 16 / 127]] * 4))\n")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        self.assertNotIn("per-column True", result.stdout,
                         "TensorFlow's public int8 op now takes per-column scales: check whether it also "
                         "caches its weights and returns bfloat16, and if so use it instead of "
                         "keras_workarounds.quantized_matmul")

    def test_per_column_scales_bias_and_output_dtypes(self):
        for dtype, tolerance in ((tf.float32, 1e-4), (tf.bfloat16, 0.05)):
            got = self._product(output_dtype=dtype)(self.a, self.b)
            self.assertEqual(got.dtype, dtype)
            np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), self.exact, rtol=tolerance,
                                       atol=tolerance)

    def test_constant_weights_are_kept_from_the_first_call(self):
        # why only frozen-weights processes ask for it: a kernel keeps the first weights it saw
        kept, fresh = self._product(weights_constant=True), self._product()
        kept(self.a, self.b)
        other = -self.b
        np.testing.assert_allclose(fresh(self.a, other).numpy(), -self.exact + 2 * self.bias, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(kept(self.a, other).numpy(), self.exact, rtol=1e-4, atol=1e-4)

    def test_graph_only(self):
        with self.assertRaisesRegex(RuntimeError, "inside a tf.function"):
            keras_workarounds.quantized_matmul(tf.bitcast(self.a, tf.quint8), 5.1, tf.bitcast(self.b, tf.qint8),
                                               self.b_max, self.bias, tf.float32)

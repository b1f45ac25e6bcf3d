"""gelu_for_training: the same function as BERT's two GELU forms, with a hand-written
gradient equal to the automatic one (float32 exactly to rounding, bfloat16 within its
8-bit steps), and the encoder block trains with it."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.layers.activations import gelu_approximate, gelu_exact, gelu_for_training
from keras_bert_pkg.layers.xla_on_cpu import cpu_only
from tests.test_case import TestCase


def _value_and_gradient(fn, x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y, tape.gradient(y, x, output_gradients=dy)


class GeluForTrainingTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.x = (rng.standard_normal((64, 96)) * 2.5).astype("float32")
        self.dy = rng.standard_normal((64, 96)).astype("float32")

    def test_float32_equals_the_automatic_gradient(self):
        for reference, approximate in ((gelu_approximate, True), (gelu_exact, False)):
            x, dy = tf.constant(self.x), tf.constant(self.dy)
            y, g = _value_and_gradient(lambda t: gelu_for_training(t, approximate), x, dy)
            y_ref, g_ref = _value_and_gradient(reference, x, dy)
            self.assertAllClose(y, y_ref, atol=1e-6, rtol=1e-6)
            self.assertAllClose(g, g_ref, atol=1e-5, rtol=1e-5)

    def test_bfloat16_within_rounding_of_float32(self):
        for reference, approximate in ((gelu_approximate, True), (gelu_exact, False)):
            x, dy = tf.cast(self.x, tf.bfloat16), tf.cast(self.dy, tf.bfloat16)
            y, g = tf.function(lambda a, b: _value_and_gradient(lambda t: gelu_for_training(t, approximate), a, b))(x, dy)
            self.assertEqual((y.dtype, g.dtype), (tf.bfloat16, tf.bfloat16))
            y_ref, g_ref = _value_and_gradient(reference, tf.cast(x, tf.float32), tf.cast(dy, tf.float32))
            for got, want in ((y, y_ref), (g, g_ref)):
                got = tf.cast(got, tf.float32).numpy()
                self.assertLessEqual(np.abs(got - want.numpy()).max(), 2 ** -7 * np.abs(want.numpy()).max())

    def test_unknown_shapes_take_tensorflow_ops_with_the_same_values(self):
        """At an unknown shape (bucketed fine-tuning) the gradient is TensorFlow's ops, not
        XLA (one compilation per shape): the same values within a float32 rounding step."""
        x, dy = tf.constant(self.x), tf.constant(self.dy)
        for approximate in (True, False):
            fn = lambda a, b: _value_and_gradient(lambda t: gelu_for_training(t, approximate), a, b)  # noqa: E731
            unknown = tf.function(fn, input_signature=[tf.TensorSpec([None, 96])] * 2)
            static = tf.function(fn)
            calls = {"PartitionedCall", "StatefulPartitionedCall"}  # the compiled helpers
            static_ops = {op.type for op in static.get_concrete_function(x, dy).graph.get_operations()}
            unknown_ops = {op.type for op in unknown.get_concrete_function().graph.get_operations()}
            if cpu_only():
                self.assertTrue(calls & static_ops)
            self.assertFalse(calls & unknown_ops)
            for got, want in zip(unknown(x, dy), static(x, dy)):
                self.assertAllClose(got, want, atol=1e-5, rtol=1e-5)

"""BertLayerNorm: Keras's LayerNormalization numbers, one oneDNN kernel in bfloat16.

The fused path must give LayerNorm within bfloat16 rounding (statistics in float32),
with gradients, at static and unknown shapes; other dtypes are Keras's layer exactly;
and in a bfloat16 graph TensorFlow really runs `_MklLayerNorm` (this test fails when a
TensorFlow release stops substituting the pattern: then the layer is only slower).
"""

import glob
import os
import tempfile
from unittest import mock

import keras
import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from keras_bert_pkg.layers import bert_layer_norm
from keras_bert_pkg.layers.bert_layer_norm import BertLayerNorm
from keras_bert_pkg.layers.xla_on_cpu import cpu_only
from tests.test_case import TestCase


def _pair(dtype, hidden=48):
    """A BertLayerNorm and Keras's LayerNormalization with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    gamma, beta = rng.normal(1, 0.3, hidden).astype("float32"), rng.normal(0, 0.3, hidden).astype("float32")
    ours = BertLayerNorm(epsilon=1e-12, dtype=dtype)
    reference = keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32")
    for layer in (ours, reference):
        layer.build((None, hidden))
        layer.set_weights([gamma, beta])
    return ours, reference


def _inputs(shape, seed=1):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 0.5).astype("float32")


def _bf16(x):
    return np.asarray(tf.cast(tf.cast(x, tf.bfloat16), tf.float32))


def _op_types(fn, *args):
    """The TensorFlow op types one traced call of `fn` executed (TensorFlow's profiler)."""
    folder = tempfile.mkdtemp(prefix="layer_norm_")
    tf.profiler.experimental.start(folder)
    fn(*args)
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True)[-1], "rb") as f:
        space.ParseFromString(f.read())
    return {plane.event_metadata[event.metadata_id].name.rsplit(":", 1)[-1]
            for plane in space.planes for line in plane.lines for event in line.events}


class BertLayerNormTest(TestCase):
    def test_bfloat16_matches_float32_layer_norm_within_rounding(self):
        ours, reference = _pair("mixed_bfloat16")
        for shape in [(37, 48), (3, 11, 48)]:
            x = _bf16(_inputs(shape))  # the block's inputs are bfloat16 already
            expected = reference(x).numpy()
            eager = ours(x)
            graph = tf.function(ours)(x)  # static shapes
            unknown = tf.function(ours, input_signature=[tf.TensorSpec((None,) * (len(shape) - 1) + (48,))])(x)
            for got in (eager, graph, unknown):
                self.assertEqual(got.dtype, tf.bfloat16)
                self.assertEqual(tuple(got.shape), shape)
                # bfloat16 output: within 2 steps of 8 bits of the largest value
                self.assertAllClose(np.asarray(tf.cast(got, tf.float32)), expected, atol=np.abs(expected).max() * 2 ** -7)
            self.assertAllClose(np.asarray(tf.cast(eager, tf.float32)), np.asarray(tf.cast(graph, tf.float32)))

    def test_gradients_match_float32_layer_norm(self):
        ours, reference = _pair("mixed_bfloat16")
        x = tf.constant(_bf16(_inputs((2, 9, 48))))
        weights = tf.constant(_inputs((2, 9, 48), seed=2))

        def loss_and_gradients(layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.cast(layer(x), tf.float32) * weights)
            return tape.gradient(loss, [x, layer.gamma, layer.beta])

        got = tf.function(lambda: loss_and_gradients(ours))()
        expected = loss_and_gradients(reference)
        for g, e in zip(got, expected):
            self.assertAllClose(g, e, atol=0.03 * np.abs(e).max())

    def test_float32_is_keras_layer_norm(self):
        ours, reference = _pair("float32")
        x = _inputs((4, 7, 48))
        self.assertAllEqual(ours(x), reference(x))

    def test_config_round_trip_and_weights(self):
        ours, _ = _pair("mixed_bfloat16")
        restored = BertLayerNorm.from_config(ours.get_config())
        self.assertEqual(restored.get_config(), ours.get_config())
        self.assertEqual([w.name for w in ours.weights], ["gamma", "beta"])

    def test_the_fused_onednn_kernel_runs_in_bfloat16_graphs(self):
        if not cpu_only() or not tf.sysconfig.get_build_info().get("is_mkl_build", True):
            self.skipTest("a oneDNN CPU rewrite")
        ours, _ = _pair("mixed_bfloat16")
        x = tf.constant(_bf16(_inputs((64, 48))), tf.bfloat16)
        fn = tf.function(ours)
        fn(x)
        ops = _op_types(fn, x)
        self.assertIn("_MklLayerNorm", ops)
        self.assertNotIn("Mean", ops)

    def test_training_at_static_shapes_runs_the_compiled_float32_path(self):
        """In training at a static shape on CPU the layer runs `layer_norm_for_training`
        (float32, XLA): outputs within bfloat16 rounding, gradients as close as bfloat16
        inputs allow; at an unknown token axis it keeps the fused-pattern path."""
        if not cpu_only():
            self.skipTest("the compiled path is taken on CPU only")
        ours, reference = _pair("mixed_bfloat16")
        x = tf.constant(_bf16(_inputs((2, 9, 48))))
        weights = tf.constant(_inputs((2, 9, 48), seed=2))

        def outputs_and_gradients(layer, training):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
            return [tf.cast(y, tf.float32)] + tape.gradient(loss, [x, layer.gamma, layer.beta])

        expected = outputs_and_gradients(reference, True)
        with mock.patch.object(bert_layer_norm, "layer_norm_for_training",
                               wraps=bert_layer_norm.layer_norm_for_training) as compiled:
            static = tf.function(lambda: outputs_and_gradients(ours, True))()
            self.assertEqual(compiled.call_count, 1)
            unknown = tf.function(lambda t: ours(t, training=True), input_signature=[tf.TensorSpec([None, None, 48])])
            unknown(x)
            self.assertEqual(compiled.call_count, 1)
        self.assertEqual(ours(x, training=True).dtype, tf.bfloat16)
        for got, want, step in zip(static, expected, (2 ** -8, 2 ** -7, 2 ** -7, 2 ** -7)):
            self.assertAllClose(got, want, atol=np.abs(want).max() * step)
        self.assertAllClose(tf.cast(unknown(x), tf.float32), expected[0], atol=np.abs(expected[0]).max() * 2 ** -7)
        with self.assertRaisesRegex(ValueError, "tokens, hidden"):
            bert_layer_norm.layer_norm_for_training(x, ours.gamma, ours.beta, 1e-12)

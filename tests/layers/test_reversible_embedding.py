"""ReversibleEmbedding: keras-hub's layer, its tied reverse pass one transposed matmul.

The logits and the table's gradient must be keras-hub's (bit-equal in bfloat16, to
float32 rounding in float32), the other paths keras-hub's own, the config a round trip,
and weights saved with keras-hub's class must load into ours and back (Keras files a
functional model's layers under their class names).
"""

import os
import tempfile

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_bert_pkg.layers.reversible_embedding import ReversibleEmbedding
from tests.test_case import TestCase


def _pair(reverse_dtype, **kwargs):
    """Ours and keras-hub's layer with the same table."""
    ours = ReversibleEmbedding(50, 8, reverse_dtype=reverse_dtype, **kwargs)
    theirs = keras_hub.layers.ReversibleEmbedding(50, 8, reverse_dtype=reverse_dtype, **kwargs)
    ours.build(), theirs.build()
    table = np.random.default_rng(0).normal(0, 0.5, (50, 8)).astype("float32")
    ours.embeddings.assign(table)
    theirs.embeddings.assign(table)
    if not ours.tie_weights:
        ours.reverse_embeddings.assign(table.T)
        theirs.reverse_embeddings.assign(table.T)
    return ours, theirs


def _logits_and_table_gradient(layer, hidden):
    with tf.GradientTape() as tape:
        logits = layer(hidden, reverse=True)
        loss = tf.reduce_sum(tf.cast(logits, tf.float32) * tf.range(50, dtype=tf.float32))
    return logits.numpy().astype("float32"), tape.gradient(loss, layer.embeddings.value).numpy()


class ReversibleEmbeddingTest(TestCase):
    hidden = np.random.default_rng(1).normal(0, 1, (3, 5, 8)).astype("float32")

    def test_bfloat16_logits_and_gradient_equal_keras_hubs(self):
        ours, theirs = _pair("bfloat16")
        got, want = _logits_and_table_gradient(ours, self.hidden), _logits_and_table_gradient(theirs, self.hidden)
        self.assertEqual(got[0].shape, (3, 5, 50))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])

    def test_float32_and_soft_cap_match_keras_hubs(self):
        ours, theirs = _pair("float32", logit_soft_cap=2.0)
        got, want = _logits_and_table_gradient(ours, self.hidden), _logits_and_table_gradient(theirs, self.hidden)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-5)
        self.assertLessEqual(float(np.abs(got[0]).max()), 2.0)

    def test_other_paths_are_keras_hubs(self):
        for kwargs in ({"reverse_dtype": None}, {"reverse_dtype": "float32", "tie_weights": False}):
            ours, theirs = _pair(**kwargs)
            np.testing.assert_array_equal(ours(self.hidden, reverse=True).numpy(),
                                          theirs(self.hidden, reverse=True).numpy())
        ids = np.array([[1, 7, 49]])
        np.testing.assert_array_equal(ours(ids).numpy(), theirs(ids).numpy())

    def test_config_round_trip(self):
        layer = ReversibleEmbedding(50, 8, reverse_dtype="bfloat16", logit_soft_cap=3.0)
        copy = keras.layers.deserialize(keras.layers.serialize(layer))
        self.assertIs(type(copy), ReversibleEmbedding)
        self.assertEqual(copy.get_config(), layer.get_config())

    def test_weights_saved_with_keras_hubs_class_load_into_ours_and_back(self):
        def model(embedding_class):
            ids = keras.Input((None,), dtype="int32")
            return keras.Model(ids, embedding_class(50, 8, reverse_dtype="float32")(ids))

        theirs, ours = model(keras_hub.layers.ReversibleEmbedding), model(ReversibleEmbedding)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "embedding.weights.h5")
            theirs.save_weights(path)
            ours.load_weights(path)
            np.testing.assert_array_equal(ours.layers[1].embeddings.numpy(), theirs.layers[1].embeddings.numpy())
            ours.layers[1].embeddings.assign(ours.layers[1].embeddings * 2)
            ours.save_weights(path)
            theirs.load_weights(path)
            np.testing.assert_array_equal(theirs.layers[1].embeddings.numpy(), ours.layers[1].embeddings.numpy())

    def test_the_tied_reverse_pass_and_its_gradient_transpose_nothing(self):
        def op_types(layer):
            @tf.function
            def step(hidden):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(layer(hidden, reverse=True))
                return tape.gradient(loss, layer.embeddings.value)

            graph = step.get_concrete_function(tf.TensorSpec([None, None, 8])).graph
            return {op.type for op in graph.get_operations()}

        ours, theirs = _pair("bfloat16")
        self.assertIn("Transpose", op_types(theirs))  # what this layer exists to avoid
        self.assertNotIn("Transpose", op_types(ours))

import keras
import numpy as np
import tensorflow as tf
from keras_hub.layers import TransformerEncoder

from keras_bert_pkg.layers.activations import gelu_approximate
from keras_bert_pkg.layers.fast_transformer_encoder import FastTransformerEncoder
from tests.test_case import TestCase

HIDDEN, HEADS, INTERMEDIATE = 32, 4, 64


def _pair(dtype="float32", dropout=0.0, normalize_first=False):
    """A keras-hub block and ours, built, with identical (random) weights."""
    kwargs = dict(intermediate_dim=INTERMEDIATE, num_heads=HEADS, dropout=dropout,
                  activation=gelu_approximate, layer_norm_epsilon=1e-12,
                  normalize_first=normalize_first, dtype=dtype)
    reference, fast = TransformerEncoder(**kwargs), FastTransformerEncoder(**kwargs)
    reference.build((None, None, HIDDEN))
    fast.build((None, None, HIDDEN))
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.3, w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fast.set_weights(weights)
    return reference, fast


def _inputs(batch=3, length=7):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(batch, length, HIDDEN)).astype("float32")
    mask = np.ones((batch, length), bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    return x, mask


class FastTransformerEncoderTest(TestCase):
    def test_same_weights_and_names_as_keras_hub(self):
        reference, fast = _pair()
        self.assertIsInstance(fast, TransformerEncoder)
        self.assertEqual([w.path.split("/", 1)[1] for w in reference.weights],
                         [w.path.split("/", 1)[1] for w in fast.weights])

    def test_matches_keras_hub_on_real_tokens(self):
        for normalize_first in (False, True):
            reference, fast = _pair(normalize_first=normalize_first)
            x, mask = _inputs()
            expected = reference(x, padding_mask=mask).numpy()
            got = fast(x, padding_mask=mask).numpy()
            # Padding positions attend to real tokens in both; all rows are comparable.
            np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)

    def test_matches_keras_hub_with_causal_attention_mask(self):
        reference, fast = _pair()
        x, mask = _inputs()
        causal = np.tril(np.ones((7, 7), bool))[None].repeat(3, axis=0)
        expected = reference(x, padding_mask=mask, attention_mask=causal).numpy()
        got = fast(x, padding_mask=mask, attention_mask=causal).numpy()
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-5)
        # Without a padding mask, the attention mask alone.
        np.testing.assert_allclose(fast(x, attention_mask=causal).numpy(),
                                   reference(x, attention_mask=causal).numpy(), atol=2e-5, rtol=1e-5)

    def test_padding_changes_nothing_for_real_tokens(self):
        _, fast = _pair()
        x = np.random.default_rng(3).normal(size=(1, 5, HIDDEN)).astype("float32")
        short = fast(x, padding_mask=np.ones((1, 5), bool)).numpy()
        padded_x = np.concatenate([x, np.full((1, 3, HIDDEN), 9.0, "float32")], axis=1)
        padded_mask = np.array([[True] * 5 + [False] * 3])
        padded = fast(padded_x, padding_mask=padded_mask).numpy()
        np.testing.assert_allclose(padded[:, :5], short, atol=2e-5, rtol=1e-5)

    def test_gradients_match_keras_hub(self):
        reference, fast = _pair()
        x, mask = _inputs()
        target = np.random.default_rng(2).normal(size=x.shape).astype("float32")

        def grads(layer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, padding_mask=mask, training=True) * target)
            return [g.numpy() for g in tape.gradient(loss, layer.trainable_variables)]

        for g_ref, g_fast in zip(grads(reference), grads(fast)):
            np.testing.assert_allclose(g_fast, g_ref, atol=2e-4, rtol=1e-4)

    def test_dropout_active_only_in_training(self):
        _, fast = _pair(dropout=0.5)
        x, mask = _inputs()
        a = fast(x, padding_mask=mask, training=False).numpy()
        np.testing.assert_array_equal(a, fast(x, padding_mask=mask, training=False).numpy())
        self.assertGreater(np.abs(fast(x, padding_mask=mask, training=True).numpy() - a).max(), 1e-3)

    def test_mixed_bfloat16_runs_bfloat16_matmuls_close_to_float32(self):
        reference32, _ = _pair()
        _, fast16 = _pair(dtype="mixed_bfloat16")
        x, mask = _inputs()
        graph = tf.function(lambda v: fast16(v, padding_mask=mask)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        matmul_types = {op.outputs[0].dtype for op in graph.get_operations() if op.type.startswith("MatMul")
                        or op.type.startswith("BatchMatMul")}
        self.assertEqual(matmul_types, {tf.bfloat16})
        softmax_types = {op.outputs[0].dtype for op in graph.get_operations() if op.type == "Softmax"}
        self.assertEqual(softmax_types, {tf.bfloat16})
        got = fast16(x, padding_mask=mask)
        self.assertEqual(got.dtype, "bfloat16")
        expected = reference32(x, padding_mask=mask).numpy()
        got = np.asarray(tf.cast(got, tf.float32))
        self.assertTrue(np.isfinite(got).all())
        # Post-LayerNorm outputs are O(1); bfloat16 keeps ~3 significant digits.
        np.testing.assert_allclose(got, expected, atol=0.1)

    def test_quantized_falls_back_to_keras_hub(self):
        reference, fast = _pair()
        x, mask = _inputs()
        before = fast(x, padding_mask=mask).numpy()
        for block in (fast, reference):  # what `model.quantize("int8")` does to the block
            for layer in block._flatten_layers(include_self=False):
                if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
                    layer.quantize("int8")
        self.assertTrue(fast._use_fallback(x, mask, False))
        got = fast(x, padding_mask=mask).numpy()
        np.testing.assert_allclose(got, reference(x, padding_mask=mask).numpy(), atol=1e-5)
        self.assertLess(np.abs(got - before).max(), 0.2)  # int8 stays close to float

    def test_serialization(self):
        _, fast = _pair()
        revived = self.run_serialization_test(fast)
        self.assertIsInstance(revived, FastTransformerEncoder)
        restored = keras.layers.deserialize(keras.layers.serialize(fast))
        self.assertIsInstance(restored, FastTransformerEncoder)

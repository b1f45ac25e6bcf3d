"""BertEncoderBlock against keras-hub's TransformerEncoder (BERT's post-LN block) with the
same weights: same outputs, gradients, masking, dropout, mixed precision, quantization."""

import keras
import numpy as np
import tensorflow as tf
from keras_hub.layers import TransformerEncoder

from keras_bert_pkg.layers.activations import gelu_approximate
from keras_bert_pkg.layers.int8_matmul import int8_matmul_available
from keras_bert_pkg.layers.bert_encoder_block import (BertEncoderBlock, is_legacy_weight_path,
                                                      upgrade_legacy_weight)
from tests.test_case import TestCase

HIDDEN, HEADS, INTERMEDIATE = 32, 4, 64

# keras-hub's variable (by path inside the block) → ours (sublayer, variable).
_KERAS_HUB_NAMES = {
    "self_attention_layer/query": "query_dense",
    "self_attention_layer/key": "key_dense",
    "self_attention_layer/value": "value_dense",
    "self_attention_layer/attention_output": "attention_output_dense",
    "self_attention_layer_norm": "attention_layer_norm",
    "feedforward_intermediate_dense": "intermediate_dense",
    "feedforward_output_dense": "output_dense",
    "feedforward_layer_norm": "output_layer_norm",
}


def _pair(dtype="float32", dropout=0.0):
    """A keras-hub block and ours, built, with identical (random) weights."""
    kwargs = dict(intermediate_dim=INTERMEDIATE, num_heads=HEADS, dropout=dropout,
                  activation=gelu_approximate, layer_norm_epsilon=1e-12, dtype=dtype)
    reference, ours = TransformerEncoder(**kwargs), BertEncoderBlock(**kwargs)
    reference.build((None, None, HIDDEN))
    ours.build((None, None, HIDDEN))
    rng = np.random.default_rng(0)
    for variable in reference.weights:
        value = rng.normal(0, 0.3, variable.shape).astype("float32")
        variable.assign(value)
        sublayer, leaf = variable.path.split("/", 1)[1].rsplit("/", 1)
        target = getattr(getattr(ours, _KERAS_HUB_NAMES[sublayer]), leaf)
        target.assign(value.reshape(target.shape))
    return reference, ours


def _inputs(batch=3, length=7):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(batch, length, HIDDEN)).astype("float32")
    mask = np.ones((batch, length), bool)
    mask[0, 4:] = False
    mask[2, 2:] = False
    return x, mask


class BertEncoderBlockTest(TestCase):
    def test_public_sublayers_in_checkpoint_layout(self):
        _, ours = _pair()
        self.assertEqual(tuple(ours.query_dense.kernel.shape), (HIDDEN, HIDDEN))
        self.assertEqual(tuple(ours.attention_output_dense.kernel.shape), (HIDDEN, HIDDEN))
        self.assertEqual(tuple(ours.intermediate_dense.kernel.shape), (HIDDEN, INTERMEDIATE))
        self.assertEqual(len(ours.weights), 16)
        self.assertEqual(sorted({w.path.split("/")[1] for w in ours.weights}), sorted(_KERAS_HUB_NAMES.values()))

    def test_matches_keras_hub(self):
        reference, ours = _pair()
        x, mask = _inputs()
        np.testing.assert_allclose(ours(x, padding_mask=mask).numpy(),
                                   reference(x, padding_mask=mask).numpy(), atol=2e-5, rtol=1e-5)

    def test_matches_keras_hub_with_causal_attention_mask(self):
        reference, ours = _pair()
        x, mask = _inputs()
        causal = np.tril(np.ones((7, 7), bool))[None].repeat(3, axis=0)
        np.testing.assert_allclose(ours(x, padding_mask=mask, attention_mask=causal).numpy(),
                                   reference(x, padding_mask=mask, attention_mask=causal).numpy(),
                                   atol=2e-5, rtol=1e-5)
        np.testing.assert_allclose(ours(x, attention_mask=causal).numpy(),
                                   reference(x, attention_mask=causal).numpy(), atol=2e-5, rtol=1e-5)

    def test_padding_changes_nothing_for_real_tokens(self):
        _, ours = _pair()
        x = np.random.default_rng(3).normal(size=(1, 5, HIDDEN)).astype("float32")
        short = ours(x, padding_mask=np.ones((1, 5), bool)).numpy()
        padded_x = np.concatenate([x, np.full((1, 3, HIDDEN), 9.0, "float32")], axis=1)
        padded = ours(padded_x, padding_mask=np.array([[True] * 5 + [False] * 3])).numpy()
        np.testing.assert_allclose(padded[:, :5], short, atol=2e-5, rtol=1e-5)

    def test_gradients_match_keras_hub(self):
        reference, ours = _pair()
        x, mask = _inputs()
        target = np.random.default_rng(2).normal(size=x.shape).astype("float32")

        def grads(layer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, padding_mask=mask, training=True) * target)
            return {v.path.split("/", 1)[1]: g.numpy()
                    for v, g in zip(layer.trainable_variables, tape.gradient(loss, layer.trainable_variables))}

        theirs = grads(reference)
        mine = grads(ours)
        for path, gradient in theirs.items():
            sublayer, leaf = path.rsplit("/", 1)
            mine_gradient = mine[f"{_KERAS_HUB_NAMES[sublayer]}/{leaf}"]
            np.testing.assert_allclose(mine_gradient, gradient.reshape(mine_gradient.shape),
                                       atol=2e-4, rtol=1e-4, err_msg=path)

    def test_query_positions_give_the_same_rows_and_gradients(self):
        _, ours = _pair()
        x, mask = _inputs()
        positions = np.array([[0, 3, 3], [6, 1, 0], [0, 1, 5]], "int32")  # repeats, padding
        causal = np.tril(np.ones((7, 7), bool))[None].repeat(3, axis=0)
        for attention_mask in (None, causal):
            full = ours(x, padding_mask=mask, attention_mask=attention_mask).numpy()
            rows = ours(x, padding_mask=mask, attention_mask=attention_mask, query_positions=positions)
            self.assertEqual(tuple(rows.shape), (3, 3, HIDDEN))
            np.testing.assert_allclose(rows.numpy(), np.take_along_axis(full, positions[..., None], 1),
                                       atol=2e-5, rtol=1e-5)
        target = np.random.default_rng(2).normal(size=(3, 3, HIDDEN)).astype("float32")
        xt = tf.constant(x)

        def grads(read_rows):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                if read_rows:
                    out = ours(xt, padding_mask=mask, training=True, query_positions=positions)
                else:
                    out = tf.gather(ours(xt, padding_mask=mask, training=True), positions, batch_dims=1)
                loss = tf.reduce_sum(out * target)
            return tape.gradient(loss, [xt] + ours.trainable_variables)

        for mine, reference in zip(grads(True), grads(False)):
            np.testing.assert_allclose(np.asarray(mine), np.asarray(reference), atol=2e-4, rtol=1e-4)

    def test_dropout_active_only_in_training(self):
        _, ours = _pair(dropout=0.5)
        x, mask = _inputs()
        a = ours(x, padding_mask=mask, training=False).numpy()
        np.testing.assert_array_equal(a, ours(x, padding_mask=mask, training=False).numpy())
        self.assertGreater(np.abs(ours(x, padding_mask=mask, training=True).numpy() - a).max(), 1e-3)

    def test_mixed_bfloat16_runs_bfloat16_matmuls_close_to_float32(self):
        reference32, _ = _pair()
        _, ours16 = _pair(dtype="mixed_bfloat16")
        x, mask = _inputs()
        graph = tf.function(lambda v: ours16(v, padding_mask=mask)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        matmul_types = {op.outputs[0].dtype for op in graph.get_operations()
                        if op.type.startswith("MatMul") or op.type.startswith("BatchMatMul")}
        self.assertEqual(matmul_types, {tf.bfloat16})
        got = ours16(x, padding_mask=mask)
        self.assertEqual(got.dtype, "bfloat16")
        got = np.asarray(tf.cast(got, tf.float32))
        self.assertTrue(np.isfinite(got).all())
        # Post-LayerNorm outputs are O(1); bfloat16 keeps ~3 significant digits.
        np.testing.assert_allclose(got, reference32(x, padding_mask=mask).numpy(), atol=0.1)

    def test_quantized_int8_runs_on_the_int8_kernel(self):
        reference, ours = _pair()
        x, mask = _inputs()
        before = ours(x, padding_mask=mask).numpy()
        for block in (ours, reference):  # what `model.quantize("int8")` does to the block
            for layer in block._flatten_layers(include_self=False):
                if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense)):
                    layer.quantize("int8")
        got = ours(x, padding_mask=mask).numpy()
        keras_int8 = reference(x, padding_mask=mask).numpy()  # Keras's own int8 layers
        self.assertLess(np.abs(got - before).max(), 0.2)  # int8 stays close to float
        np.testing.assert_allclose(got, keras_int8, atol=0.05)
        # per-tensor asymmetric 8 bits: about as far from float as Keras's per-token ones
        self.assertLess(np.abs(got - before).mean(), np.abs(keras_int8 - before).mean() * 1.25)
        if int8_matmul_available():
            graph = tf.function(lambda x: ours(x, padding_mask=mask)).get_concrete_function(
                tf.TensorSpec(x.shape, tf.float32)).graph
            ops = [op.type for op in graph.get_operations()]
            self.assertEqual(ops.count("_QuantizedMatMul"), 6)  # q, k, v, out, ffn in, ffn out
        with tf.GradientTape() as tape:  # fine-tuning the float parts still works
            xt = tf.constant(x)
            tape.watch(xt)
            loss = tf.reduce_sum(ours(xt, padding_mask=mask))
        self.assertTrue(np.isfinite(tape.gradient(loss, xt).numpy()).all())

    def test_serialization(self):
        _, ours = _pair()
        revived = self.run_serialization_test(ours)
        self.assertIsInstance(revived, BertEncoderBlock)
        restored = keras.layers.deserialize(keras.layers.serialize(ours))
        self.assertIsInstance(restored, BertEncoderBlock)

    def test_legacy_weight_paths_upgrade(self):
        path = "layers/bert_backbone/layers/fast_transformer_encoder_1/_self_attention_layer/query_dense/vars/0"
        self.assertTrue(is_legacy_weight_path(path))
        new, value = upgrade_legacy_weight(path, np.zeros((8, 2, 4)))
        self.assertEqual(new, "layers/bert_backbone/layers/bert_encoder_block_1/query_dense/vars/0")
        self.assertEqual(value.shape, (8, 8))
        new, value = upgrade_legacy_weight(path.replace("query_dense", "output_dense"), np.zeros((2, 4, 8)))
        self.assertEqual(new, "layers/bert_backbone/layers/bert_encoder_block_1/attention_output_dense/vars/0")
        self.assertEqual(value.shape, (8, 8))
        self.assertFalse(is_legacy_weight_path("layers/bert_backbone/layers/bert_encoder_block/query_dense/vars/0"))

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg import BertBackbone
from keras_bert_pkg.models.bert_architectures import BACKBONE_ARCHITECTURES
from tests.test_case import TestCase, tiny_backbone_config


def _inputs(batch=2, length=8, pad_from=6):
    rng = np.random.default_rng(0)
    mask = np.ones((batch, length), "int32")
    mask[0, pad_from:] = 0
    return {
        "token_ids": rng.integers(1, 1000, (batch, length)).astype("int32") * mask,
        "segment_ids": np.concatenate(
            [np.zeros((batch, length // 2)), np.ones((batch, length - length // 2))], 1
        ).astype("int32") * mask,
        "padding_mask": mask,
    }


class BertBackboneTest(TestCase):
    def test_backbone_contract(self):
        self.run_backbone_test(BertBackbone, tiny_backbone_config(), _inputs(), (2, 8, 32))

    def test_reference_parameter_counts(self):
        # The counts of Google's released BERT-Base and BERT-Large encoders (with pooler).
        self.assertEqual(BertBackbone.from_architecture("bert_base").count_params(), 109_482_240)
        self.assertEqual(BertBackbone.from_architecture("bert_large").count_params(), 335_141_888)

    def test_presets(self):
        expected = {
            "bert_tiny": (2, 128, 2), "bert_mini": (4, 256, 4), "bert_small": (4, 512, 8),
            "bert_medium": (8, 512, 8), "bert_base": (12, 768, 12), "bert_large": (24, 1024, 16),
        }
        for name, (layers, hidden, heads) in expected.items():
            config = BACKBONE_ARCHITECTURES[name]
            self.assertEqual(
                (config["num_layers"], config["hidden_dim"], config["num_heads"]),
                (layers, hidden, heads),
            )
            self.assertEqual(config["intermediate_dim"], 4 * hidden)
            self.assertEqual(config["layer_norm_epsilon"], 1e-12)
        tiny = BertBackbone.from_architecture("bert_tiny", vocabulary_size=100)
        self.assertEqual(tiny.vocabulary_size, 100)
        with self.assertRaisesRegex(ValueError, "bert_gigantic"):
            BertBackbone.from_architecture("bert_gigantic")
        # from_preset means pretrained weights: an architecture name is not a preset.
        with self.assertRaisesRegex(FileNotFoundError, r"from_architecture"):
            BertBackbone.from_preset("bert_base")

    def test_bert_details(self):
        backbone = BertBackbone(**tiny_backbone_config())
        block = backbone.transformer_layers[0]
        self.assertIs(block, backbone.get_layer("transformer_layer_0"))
        self.assertEqual(block.layer_norm_epsilon, 1e-12)
        self.assertEqual(block.attention_layer_norm.epsilon, 1e-12)
        self.assertEqual(block.output_layer_norm.epsilon, 1e-12)
        self.assertEqual(backbone.get_layer("embeddings_layer_norm").epsilon, 1e-12)
        # tanh-form GELU by default
        x = np.linspace(-3, 3, 7).astype("float32")
        tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
        np.testing.assert_allclose(block.activation(x), tanh_gelu, atol=1e-6)
        init = backbone.token_embedding.embeddings_initializer
        self.assertIsInstance(init, keras.initializers.TruncatedNormal)
        self.assertEqual(init.stddev, 0.02)
        weights = backbone.token_embedding.embeddings.numpy()
        self.assertLess(abs(weights.std() - 0.02 * 0.88), 0.002)  # truncated at 2 sigma
        self.assertLessEqual(np.abs(weights).max(), 0.04 + 1e-6)

    def test_padding_is_ignored(self):
        backbone = BertBackbone(**tiny_backbone_config())
        x = _inputs(batch=1, length=8, pad_from=5)
        changed = {k: v.copy() for k, v in x.items()}
        changed["token_ids"][0, 6] = 999
        a = backbone.predict(x, verbose=0)["sequence_output"][0, :5]
        b = backbone.predict(changed, verbose=0)["sequence_output"][0, :5]
        np.testing.assert_allclose(a, b, atol=1e-6)

    def test_bool_padding_mask_and_dynamic_length(self):
        backbone = BertBackbone(**tiny_backbone_config())
        for length in (3, 17):
            x = _inputs(length=length, pad_from=2)
            x["padding_mask"] = x["padding_mask"].astype(bool)
            self.assertEqual(backbone.predict(x, verbose=0)["sequence_output"].shape[1], length)

    def test_causal_ablation(self):
        backbone = BertBackbone(**tiny_backbone_config(causal=True))
        x = _inputs(batch=1, length=8, pad_from=8)
        changed = {k: v.copy() for k, v in x.items()}
        changed["token_ids"][0, 6] = 999
        a = backbone.predict(x, verbose=0)["sequence_output"][0]
        b = backbone.predict(changed, verbose=0)["sequence_output"][0]
        np.testing.assert_allclose(a[:6], b[:6], atol=1e-6)  # the past does not see the future
        self.assertGreater(np.abs(a[6:] - b[6:]).max(), 1e-4)
        bidirectional = BertBackbone(**tiny_backbone_config())
        c = bidirectional.predict(x, verbose=0)["sequence_output"][0]
        d = bidirectional.predict(changed, verbose=0)["sequence_output"][0]
        self.assertGreater(np.abs(c[:6] - d[:6]).max(), 1e-4)
        self.run_serialization_test(backbone)

    def test_return_all_layers(self):
        backbone = BertBackbone(**tiny_backbone_config(num_layers=3, return_all_layers=True))
        out = backbone(_inputs())
        self.assertLen(out["encoder_outputs"], 3)
        np.testing.assert_allclose(out["encoder_outputs"][-1], out["sequence_output"])
        self.run_model_test(backbone, _inputs(), fit=False)

    def test_output_positions(self):
        # The pre-training call: the last block computes [CLS] and the given positions
        # only; the rows, the pooled output and every gradient are the whole pass's.
        backbone = BertBackbone(**tiny_backbone_config(num_layers=3, return_all_layers=True))
        x = _inputs()
        positions = np.array([[1, 5, 0], [7, 2, 2]], "int32")
        full = backbone(x)
        out = backbone(x, output_positions=positions)
        gathered = np.take_along_axis(full["sequence_output"].numpy(), positions[..., None], 1)
        np.testing.assert_allclose(out["sequence_output"], gathered, atol=2e-5)
        np.testing.assert_allclose(out["pooled_output"], full["pooled_output"], atol=2e-5)
        np.testing.assert_allclose(out["encoder_outputs"][1], full["encoder_outputs"][1])
        np.testing.assert_allclose(out["encoder_outputs"][-1], out["sequence_output"])
        none = backbone(x, output_positions=np.zeros((2, 0), "int32"))  # [CLS] only
        self.assertEqual(tuple(none["sequence_output"].shape), (2, 0, 32))
        np.testing.assert_allclose(none["pooled_output"], full["pooled_output"], atol=2e-5)
        target = np.random.default_rng(1).normal(size=gathered.shape).astype("float32")

        def grads(use_positions):
            with tf.GradientTape() as tape:
                if use_positions:
                    o = backbone(x, output_positions=positions, training=True)
                    rows = o["sequence_output"]
                else:
                    o = backbone(x, training=True)
                    rows = tf.gather(o["sequence_output"], positions, batch_dims=1)
                loss = tf.reduce_sum(rows * target) + tf.reduce_sum(o["pooled_output"])
            return tape.gradient(loss, backbone.trainable_variables)

        for variable, mine, reference in zip(backbone.trainable_variables, grads(True), grads(False)):
            np.testing.assert_allclose(tf.convert_to_tensor(mine), tf.convert_to_tensor(reference),
                                       atol=2e-5, rtol=1e-4, err_msg=variable.path)
        # In a functional graph (as BertPretrainer builds it) the rows' shape is known.
        inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in x}
        symbolic = backbone(inputs, output_positions=keras.Input((3,), dtype="int32"))
        self.assertEqual(tuple(symbolic["sequence_output"].shape), (None, 3, 32))

    def test_mixed_precision(self):
        backbone = BertBackbone(**tiny_backbone_config(dtype="mixed_bfloat16"))
        out = backbone(_inputs())
        self.assertEqual(out["sequence_output"].dtype, "bfloat16")
        self.assertEqual(backbone.token_embedding.embeddings.dtype, "float32")
        revived = self.run_serialization_test(backbone)
        self.assertEqual(revived.layer_dtype_policy.name, "mixed_bfloat16")

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "divisible"):
            BertBackbone(**tiny_backbone_config(hidden_dim=30, num_heads=4))
        with self.assertRaisesRegex(ValueError, "hidden_activation"):
            BertBackbone(**tiny_backbone_config(hidden_activation="swish2"))

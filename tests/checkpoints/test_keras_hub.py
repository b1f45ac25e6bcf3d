"""keras-hub preset directories: parity (iii) ours → keras-hub BertBackbone, and reading presets."""

import os

import keras_hub
import numpy as np

from keras_bert_pkg.checkpoints.keras_hub import read_keras_hub, save_keras_hub
from keras_bert_pkg.checkpoints.formats import detect_format
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.checkpoints.real_inputs import masked_max_abs, real_batch
from tests.test_case import MINILM_DIR, TestCase, tiny_backbone_config, requires_shared_data


@requires_shared_data
class KerasHubParityTest(TestCase):
    def test_minilm_weights_with_tanh_gelu_through_a_keras_hub_preset(self):
        # keras-hub's BertBackbone always runs the tanh GELU, so the parity check uses the
        # real MiniLM weights in a tanh-GELU backbone; the exact-GELU model is refused below.
        ours = BertBackbone.from_preset(str(MINILM_DIR), hidden_activation="gelu_approximate")
        directory = self.get_temp_dir() + "/preset"
        save_keras_hub(ours, directory, vocabulary=str(MINILM_DIR / "vocab.txt"))
        self.assertEqual(detect_format(directory), "keras_hub")
        theirs = keras_hub.models.BertBackbone.from_preset(directory)
        batch = real_batch()
        expected = ours.predict(batch, verbose=0)
        got = theirs.predict(batch, verbose=0)
        seq = masked_max_abs(got["sequence_output"], expected["sequence_output"], batch["padding_mask"])
        pooled = float(np.abs(got["pooled_output"] - expected["pooled_output"]).max())
        print(f"MiniLM (tanh GELU) ours -> keras-hub preset -> keras_hub.BertBackbone: sequence {seq:.3g}, pooled {pooled:.3g}")
        self.assertLess(seq, 1e-4)
        self.assertLess(pooled, 1e-4)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(directory)
        self.assertEqual(tokenizer.vocabulary_size(), 30522)

        # And back: keras-hub preset → ours, bit-identical.
        back, report = load_with_report(directory, strict=True)
        self.assertEqual(len(report.loaded), 103)
        self.assertAllCloseNested(back.predict(batch, verbose=0), expected, atol=0, rtol=0)

        # The exact-GELU original would not survive: refused, or written with a warning.
        exact = BertBackbone.from_preset(str(MINILM_DIR))
        with self.assertRaisesRegex(ValueError, r"hidden_activation 'gelu' \(keras-hub always uses the tanh GELU\)"):
            save_keras_hub(exact, self.get_temp_dir() + "/refused")
        with self.assertWarnsRegex(UserWarning, "cannot represent this model exactly"):
            save_keras_hub(exact, self.get_temp_dir() + "/allowed", allow_activation_change=True)
        shift = masked_max_abs(
            exact.predict(batch, verbose=0)["sequence_output"], got["sequence_output"], batch["padding_mask"]
        )
        print(f"exact-GELU MiniLM vs the keras-hub (tanh) model: sequence max abs {shift:.3g}")
        self.assertGreater(shift, 1e-3)


class KerasHubReadTest(TestCase):
    @requires_shared_data
    def test_keras_hub_backbone_preset(self):
        theirs = keras_hub.models.BertBackbone(
            vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=64
        )
        directory = self.get_temp_dir() + "/kh"
        theirs.save_to_preset(directory)
        ours = BertBackbone.from_preset(directory, strict=True)
        self.assertEqual(ours.hidden_activation, "gelu_approximate")
        batch = {k: v[:, :64] for k, v in real_batch().items()}
        self.assertAllCloseNested(ours.predict(batch, verbose=0), theirs.predict(batch, verbose=0), atol=1e-6)

    def test_masked_lm_task_preset_carries_the_head(self):
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=30522, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=64
        )
        task = keras_hub.models.BertMaskedLM(backbone=backbone, preprocessor=None)
        directory = self.get_temp_dir() + "/task"
        task.save_to_preset(directory)
        self.assertTrue(os.path.isfile(os.path.join(directory, "task.weights.h5")))
        contents = read_keras_hub(directory)
        self.assertTrue(contents.has_masked_lm_head)
        self.assertFalse(contents.has_next_sentence_head)
        head = task.masked_lm_head
        np.testing.assert_array_equal(contents.tensors["cls/predictions/output_bias"], head._bias.numpy())
        np.testing.assert_array_equal(
            contents.tensors["cls/predictions/transform/dense/kernel"], head._intermediate_dense.kernel.numpy()
        )

    def test_non_bert_preset_is_refused(self):
        directory = self.get_temp_dir() + "/other"
        backbone = BertBackbone(**tiny_backbone_config())
        save_keras_hub(backbone, directory)
        config_path = os.path.join(directory, "config.json")
        with open(config_path) as f:
            text = f.read().replace('"class_name": "BertBackbone"', '"class_name": "GPT2Backbone"')
        with open(config_path, "w") as f:
            f.write(text)
        with self.assertRaisesRegex(ValueError, r"config\.json: a keras-hub 'GPT2Backbone' preset"):
            BertBackbone.from_preset(directory)

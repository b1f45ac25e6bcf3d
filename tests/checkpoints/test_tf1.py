"""Google TF1 checkpoints: parity (ii) through tf-models-official's own TF1 converter."""

import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_pkg.checkpoints.load_report import CheckpointMismatchError
from keras_bert_pkg.checkpoints.formats import detect_format
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.checkpoints.tf1 import read_tf1, save_tf1
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.checkpoints.real_inputs import masked_max_abs, real_batch
from tests.test_case import MINILM_DIR, TestCase, tiny_backbone_config, requires_shared_data


def model_garden_encoder_from_tf1(prefix, output_dir, hidden_act=None):
    """Runs tf-models-official's TF1 → TF2 converter and restores its BertEncoder.

    `hidden_act` replaces the config's activation (for an exact-GELU model, whose
    activation the original bert_config.json cannot name).
    """
    from official.legacy.bert import configs
    from official.nlp.tools import tf2_bert_encoder_checkpoint_converter as converter

    config = configs.BertConfig.from_json_file(os.path.join(os.path.dirname(prefix), "bert_config.json"))
    if hidden_act is not None:
        config.hidden_act = hidden_act
    converter.convert_checkpoint(
        config, os.path.join(output_dir, "ckpt"), prefix, checkpoint_model_name="encoder", converted_model="encoder"
    )
    encoder = converter._create_bert_model(config)
    tf.train.Checkpoint(encoder=encoder).read(tf.train.latest_checkpoint(output_dir)).assert_existing_objects_matched().expect_partial()
    return encoder


def run_model_garden(encoder, batch):
    sequence, pooled = encoder([batch["token_ids"], batch["padding_mask"], batch["segment_ids"]])
    return {"sequence_output": sequence.numpy(), "pooled_output": pooled.numpy()}


@requires_shared_data
class Tf1ParityTest(TestCase):
    def test_minilm_to_tf1_read_by_model_garden_and_by_us(self):
        import tf_keras

        ours = BertBackbone.from_preset(str(MINILM_DIR))
        directory = self.get_temp_dir() + "/tf1"
        with self.assertWarnsRegex(UserWarning, "gelu_exact"):
            prefix = save_tf1(ours, directory, vocabulary=str(MINILM_DIR / "vocab.txt"))
        self.assertEqual(sorted(os.listdir(directory)), [
            "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "checkpoint", "vocab.txt",
        ])
        names = dict(tf.train.list_variables(prefix))
        self.assertEqual(names["bert/encoder/layer_5/attention/self/query/kernel"], [384, 384])
        self.assertEqual(names["bert/embeddings/word_embeddings"], [30522, 384])
        batch = real_batch()
        expected = ours.predict(batch, verbose=0)

        # The exact GELU is named explicitly for Model Garden: its "gelu" is the tanh form.
        encoder = model_garden_encoder_from_tf1(prefix, self.get_temp_dir() + "/mg", hidden_act=tf_keras.activations.gelu)
        theirs = run_model_garden(encoder, batch)
        seq = masked_max_abs(theirs["sequence_output"], expected["sequence_output"], batch["padding_mask"])
        pooled = float(np.abs(theirs["pooled_output"] - expected["pooled_output"]).max())
        print(f"MiniLM ours -> TF1 -> Model Garden BertEncoder: sequence max abs {seq:.3g}, pooled {pooled:.3g}")
        self.assertLess(seq, 1e-4)
        self.assertLess(pooled, 1e-4)

        reread, report = load_with_report(directory, strict=True)
        self.assertEqual(reread.hidden_activation, "gelu")
        self.assertEqual(len(report.loaded), 103)
        again = reread.predict(batch, verbose=0)
        self.assertAllCloseNested(again, expected, atol=0, rtol=0)

    def test_tanh_gelu_config_is_read_by_model_garden_as_is(self):
        # bert_config.json "gelu" is the tanh form for Model Garden too: no override needed.
        ours = BertBackbone(**tiny_backbone_config(hidden_activation="gelu_approximate"))
        prefix = save_tf1(ours, self.get_temp_dir() + "/tiny")
        with open(os.path.join(os.path.dirname(prefix), "bert_config.json")) as f:
            self.assertEqual(json.load(f)["hidden_act"], "gelu")
        encoder = model_garden_encoder_from_tf1(prefix, self.get_temp_dir() + "/tiny_mg")
        batch = real_batch()
        batch = {k: v[:, :64] for k, v in batch.items()}  # the tiny model has 64 positions
        theirs = run_model_garden(encoder, batch)
        expected = ours.predict(batch, verbose=0)
        self.assertLess(masked_max_abs(theirs["sequence_output"], expected["sequence_output"], batch["padding_mask"]), 1e-5)


class Tf1FormatTest(TestCase):
    def _tiny(self, name="tiny", **overrides):
        backbone = BertBackbone(**tiny_backbone_config(**overrides))
        return backbone, save_tf1(backbone, os.path.join(self.get_temp_dir(), name))

    def _rewrite(self, prefix, tensors):
        """Rewrites a checkpoint with the given name → array dict (as a TF1 saver would)."""
        for f in os.listdir(os.path.dirname(prefix)):
            if f.startswith(os.path.basename(prefix)):
                os.remove(os.path.join(os.path.dirname(prefix), f))
        names = sorted(tensors)
        tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=[tf.constant(tensors[n]) for n in names])

    def _tensors(self, prefix):
        reader = tf.train.load_checkpoint(prefix)
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}

    def test_round_trip_and_detection(self):
        backbone, prefix = self._tiny()
        directory = os.path.dirname(prefix)
        self.assertEqual(detect_format(directory), "tf1")
        self.assertEqual(detect_format(prefix), "tf1")
        self.assertEqual(detect_format(prefix + ".index"), "tf1")
        loaded = BertBackbone.from_preset(prefix)
        inputs = backbone.dummy_inputs()
        self.assertAllCloseNested(backbone.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0), atol=0)
        self.assertEqual(loaded.hidden_activation, backbone.hidden_activation)

    def test_training_checkpoint_slots_are_ignored_and_heads_listed(self):
        _, prefix = self._tiny()
        tensors = self._tensors(prefix)
        tensors["global_step"] = np.int64(1000)
        tensors["bert/pooler/dense/kernel/adam_m"] = np.zeros((32, 32), "float32")
        tensors["bert/pooler/dense/kernel/adam_v"] = np.zeros((32, 32), "float32")
        tensors["cls/seq_relationship/output_weights"] = np.zeros((2, 32), "float32")
        self._rewrite(prefix, tensors)
        with self.assertWarnsRegex(UserWarning, r"1 checkpoint tensor\(s\) not used: cls/seq_relationship/output_weights"):
            _, report = load_with_report(prefix)
        self.assertEqual(report.ignored, {
            "global_step": "training counter",
            "bert/pooler/dense/kernel/adam_m": "optimizer slot",
            "bert/pooler/dense/kernel/adam_v": "optimizer slot",
        })
        self.assertEqual(report.missing, [])

    def test_shape_mismatch_names_tensor(self):
        _, prefix = self._tiny()
        tensors = self._tensors(prefix)
        tensors["bert/encoder/layer_1/attention/self/key/kernel"] = np.zeros((32, 16), "float32")
        self._rewrite(prefix, tensors)
        with self.assertRaisesRegex(
            CheckpointMismatchError,
            r"'bert/encoder/layer_1/attention/self/key/kernel' has shape \(32, 16\) in the checkpoint but the model expects \(32, 32\)",
        ):
            BertBackbone.from_preset(prefix)

    def test_missing_config_says_what_is_expected(self):
        _, prefix = self._tiny()
        os.remove(os.path.join(os.path.dirname(prefix), "bert_config.json"))
        with self.assertRaisesRegex(FileNotFoundError, r"expected bert_config\.json beside bert_model\.ckpt"):
            read_tf1(prefix)

    def test_config_keeps_original_gelu_meaning_and_epsilon(self):
        with self.assertWarnsRegex(UserWarning, "exact .erf. GELU"):
            _, prefix = self._tiny(hidden_activation="gelu", layer_norm_epsilon=1e-6)
        with open(os.path.join(os.path.dirname(prefix), "bert_config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["hidden_act"], config["layer_norm_eps"]), ("gelu_exact", 1e-6))
        contents = read_tf1(prefix)
        self.assertEqual((contents.config["hidden_activation"], contents.config["layer_norm_epsilon"]), ("gelu", 1e-6))

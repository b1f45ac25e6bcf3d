"""Model Garden TF2 checkpoints (BertEncoder, BertEncoderV2, BertPretrainerV2) → ours."""

import os
import warnings

import numpy as np
import tensorflow as tf

from keras_bert_pkg.checkpoints.load_report import CheckpointMismatchError
from keras_bert_pkg.checkpoints.formats import detect_format
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.checkpoints.tf1 import save_tf1
from keras_bert_pkg.models.bert_backbone import BertBackbone
from tests.checkpoints.real_inputs import masked_max_abs, real_batch
from tests.checkpoints.test_tf1 import model_garden_encoder_from_tf1, run_model_garden
from tests.test_case import TestCase, tiny_backbone_config, requires_shared_data

SIZES = dict(vocab_size=30522, hidden_size=32, num_layers=2, num_attention_heads=2, inner_dim=64,
             max_sequence_length=64, type_vocab_size=2)


def real_inputs():
    return {k: v[:, :64] for k, v in real_batch().items()}


def randomize(variables, seed=0):
    """Model Garden starts biases and LayerNorms at 0/1: give every weight a distinct value."""
    rng = np.random.default_rng(seed)
    for v in variables:
        v.assign(rng.normal(0, 0.05, v.shape).astype("float32") + (1.0 if "gamma" in v.name else 0.0))


class ModelGardenTest(TestCase):
    @requires_shared_data
    def test_converted_encoder_checkpoint(self):
        # ours → TF1 → tf-models-official's converter → object-based TF2 checkpoint → ours.
        ours = BertBackbone(**tiny_backbone_config(hidden_activation="gelu_approximate"))
        prefix = save_tf1(ours, self.get_temp_dir() + "/tf1")
        directory = self.get_temp_dir() + "/mg"
        encoder = model_garden_encoder_from_tf1(prefix, directory)
        self.assertEqual(detect_format(directory), "model_garden")
        loaded, report = load_with_report(directory, strict=True)
        self.assertEqual(len(report.loaded), len(ours.weights))
        batch = real_inputs()
        expected = ours.predict(batch, verbose=0)
        self.assertAllCloseNested(loaded.predict(batch, verbose=0), expected, atol=0, rtol=0)
        theirs = run_model_garden(encoder, batch)
        self.assertLess(masked_max_abs(theirs["sequence_output"], expected["sequence_output"], batch["padding_mask"]), 1e-5)

    @requires_shared_data
    def test_encoder_v2_under_model_root_without_config(self):
        from official.nlp.modeling import networks

        encoder = networks.BertEncoderV2(**SIZES)
        batch = real_inputs()
        mg_inputs = dict(input_word_ids=batch["token_ids"], input_mask=batch["padding_mask"], input_type_ids=batch["segment_ids"])
        encoder(mg_inputs)
        randomize(encoder.variables)
        theirs = encoder(mg_inputs)
        prefix = tf.train.Checkpoint(model=encoder).save(self.get_temp_dir() + "/v2/ckpt")
        # No bert_config.json: sizes are inferred, activation is Model Garden's tanh GELU.
        loaded = BertBackbone.from_preset(prefix, strict=True)
        self.assertEqual((loaded.num_layers, loaded.num_heads, loaded.intermediate_dim), (2, 2, 64))
        self.assertEqual(loaded.hidden_activation, "gelu_approximate")
        ours = loaded.predict(batch, verbose=0)
        self.assertLess(masked_max_abs(theirs["sequence_output"], ours["sequence_output"], batch["padding_mask"]), 1e-5)
        self.assertLess(float(np.abs(theirs["pooled_output"].numpy() - ours["pooled_output"]).max()), 1e-5)

    @requires_shared_data
    def test_pretrainer_checkpoint_heads_are_listed_when_loading_a_backbone(self):
        from official.nlp.modeling import models, networks

        encoder = networks.BertEncoder(**SIZES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pretrainer = models.BertPretrainerV2(encoder_network=encoder)
            pretrainer(pretrainer.inputs)
        randomize(pretrainer.variables)
        prefix = tf.train.Checkpoint(model=pretrainer, **pretrainer.checkpoint_items).save(self.get_temp_dir() + "/p/ckpt")
        with self.assertWarnsRegex(UserWarning, r"5 checkpoint tensor\(s\) not used: .*cls/predictions/transform/dense/kernel"):
            loaded, report = load_with_report(prefix)
        self.assertEqual(report.missing, [])
        batch = real_inputs()
        theirs = encoder([batch["token_ids"], batch["padding_mask"], batch["segment_ids"]])
        ours = loaded.predict(batch, verbose=0)
        self.assertLess(masked_max_abs(theirs[0], ours["sequence_output"], batch["padding_mask"]), 1e-5)

    def test_not_a_bert_object_graph(self):
        variable = tf.Variable(np.zeros((2, 2), "float32"))
        prefix = tf.train.Checkpoint(something=variable).save(self.get_temp_dir() + "/x/ckpt")
        self.assertEqual(detect_format(os.path.dirname(prefix)), "model_garden")
        with self.assertRaisesRegex(CheckpointMismatchError, "no Model Garden BERT encoder found"):
            BertBackbone.from_preset(prefix)

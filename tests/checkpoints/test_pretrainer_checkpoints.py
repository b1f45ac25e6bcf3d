"""Pre-training heads (masked LM, next sentence) through every format that carries them."""

import os
import warnings

import keras_hub
import numpy as np
import tensorflow as tf
from safetensors.numpy import load_file, save_file

from keras_bert_pkg.checkpoints.hf import save_hf
from keras_bert_pkg.checkpoints.keras_hub import read_keras_hub
from tests.checkpoints.loading import load_with_report
from keras_bert_pkg.checkpoints.tf1 import save_tf1
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from tests.checkpoints.real_inputs import real_batch
from tests.test_case import TestCase, tiny_backbone_config, requires_shared_data


def randomize(model, seed=0):
    """Random values in every weight (biases and LayerNorms start at 0/1 otherwise)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.05, w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0))
    return model


def tiny_pretrainer(next_sentence=True):
    backbone = BertBackbone(**tiny_backbone_config(hidden_activation="gelu_approximate"))
    return randomize(BertPretrainer(backbone, next_sentence=next_sentence))


def pretraining_batch():
    batch = {k: v[:, :64] for k, v in real_batch().items()}
    lengths = batch["padding_mask"].sum(axis=1)
    batch["masked_lm_positions"] = np.stack([np.linspace(1, n - 2, 5).astype("int32") for n in lengths])
    return batch


class PretrainerCheckpointTest(TestCase):
    @requires_shared_data
    def test_hf_bert_for_pretraining_round_trip(self):
        model = tiny_pretrainer()
        directory = self.get_temp_dir() + "/hf"
        save_hf(model, directory)
        tensors = load_file(os.path.join(directory, "model.safetensors"))
        self.assertEqual(tensors["cls.seq_relationship.weight"].shape, (2, 32))
        self.assertEqual(tensors["cls.predictions.bias"].shape, (30522,))
        np.testing.assert_array_equal(
            tensors["cls.predictions.transform.dense.weight"],
            model.get_layer("masked_lm_head")._intermediate_dense.kernel.numpy().T,
        )
        self.assertIn("bert.encoder.layer.1.output.LayerNorm.weight", tensors)
        loaded = BertPretrainer.from_preset(directory, strict=True)
        self.assertTrue(loaded.next_sentence)
        batch = pretraining_batch()
        self.assertAllCloseNested(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=0, rtol=0)

        # transformers' own files may carry the tied decoder: the same values are ignored,
        # a decoder that differs from the word embeddings is listed.
        tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"]
        tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"]
        save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        _, report = load_with_report(directory, model="pretrainer", strict=True)
        self.assertEqual(report.ignored["cls.predictions.decoder.weight"], "tied copy of another tensor")
        tensors["cls.predictions.decoder.weight"] = tensors["cls.predictions.decoder.weight"] + 1
        save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        with self.assertWarnsRegex(UserWarning, r"not used: cls\.predictions\.decoder\.weight"):
            BertPretrainer.from_preset(directory)

    @requires_shared_data
    def test_tf1_heads_match_model_garden_pretrainer(self):
        from official.legacy.bert import configs
        from official.nlp.tools import tf2_bert_encoder_checkpoint_converter as converter

        model = tiny_pretrainer()
        prefix = save_tf1(model, self.get_temp_dir() + "/tf1")
        shapes = dict(tf.train.list_variables(prefix))
        self.assertEqual(shapes["cls/seq_relationship/output_weights"], [2, 32])
        self.assertEqual(shapes["cls/predictions/output_bias"], [30522])
        batch = pretraining_batch()
        expected = model.predict(batch, verbose=0)

        reread = BertPretrainer.from_preset(prefix, strict=True)
        self.assertAllCloseNested(reread.predict(batch, verbose=0), expected, atol=0, rtol=0)

        # tf-models-official's converter turns our TF1 files into its BertPretrainerV2.
        config = configs.BertConfig.from_json_file(os.path.join(os.path.dirname(prefix), "bert_config.json"))
        mg_dir = self.get_temp_dir() + "/mg"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            converter.convert_checkpoint(config, mg_dir + "/ckpt", prefix, checkpoint_model_name="model",
                                         converted_model="pretrainer")
            theirs = converter._create_bert_pretrainer_model(config)
        tf.train.Checkpoint(model=theirs).read(tf.train.latest_checkpoint(mg_dir)).assert_existing_objects_matched().expect_partial()
        with warnings.catch_warnings():  # tf_keras: the encoder ignores masked_lm_positions
            warnings.simplefilter("ignore", UserWarning)
            mg_logits = theirs(dict(
                input_word_ids=batch["token_ids"], input_mask=batch["padding_mask"],
                input_type_ids=batch["segment_ids"], masked_lm_positions=batch["masked_lm_positions"],
            ))["mlm_logits"].numpy()
        difference = float(np.abs(mg_logits - expected["mlm_logits"]).max())
        print(f"masked-LM logits, ours -> TF1 -> Model Garden BertPretrainerV2: max abs {difference:.3g}")
        self.assertLess(difference, 1e-4)

        # And Model Garden's TF2 pretrainer checkpoint back into ours (no NSP head there).
        from_mg, report = load_with_report(mg_dir, model="pretrainer", strict=True)
        self.assertFalse(from_mg.next_sentence)
        self.assertEqual(report.format, "model_garden")
        got = from_mg.predict({k: v for k, v in batch.items()}, verbose=0)
        np.testing.assert_allclose(got["mlm_logits"], expected["mlm_logits"], atol=1e-5)

    def test_backbone_only_checkpoint_lists_missing_heads(self):
        backbone = BertBackbone(**tiny_backbone_config())
        directory = self.get_temp_dir() + "/body"
        save_hf(backbone, directory)
        with self.assertWarnsRegex(UserWarning, r"7 model weight\(s\) got no tensor.*cls\.predictions\.transform\.dense\.weight"):
            model, report = load_with_report(directory, model="pretrainer")
        self.assertTrue(model.next_sentence)
        self.assertEqual(len(report.missing), 7)

    def test_keras_hub_masked_lm_head_weights(self):
        # keras-hub's BertMaskedLM head runs exact GELU and epsilon 1e-5, BERT's runs the
        # backbone's; the weights are taken over, not keras-hub's head arithmetic.
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=30522, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=64
        )
        task = keras_hub.models.BertMaskedLM(backbone=backbone, preprocessor=None)
        randomize(task)
        directory = self.get_temp_dir() + "/kh"
        task.save_to_preset(directory)
        ours = BertPretrainer.from_preset(directory, strict=True)
        self.assertFalse(ours.next_sentence)
        head, theirs = ours.get_layer("masked_lm_head"), task.masked_lm_head
        np.testing.assert_array_equal(head._bias.numpy(), theirs._bias.numpy())
        np.testing.assert_array_equal(head._intermediate_layer_norm.gamma.numpy(), theirs._intermediate_layer_norm.gamma.numpy())
        self.assertEqual(len(read_keras_hub(directory).tensors), (5 + 16 + 2) + 5)  # body + head

"""Signature builders in-process: regression, label checks, clear errors for bad set-ups."""

import keras
import numpy as np
import tensorflow as tf

import keras_bert_pkg
from keras_bert_pkg.export.classifier_signatures import ClassifierSignatures
from keras_bert_pkg.export.export_model import signature_builder
from keras_bert_pkg.export.token_classifier_signatures import TokenClassifierSignatures
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export.export_helpers import sst2_sentences
from tests.test_case import UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data


class TaskSignaturesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))

    def backbone(self):
        return BertBackbone(**tiny_backbone_config(num_layers=1))

    def test_regression_gives_a_score(self):
        model = BertClassifier(self.backbone(), 1)
        builder = signature_builder(model, self.tokenizer, 32)
        self.assertIsInstance(builder, ClassifierSignatures)
        x = {k: np.asarray(v).astype(np.int32) for k, v in
             BertPreprocessor(self.tokenizer, 32)(tf.constant(sst2_sentences(4))).items()}
        out = builder.token_outputs(builder.check_token_inputs(x, "serve_token_ids"))
        self.assertEqual(sorted(out), ["score"])
        np.testing.assert_allclose(out["score"].numpy(), model.predict(x, verbose=0)[:, 0], atol=1e-5)

    def test_too_long_token_inputs_are_refused_with_the_signature_name(self):
        builder = signature_builder(self.backbone(), self.tokenizer, 8)
        x = {k: tf.ones([1, 9], tf.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                    "serve_token_ids: sequences are longer than the maximum 8"):
            builder.check_token_inputs(x, "serve_token_ids")
        x["segment_ids"] = tf.ones([1, 5], tf.int32)
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "`segment_ids`"):
            builder.check_token_inputs(x, "serve_token_ids")

    def test_bad_set_ups_are_refused(self):
        classifier = BertClassifier(self.backbone(), 3)
        with self.assertRaisesRegex(ValueError, "2 labels given .* num_classes=3"):
            signature_builder(classifier, self.tokenizer, 32, labels=["a", "b"])
        with self.assertRaisesRegex(ValueError, "one or two distinct names"):
            signature_builder(classifier, self.tokenizer, 32, text_inputs=("a", "b", "c"))
        with self.assertRaisesRegex(ValueError, "token-id names"):
            signature_builder(classifier, self.tokenizer, 32, text_inputs=("token_ids",))
        ner = BertTokenClassifier(self.backbone(), 3)
        with self.assertRaisesRegex(ValueError, "needs `labels`"):
            TokenClassifierSignatures(ner, self.tokenizer, 32)
        with self.assertRaisesRegex(TypeError, "no serving signatures for Dense"):
            signature_builder(keras.layers.Dense(2), self.tokenizer, 32)
        with self.assertRaisesRegex(ValueError, "has no preprocessor; pass tokenizer="):
            keras_bert_pkg.export_model(classifier, self.get_temp_dir())
        with self.assertRaisesRegex(ValueError, "between 3 and the backbone's max_sequence_length 64"):
            keras_bert_pkg.export_model(classifier, self.get_temp_dir(), tokenizer=self.tokenizer,
                                  sequence_length=65)

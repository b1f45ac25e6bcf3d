"""`.keras` files written by keras_bert_pkg 0.1 (keras-hub's TransformerEncoder layout, the
vocabulary inside the config) still load, with the outputs that version gave
(tests/fixtures/legacy_0_1, made by its make_fixtures.py)."""

import warnings

import keras
import numpy as np

from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from tests.test_case import PROJECT_ROOT, TestCase

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "legacy_0_1"


class LegacyKerasFilesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.expected = dict(np.load(FIXTURES / "outputs.npz"))
        cls.inputs = {key[len("input_"):]: value for key, value in cls.expected.items()
                      if key.startswith("input_")}

    def load(self, name):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 0.1 classifier was saved with an unbuilt optimizer
            return keras.models.load_model(FIXTURES / name)

    def test_backbone(self):
        backbone = self.load("backbone.keras")
        self.assertIsInstance(backbone, BertBackbone)
        np.testing.assert_allclose(backbone(self.inputs)["sequence_output"],
                                   self.expected["backbone_sequence"], atol=1e-6)

    def test_classifier_with_its_preprocessor(self):
        classifier = self.load("classifier.keras")
        self.assertIsInstance(classifier, BertClassifier)
        np.testing.assert_allclose(classifier.predict(["w2 w3 w4", "w6"], verbose=0),
                                   self.expected["classifier_text"], atol=1e-6)
        self.assertEqual(classifier.preprocessor.tokenizer.vocabulary_size(), 50)

    def test_token_classifier(self):
        np.testing.assert_allclose(self.load("token_classifier.keras")(self.inputs),
                                   self.expected["token_classifier"], atol=1e-6)

    def test_pretrainer(self):
        pretrainer = self.load("pretrainer.keras")
        self.assertIsInstance(pretrainer, BertPretrainer)
        inputs = dict(self.inputs, masked_lm_positions=self.expected["masked_lm_positions"])
        np.testing.assert_allclose(pretrainer(inputs)["mlm_logits"], self.expected["pretrainer_mlm"], atol=1e-6)

    def test_saved_again_in_todays_layout(self):
        backbone = self.load("backbone.keras")
        loaded = self.save_and_load(backbone)
        np.testing.assert_allclose(loaded(self.inputs)["sequence_output"],
                                   self.expected["backbone_sequence"], atol=1e-6)

    def test_as_a_preset(self):
        # A 0.1 file is a checkpoint like any other: its encoder starts a new task.
        pretrainer = BertPretrainer.from_preset(str(FIXTURES / "pretrainer.keras"), strict=True)
        inputs = dict(self.inputs, masked_lm_positions=self.expected["masked_lm_positions"])
        np.testing.assert_allclose(pretrainer(inputs)["mlm_logits"], self.expected["pretrainer_mlm"], atol=1e-6)
        classifier = BertClassifier.from_preset(str(FIXTURES / "classifier.keras"), num_classes=2)
        self.assertEqual(classifier.preprocessor.tokenizer.get_vocabulary()[5], "w0")

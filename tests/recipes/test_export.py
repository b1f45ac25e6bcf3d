"""recipes/export.py: a saved .keras classifier → both SavedModels and a models.config."""

import json
import os

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export.export_helpers import sst2_sentences
from tests.recipes.test_ner import load_recipe
from tests.test_case import UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data


class ExportRecipeTest(TestCase):
    @requires_shared_data
    def test_exports_a_saved_classifier_and_writes_models_config(self):
        tmp = self.get_temp_dir()
        preprocessor = BertPreprocessor(BertTokenizer(str(UNCASED_VOCAB)), sequence_length=16)
        model = BertClassifier(BertBackbone(**tiny_backbone_config(num_layers=1)), 2,
                               preprocessor=preprocessor)
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        sentences = sst2_sentences(2)
        expected = model.predict(sentences, verbose=0)

        report = load_recipe("export").main([
            "--model", path, "--export_dir", tmp + "/savedmodels", "--export_name", "sst2",
            "--labels", "negative,positive", "--write_models_config"])
        self.assertEqual(report["path"], os.path.join(tmp, "savedmodels", "sst2", "1"))
        self.assertEqual(report["non_core_ops"], ["FastWordpieceTokenizeWithOffsets"])
        served = tf.saved_model.load(report["path"])
        out = served.signatures["serving_default"](text=tf.constant(sentences))
        np.testing.assert_allclose(out["logits"].numpy(), expected, atol=1e-5)
        self.assertEqual([s.decode() for s in out["label_name"].numpy()],
                         [["negative", "positive"][i] for i in expected.argmax(-1)])
        with open(report["models_config"]) as f:
            config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
        self.assertEqual(sorted(c.name for c in config.model_config_list.config),
                         ["sst2", "sst2_token_ids"])
        with open(os.path.join(report["path"], "assets.extra", "export_info.json")) as f:
            self.assertEqual(json.load(f)["labels"], ["negative", "positive"])

    def test_missing_model_file(self):
        with self.assertRaisesRegex(SystemExit, "no such file"):
            load_recipe("export").main(["--model", "/nonexistent/model.keras"])

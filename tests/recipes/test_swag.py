"""recipes/swag.py end to end on SWAG files written in the official format."""

import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.swag import read_swag, swag_features
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.data.test_swag import EXAMPLES, write_official_swag
from tests.recipes.test_ner import load_recipe
from tests.test_case import UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


class SwagRecipeTest(TestCase):
    def test_trains_predicts_and_exports(self):
        tmp = self.get_temp_dir()
        data = os.path.join(tmp, "data")
        os.makedirs(data)
        write_official_swag(os.path.join(data, "train.csv"), seed=1)
        labels = write_official_swag(os.path.join(data, "val.csv"), examples=EXAMPLES[:4], seed=2)
        recipe = load_recipe("swag")
        metrics = recipe.main([
            "--data_dir", data, "--vocab", str(UNCASED_VOCAB), "--architecture", "bert_tiny",
            "--max_seq_length", "40", "--epochs", "3", "--batch_size", "4",
            "--learning_rate", "1e-3", "--output_dir", tmp + "/run",
            "--export_dir", tmp + "/savedmodels"])
        with open(tmp + "/run/metrics.json") as f:
            written = json.load(f)
        self.assertEqual(written["validation"]["examples"], 4)
        self.assertEqual(len(written["history"]["loss"]), 3)
        self.assertIn("val_accuracy", written["history"])
        self.assertGreater(os.path.getsize(tmp + "/run/training_curve.png"), 1000)
        val = read_swag(os.path.join(data, "val.csv"))
        predictions = [written["predictions"][e.id] for e in val]
        accuracy = np.mean(np.array(predictions) == np.array(labels))
        self.assertAlmostEqual(written["validation"]["accuracy"], accuracy)
        self.assertEqual(metrics["validation"], written["validation"])

        # The exported SavedModel scores the four endings like the trained model did.
        export = os.path.join(tmp, "savedmodels", "swag", "1")
        self.assertEqual(written["export"], export)
        x, _ = swag_features(val, BertPreprocessor(BertTokenizer(UNCASED_VOCAB), sequence_length=40))
        served = tf.saved_model.load(export)
        logits = np.asarray(served.signatures["serve_token_ids"](
            **{k: tf.constant(v) for k, v in x.items()})["logits"])
        self.assertEqual(logits.shape, (4, 4))
        self.assertEqual(logits.argmax(-1).tolist(), predictions)

    def test_test_file_without_labels_is_refused_for_training(self):
        tmp = self.get_temp_dir()
        write_official_swag(os.path.join(tmp, "train.csv"), with_label=False)
        write_official_swag(os.path.join(tmp, "val.csv"))
        with self.assertRaisesRegex(SystemExit, "without a label"):
            load_recipe("swag").main(["--data_dir", tmp, "--vocab", str(UNCASED_VOCAB),
                                      "--architecture", "bert_tiny", "--no_export",
                                      "--output_dir", tmp + "/run"])

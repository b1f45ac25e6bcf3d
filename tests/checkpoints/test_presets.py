"""Presets: names and paths, casing from the checkpoint's own files or its vocabulary, and
`from_preset` on every model from one checkpoint."""

import os
import shutil

import numpy as np

from keras_bert_pkg.checkpoints.presets import infer_lowercase, preset_tokenizer_config, read_preset
from keras_bert_pkg.checkpoints.vocabulary_file import read_vocabulary
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import (CASED_VOCAB, CHINESE_VOCAB, MINILM_DIR, SHARED_DATA, UNCASED_VOCAB,
                             TestCase, requires_shared_data)


@requires_shared_data
class PresetsTest(TestCase):
    def test_casing_from_the_vocabulary(self):
        self.assertTrue(infer_lowercase(read_vocabulary(UNCASED_VOCAB)))
        self.assertFalse(infer_lowercase(read_vocabulary(CASED_VOCAB)))
        self.assertTrue(infer_lowercase(read_vocabulary(CHINESE_VOCAB)))
        multilingual = SHARED_DATA / "vocab" / "bert-base-multilingual-cased" / "vocab.txt"
        self.assertFalse(infer_lowercase(read_vocabulary(multilingual)))

    def test_casing_from_the_checkpoint_files(self):
        config = preset_tokenizer_config(str(MINILM_DIR))
        self.assertTrue(config["lowercase"])  # tokenizer_config.json's do_lower_case
        self.assertEqual(config["vocabulary"], str(MINILM_DIR / "vocab.txt"))
        # A copy that says the opposite in its tokenizer_config.json is believed.
        copy = self.get_temp_dir() + "/minilm_cased"
        shutil.copytree(MINILM_DIR, copy)
        with open(os.path.join(copy, "tokenizer_config.json"), "w") as f:
            f.write('{"do_lower_case": false}')
        self.assertFalse(preset_tokenizer_config(copy)["lowercase"])

    def test_every_model_from_one_checkpoint(self):
        path = str(MINILM_DIR)
        backbone = BertBackbone.from_preset(path)
        tokenizer = BertTokenizer.from_preset(path)
        preprocessor = BertPreprocessor.from_preset(path, sequence_length=64)
        self.assertEqual((tokenizer.vocabulary_size(), tokenizer.lowercase), (30522, True))
        self.assertEqual(preprocessor.sequence_length, 64)
        inputs = {k: v.numpy() for k, v in preprocessor(["This is an example sentence"]).items()}
        expected = backbone.predict(inputs, verbose=0)["sequence_output"]
        texts = ["This is an example sentence"]
        for cls, kwargs, shape in ((BertClassifier, {"num_classes": 3}, (1, 3)),
                                   (BertTokenClassifier, {"num_classes": 5}, (1, 7, 5)),
                                   (BertSpanLabeler, {}, None)):
            model = cls.from_preset(path, **kwargs)
            self.assertEqual(model.preprocessor.sequence_length, 512)
            np.testing.assert_allclose(
                model.backbone.predict(inputs, verbose=0)["sequence_output"], expected, atol=1e-6)
            if shape:
                self.assertEqual(model.predict(texts, verbose=0).shape, shape)
        choice = BertMultipleChoice.from_preset(path, num_choices=2, sequence_length=32)
        self.assertEqual(choice.predict((texts, [["a cat", "a dog"]]), verbose=0).shape, (1, 2))
        pretrainer = BertPretrainer.from_preset(path)
        self.assertTrue(pretrainer.next_sentence)  # no heads in the checkpoint: both built

    def test_names_and_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, "from_architecture"):
            read_preset("bert_base")  # an architecture, not a preset
        os.environ["KERAS_BERT_CACHE"] = self.get_temp_dir() + "/cache"
        os.environ["KERAS_BERT_OFFLINE"] = "1"
        try:
            with self.assertRaisesRegex(FileNotFoundError, "not in the cache and offline mode is on"):
                BertBackbone.from_preset("bert_base_uncased")
        finally:
            del os.environ["KERAS_BERT_CACHE"], os.environ["KERAS_BERT_OFFLINE"]

"""predict_by_length: sorted, dynamically padded batches give the outputs of fixed padding,
in the examples' order, per example and per token, from ragged or padded features."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.data.length_bucketing import length_sorted_dataset, restore_order, tokenize_to_ragged
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.models.predict_by_length import predict_by_length
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config


@requires_shared_data
class PredictByLengthTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pre = BertPreprocessor(BertTokenizer(str(UNCASED_VOCAB)), sequence_length=64)
        cls.mrpc = read_glue("mrpc", SHARED_DATA / "glue", "dev").subset(40)
        cls.features = tokenize_to_ragged(cls.pre, cls.mrpc.features)
        a, b = (tf.constant(t) for t in cls.mrpc.texts)
        cls.padded = {k: v.numpy() for k, v in cls.pre((a, b)).items()}

    def test_per_example_outputs_match_fixed_padding(self):
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=3)
        fixed = model.predict(self.padded, batch_size=32, verbose=0)
        self.assertAllClose(predict_by_length(model, self.features, batch_size=16), fixed, atol=1e-5)
        self.assertAllClose(predict_by_length(model, self.padded, batch_size=7), fixed, atol=1e-5)
        ds, order = length_sorted_dataset(self.features, batch_size=16)
        widths = [x["token_ids"].shape[1] for x in ds]
        self.assertEqual(widths, sorted(widths))
        self.assertEqual(restore_order(np.arange(5)[::-1], np.array([4, 3, 2, 1, 0])).tolist(),
                         [0, 1, 2, 3, 4])

    def test_concurrent_calls_keep_each_example_its_outputs(self):
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=3)
        alone = predict_by_length(model, self.features, batch_size=4, concurrent_calls=1)
        # 10 batches of 4, three in flight at a time: outputs come back in example order
        self.assertAllClose(predict_by_length(model, self.features, batch_size=4, concurrent_calls=3),
                            alone, atol=1e-6)
        with self.assertRaisesRegex(ValueError, "concurrent_calls must be at least 1, got 0"):
            predict_by_length(model, self.features, concurrent_calls=0)

    def test_per_token_outputs_cut_to_each_length(self):
        model = BertTokenClassifier(BertBackbone(**tiny_backbone_config()), num_classes=5)
        fixed = model.predict(self.padded, batch_size=32, verbose=0)
        rows = predict_by_length(model, self.features, batch_size=16, per_token=True)
        lengths = self.padded["padding_mask"].sum(-1)
        self.assertLen(rows, len(lengths))
        for row, expected, n in zip(rows, fixed, lengths):
            self.assertEqual(row.shape, (n, 5))
            self.assertAllClose(row, expected[:n], atol=1e-5)

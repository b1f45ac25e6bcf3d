"""In-graph packing (core ops) vs BertPreprocessor, on real GLUE text."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.text import text_packing
from keras_bert_pkg.export.backbone_signatures import BackboneSignatures
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export.export_helpers import mrpc_pairs, sst2_sentences
from tests.test_case import UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data


class TextPackingTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.a, cls.b = mrpc_pairs(24)

    def _builder(self, length):
        return BackboneSignatures(BertBackbone(**tiny_backbone_config(num_layers=1)),
                                  self.tokenizer, length)

    def test_pairs_truncate_longest_first_like_the_preprocessor(self):
        for length in (16, 40, 64):
            expected = BertPreprocessor(self.tokenizer, length, dynamic_padding=True)(
                (tf.constant(self.a), tf.constant(self.b)))
            packed = tf.function(self._builder(length).pack_texts)(
                [tf.constant(self.a), tf.constant(self.b)])
            for key in ("token_ids", "segment_ids", "padding_mask"):
                np.testing.assert_array_equal(packed[key].numpy(),
                                              np.asarray(expected[key]).astype(np.int32), key)

    def test_single_sentences_and_byte_offsets(self):
        texts = sst2_sentences(8) + ["Café “quotes” 東京 naïve"]
        packed = self._builder(24).pack_texts([tf.constant(texts)])
        expected = BertPreprocessor(self.tokenizer, 24, dynamic_padding=True)(tf.constant(texts))
        np.testing.assert_array_equal(packed["token_ids"].numpy(), expected["token_ids"].numpy())
        chars = text_packing.byte_to_char_offsets(
            tf.repeat(tf.constant(texts)[:, None], packed["starts"].shape[1], axis=1),
            packed["starts"]).numpy()
        for row, text in enumerate(texts):
            ids, offsets = self.tokenizer.encode_with_char_offsets(text)
            n = min(len(ids), 22)
            self.assertEqual(chars[row, 1:n + 1].tolist(), [s for s, _ in offsets[:n]])
            self.assertEqual(chars[row, 0], -1)  # [CLS]
            self.assertEqual(packed["segment"].numpy()[row, n + 1], -1)  # [SEP]

    def test_pair_lengths_equal_popping_from_the_longer(self):
        for la in range(0, 12):
            for lb in range(0, 12):
                for budget in (1, 5, 8, 11):
                    a, b = la, lb
                    while a + b > budget:
                        if a > b:
                            a -= 1
                        else:
                            b -= 1
                    got = text_packing.pair_lengths(tf.constant([la], tf.int64),
                                                    tf.constant([lb], tf.int64), budget)
                    self.assertEqual((int(got[0][0]), int(got[1][0])), (a, b), (la, lb, budget))

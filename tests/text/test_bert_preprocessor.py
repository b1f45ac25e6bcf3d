import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


def _mrpc_pairs(n=16):
    rows = open(SHARED_DATA / "glue" / "MRPC" / "dev.tsv", encoding="utf-8").read().splitlines()[1:]
    pairs = [r.split("\t") for r in rows[:n]]
    return [p[3] for p in pairs], [p[4] for p in pairs]


def _original_pack(ids_a, ids_b, length, cls=101, sep=102):
    """Google's `_truncate_seq_pair` + packing, written out for comparison."""
    a, b = list(ids_a), list(ids_b) if ids_b is not None else None
    budget = length - (3 if b is not None else 2)
    if b is None:
        a = a[:budget]
    else:
        while len(a) + len(b) > budget:
            (a if len(a) > len(b) else b).pop()
    tokens = [cls] + a + [sep] + ((b + [sep]) if b is not None else [])
    segments = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else [])
    pad = length - len(tokens)
    return tokens + [0] * pad, segments + [0] * pad, [1] * len(tokens) + [0] * pad


class BertPreprocessorTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB), lowercase=True)

    def test_pairs_match_original_truncation(self):
        a, b = _mrpc_pairs()
        for length in (16, 23, 64):
            pre = BertPreprocessor(self.tokenizer, sequence_length=length)
            out = pre((tf.constant(a), tf.constant(b)))
            for i in range(len(a)):
                expected = _original_pack(self.tokenizer.encode(a[i]), self.tokenizer.encode(b[i]), length)
                np.testing.assert_array_equal(out["token_ids"][i], expected[0])
                np.testing.assert_array_equal(out["segment_ids"][i], expected[1])
                np.testing.assert_array_equal(out["padding_mask"][i], np.array(expected[2], bool))

    def test_single_sentences_and_scalars(self):
        a, _ = _mrpc_pairs(4)
        pre = BertPreprocessor(self.tokenizer, sequence_length=12)
        out = pre(a)
        self.assertEqual(out["token_ids"].shape, (4, 12))
        expected = _original_pack(self.tokenizer.encode(a[0]), None, 12)
        np.testing.assert_array_equal(out["token_ids"][0], expected[0])
        scalar = pre(a[0])
        np.testing.assert_array_equal(scalar["token_ids"], expected[0])

    def test_dynamic_padding(self):
        a, b = _mrpc_pairs(8)
        pre = BertPreprocessor(self.tokenizer, sequence_length=128, dynamic_padding=True)
        out = pre((a, b))
        lengths = [len(self.tokenizer.encode(x)) + len(self.tokenizer.encode(y)) + 3 for x, y in zip(a, b)]
        self.assertEqual(out["token_ids"].shape[1], min(max(lengths), 128))
        full = BertPreprocessor(self.tokenizer, sequence_length=128)((a, b))
        width = out["token_ids"].shape[1]
        np.testing.assert_array_equal(out["token_ids"], full["token_ids"][:, :width])
        self.assertFalse(np.any(np.asarray(full["padding_mask"])[:, width:]))

    def test_in_tf_data(self):
        a, b = _mrpc_pairs(8)
        pre = BertPreprocessor(self.tokenizer, sequence_length=32)
        ds = tf.data.Dataset.from_tensor_slices(((a, b), np.arange(8))).batch(4)
        ds = ds.map(lambda x, y: (pre(x), y))
        batch, labels = next(iter(ds))
        direct = pre((a[:4], b[:4]))
        np.testing.assert_array_equal(batch["token_ids"], direct["token_ids"])

    def test_serialization(self):
        pre = BertPreprocessor(self.tokenizer, sequence_length=20, dynamic_padding=True)
        revived = self.run_serialization_test(pre)
        revived.tokenizer.set_vocabulary(self.tokenizer.get_vocabulary())  # an asset, not config
        a, b = _mrpc_pairs(3)
        np.testing.assert_array_equal(revived((a, b))["token_ids"], pre((a, b))["token_ids"])
        # The config is plain JSON and small: the vocabulary is not in it.
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(pre)))
        self.assertIsNone(config["config"]["tokenizer"]["config"]["vocabulary"])
        with self.assertRaisesRegex(ValueError, "sequence_length"):
            BertPreprocessor(self.tokenizer, sequence_length=1)
        with self.assertRaisesRegex(ValueError, "one or two segments"):
            pre((a, b, a))

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.data.length_bucketing import (
    bucketed_dataset, default_boundaries, example_lengths, length_sorted_dataset,
    num_bucketed_batches, predict_by_length, restore_order, tokenize_to_ragged)
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, tiny_backbone_config

GLUE = SHARED_DATA / "glue"


class LengthBucketingTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pre = BertPreprocessor(BertTokenizer(str(UNCASED_VOCAB)), sequence_length=64)
        cls.mrpc = read_glue("mrpc", GLUE, "dev").subset(96)
        cls.features = tokenize_to_ragged(cls.pre, cls.mrpc.features, batch_size=40)

    def test_ragged_features_are_the_packed_inputs_unpadded(self):
        a, b = (tf.constant(t) for t in self.mrpc.texts)
        dense = self.pre((a, b))
        lengths = example_lengths(self.features)
        np.testing.assert_array_equal(lengths, tf.reduce_sum(tf.cast(dense["padding_mask"], "int32"), 1))
        for key in ("token_ids", "segment_ids", "padding_mask"):
            np.testing.assert_array_equal(
                self.features[key].to_tensor(shape=[None, 64]).numpy(), dense[key].numpy())
        self.assertTrue(np.all(self.features["padding_mask"].flat_values.numpy()))
        self.assertEqual(self.features["token_ids"].dtype, tf.int32)
        # Single sentences: [CLS] ... [SEP], and the chunking does not matter.
        sst2 = read_glue("sst2", GLUE, "dev").subset(10).features
        one = tokenize_to_ragged(self.pre, sst2, batch_size=3)
        self.assertEqual(one["token_ids"].to_list(),
                         tokenize_to_ragged(self.pre, sst2)["token_ids"].to_list())
        self.assertEqual(one["token_ids"][0, 0], 101)
        with self.assertRaisesRegex(ValueError, "differ in length"):
            tokenize_to_ragged(self.pre, (["a", "b"], ["c"]))

    def test_bucketed_batches_cover_each_example_once_per_epoch(self):
        lengths = example_lengths(self.features)
        boundaries = default_boundaries(64)
        self.assertEqual(boundaries, [9, 17, 25, 33, 41, 49, 57])
        index = np.arange(len(lengths), dtype="int32")  # the label is the example index
        ds = bucketed_dataset(self.features, index, batch_size=8, boundaries=boundaries, seed=3)
        epochs = []
        for _ in range(2):
            seen, real, total, batches = [], 0, 0, 0
            for x, y in ds:
                batches += 1
                y = y.numpy()
                seen.extend(y)
                width = x["token_ids"].shape[1]
                self.assertEqual(width, lengths[y].max())  # padded to its longest row only
                bucket = np.searchsorted(boundaries, lengths[y], side="right")
                self.assertEqual(len(set(bucket)), 1)  # one length bucket a batch
                np.testing.assert_array_equal(
                    x["token_ids"].numpy()[0, : lengths[y[0]]],
                    self.features["token_ids"][y[0]].numpy())
                np.testing.assert_array_equal(x["padding_mask"].numpy().sum(1), lengths[y])
                real += lengths[y].sum()
                total += x["token_ids"].shape[0] * width
            self.assertEqual(sorted(seen), list(range(len(lengths))))
            self.assertEqual(batches, num_bucketed_batches(lengths, 8, boundaries))
            epochs.append(seen)
            # Far less padding than a fixed length of 64.
            self.assertGreater(real / total, 0.85)
            self.assertLess(lengths.sum() / (64 * len(lengths)), 0.85)
        self.assertNotEqual(epochs[0], epochs[1])  # reshuffled every epoch

    def test_predict_by_length_matches_fixed_padding(self):
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=3)
        a, b = (tf.constant(t) for t in self.mrpc.texts)
        fixed = model.predict(self.pre((a, b)), batch_size=32, verbose=0)
        sorted_out = predict_by_length(model, self.features, batch_size=16)
        self.assertAllClose(sorted_out, fixed, atol=1e-5)
        ds, order = length_sorted_dataset(self.features, batch_size=16)
        widths = [x["token_ids"].shape[1] for x in ds]
        self.assertEqual(widths, sorted(widths))
        self.assertEqual(restore_order(np.arange(5)[::-1], np.array([4, 3, 2, 1, 0])).tolist(),
                         [0, 1, 2, 3, 4])

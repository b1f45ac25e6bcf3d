import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.data.length_bucketing import (
    bucketed_dataset, default_boundaries, example_lengths, num_bucketed_batches, padded_to_ragged,
    ragged_features, tokenize_to_ragged)
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

GLUE = SHARED_DATA / "glue"


@requires_shared_data
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

    def test_labels_per_example_dict_and_per_token(self):
        features = ragged_features([[101, 7, 102], [101, 7, 8, 9, 102], [101, 5, 102]],
                                   [[0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 0]])
        positions = {"start": np.array([1, 2, 0], "int32"), "end": np.array([1, 3, 0], "int32")}
        for x, y in bucketed_dataset(features, positions, batch_size=3, boundaries=[], shuffle=False):
            self.assertEqual(x["token_ids"].shape, (3, 5))
            self.assertEqual(x["segment_ids"].numpy()[1].tolist(), [0, 0, 1, 1, 1])
            self.assertEqual(y["start"].numpy().tolist(), [1, 2, 0])
        tags = tf.ragged.constant([[-100, 1, -100], [-100, 2, 3, 4, -100], [-100, 0, -100]])
        for x, y in bucketed_dataset(features, tags, batch_size=3, boundaries=[], shuffle=False):
            self.assertEqual(y.numpy().tolist()[0], [-100, 1, -100, -100, -100])  # padded -100
            self.assertEqual(y.numpy().tolist()[1], [-100, 2, 3, 4, -100])
        padded = {"token_ids": np.array([[101, 7, 102, 0]]), "segment_ids": np.zeros((1, 4), "int32"),
                  "padding_mask": np.array([[1, 1, 1, 0]]), "labels": np.array([[-100, 1, -100, -100]])}
        ragged = padded_to_ragged(padded)
        self.assertEqual(ragged["labels"].to_list(), [[-100, 1, -100]])
        self.assertEqual(ragged["padding_mask"].dtype, tf.bool)
        with self.assertRaisesRegex(ValueError, "differ in length"):
            ragged_features([[1, 2]], [[0]])

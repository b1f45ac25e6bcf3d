"""`serve_examples` parsing: tf.Example token features → the model's input dict."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export.example_parsing import make_example, parse_examples
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export.export_helpers import mrpc_pairs
from tests.test_case import UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


class ExampleParsingTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        a, b = mrpc_pairs(4)
        packed = BertPreprocessor(tokenizer, 48, dynamic_padding=True)((tf.constant(a), tf.constant(b)))
        cls.inputs = {k: np.asarray(v).astype(np.int32) for k, v in packed.items()}
        cls.lengths = cls.inputs["padding_mask"].sum(-1)

    def test_round_trip_of_rows_of_different_lengths(self):
        serialized = [make_example(*(self.inputs[k][i, :n] for k in
                                     ("token_ids", "segment_ids", "padding_mask")))
                      for i, n in enumerate(self.lengths)]
        parsed = parse_examples(tf.constant(serialized))
        for k, v in self.inputs.items():
            np.testing.assert_array_equal(parsed[k].numpy(), v[:, :self.lengths.max()])
            self.assertEqual(parsed[k].dtype, tf.int32)

    def test_optional_features_default_to_segment_zero_and_all_real(self):
        n = int(self.lengths[0])
        parsed = parse_examples(tf.constant([make_example(self.inputs["token_ids"][0, :n])]))
        np.testing.assert_array_equal(parsed["segment_ids"].numpy(), np.zeros([1, n]))
        np.testing.assert_array_equal(parsed["padding_mask"].numpy(), np.ones([1, n]))

    def test_multiple_choice_examples_unflatten_choice_major(self):
        tokens = self.inputs["token_ids"]
        first = tokens[:2, :20]  # example 0: two choices of 20 tokens
        second = tokens[2:, :12]  # example 1: two choices of 12 tokens
        serialized = [make_example(first), make_example(second)]
        parsed = parse_examples(tf.constant(serialized), num_choices=2)["token_ids"].numpy()
        self.assertEqual(parsed.shape, (2, 2, 20))
        np.testing.assert_array_equal(parsed[0], first)
        np.testing.assert_array_equal(parsed[1, :, :12], second)
        np.testing.assert_array_equal(parsed[1, :, 12:], 0)

    def test_bad_examples_name_the_feature(self):
        good = self.inputs["token_ids"][0, :5]
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "`segment_ids`"):
            parse_examples(tf.constant([make_example(good, segment_ids=[0, 0])]))
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, "multiple of 2"):
            parse_examples(tf.constant([make_example(good)]), num_choices=2)
        with self.assertRaisesRegex(ValueError, "token_ids"):
            make_example(None, segment_ids=[0])

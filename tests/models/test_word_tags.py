"""`models.word_tags`: word tags and entities of raw text of any length.

Against the offline path (`TokenAligner.encode_texts` windows, the Keras model's
logits, `TokenAligner.decode`) with every aggregation, on real CoNLL-2003 validation
text joined into long documents (many windows each).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.conll import read_conll, tag_list
from keras_bert_pkg.data.iob2_viterbi import iob2_viterbi
from keras_bert_pkg.data.token_alignment import TokenAligner, entity_spans
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.models.word_tags import TagDecoding, tag_function, word_log_probabilities
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data, tiny_backbone_config

LENGTH = 32


def _model(tags):
    keras.utils.set_random_seed(5)
    tokenizer = BertTokenizer(str(UNCASED_VOCAB))
    return BertTokenClassifier(BertBackbone(**tiny_backbone_config()), len(tags),
                               BertPreprocessor(tokenizer, LENGTH), dropout=0.0)


def _ill_formed(tags):
    """How many `I-X` tags follow neither `B-X` nor `I-X`."""
    return sum(tag.startswith("I-") and previous[2:] != tag[2:] for previous, tag in zip(["O"] + tags, tags))


class WordTagsTest(TestCase):
    @requires_shared_data
    def test_every_aggregation_equals_the_offline_decoding_on_long_conll_text(self):
        sentences = read_conll(str(SHARED_DATA / "ner" / "conll2003" / "valid.txt"))[:120]
        tags = tag_list(sentences)
        texts = [" ".join(w for s in sentences[i:i + 12] for w in s.words) for i in range(0, 120, 12)]
        model = _model(tags)
        tokenizer = model.preprocessor.tokenizer
        ill_formed = {}
        for aggregation, stride, constrained in (("first", None, True), ("first", None, False),
                                                 ("average", 7, True), ("max", 15, False)):
            decoding = TagDecoding(stride=stride, aggregation=aggregation, constrained=constrained)
            aligner = TokenAligner(tokenizer, tags, LENGTH, stride=decoding.window_stride(LENGTH))
            features, words, spans = aligner.encode_texts(texts)
            logits = model.predict({k: features[k] for k in ("token_ids", "segment_ids", "padding_mask")},
                                   verbose=0)
            expected = aligner.decode(logits, features, aggregation=aggregation, constrained=constrained)
            out = model.tag(texts, tags, batch_size=4, stride=stride, aggregation=aggregation,
                            window_batch_size=16, constrained=constrained)
            ill_formed[aggregation, constrained] = sum(map(_ill_formed, expected))
            self.assertGreater(min(out["num_windows"]), 3)
            for i, text in enumerate(texts):
                n = int(out["num_words"][i])
                self.assertEqual(out["words"][i, :n].tolist(), words[i], aggregation)
                self.assertEqual(out["word_tags"][i, :n].tolist(), expected[i], aggregation)
                entities = entity_spans(expected[i], words[i], spans[i])
                m = int(out["num_entities"][i])
                self.assertEqual(out["entity_texts"][i, :m].tolist(),
                                 [text[e["char_start"]:e["char_end"]] for e in entities])
        # the untrained model's arg-max writes I-X after O or another type; never under the constraint
        self.assertGreater(ill_formed["first", False], 10)
        self.assertEqual((ill_formed["first", True], ill_formed["average", True]), (0, 0))

    def test_aggregations_on_a_word_of_three_sub_tokens(self):
        # Tag 0 wins the first token, tag 1 the average, tag 2 the single most sure token.
        logits = np.log(np.array([[0.5, 0.45, 0.05], [0.1, 0.6, 0.3], [0.05, 0.15, 0.8], [0.9, 0.05, 0.05]]))
        word = tf.constant([0, 0, 0, 1], tf.int64)
        first = tf.constant([0, 3], tf.int64)
        got = {a: np.argmax(word_log_probabilities(tf.constant(logits, tf.float32), word, 2, first, a), -1).tolist()
               for a in ("first", "average", "max")}
        self.assertEqual(got, {"first": [0, 0], "average": [1, 0], "max": [2, 0]})

    def test_confident_logits_decode_as_the_offline_decoding(self):
        # Margins a trained model reaches: "max" must still tell a margin of 30 from one of
        # 40 (float32 log-probabilities round both to 0), and "average" must not underflow
        # to -inf at -200 (the constrained reading then had no valid path to prefer).
        tags = ["O", "B-PER", "I-PER"]
        aligner = TokenAligner(BertTokenizer(UNCASED_VOCAB), tags, sequence_length=5)
        cases = [  # (logits of the tokens, word of each token, aggregation)
            ([[0.0, 30.0, 0.0], [40.0, 0.0, 0.0]], [0, 0], "max"),
            ([[0.0, -200.0, -200.0], [-200.0, -200.0, 0.0]], [0, 1], "average"),
        ]
        for logits, words, aggregation in cases:
            words = np.array(words)
            num_words = int(words.max()) + 1
            first = tf.constant([int(np.flatnonzero(words == w)[0]) for w in range(num_words)], tf.int64)
            graph = word_log_probabilities(tf.constant(logits, tf.float32), tf.constant(words, tf.int64),
                                           num_words, first, aggregation)
            self.assertTrue(np.isfinite(graph.numpy()).all())
            ids = iob2_viterbi(tf.RaggedTensor.from_row_lengths(graph, [num_words]), tags).to_list()[0]
            features = {"word_index": np.array([[-1, *words, -1, -1][:5]]),
                        "first_token": np.array([[0, 1, *(np.diff(words) > 0).astype(int), 0, 0][:5]], bool),
                        "max_context": np.array([[0, 1, 1, 0, 0]], bool),
                        "example_index": np.array([0]), "num_words": np.array([num_words])}
            predictions = np.zeros((1, 5, 3), np.float32)
            predictions[0, 1:3] = logits
            offline = aligner.decode(predictions, features, aggregation=aggregation)[0]
            self.assertEqual([tags[i] for i in ids], offline, aggregation)
            self.assertEqual(offline, ["O"] * num_words, aggregation)

    def test_truncation_empty_input_and_bad_options(self):
        tags = ["O", "B-PER", "I-PER"]
        model = _model(tags)
        out = model.tag(["george " * 300, ""], tags, max_tokens=100)
        self.assertEqual(out["truncated"].tolist(), [True, False])
        self.assertEqual(out["num_words"].tolist(), [100, 0])
        self.assertEqual(model.tag([], tags)["words"].shape[0], 0)
        with self.assertRaisesRegex(ValueError, "aggregation"):
            TagDecoding(aggregation="mean")
        with self.assertRaisesRegex(ValueError, "constrained"):
            TagDecoding(constrained="yes")
        with self.assertRaisesRegex(ValueError, "3 tag names for a model of 4 tags"):
            tag_function(_model(tags + ["B-LOC"]), model.preprocessor.tokenizer, LENGTH, tags, TagDecoding())

"""`keras_bert_pkg.export` of a `BertSpanLabeler`: SQuAD answers found inside the graph.

Real SQuAD v1.1 dev questions and contexts; the SavedModel runs in a fresh process
(TensorFlow and TensorFlow Text only). The reference packs the same window in Python
(`encode_with_char_offsets`), runs the Keras model, searches every valid span with a
loop and cuts the answer from the context by character offsets.
"""

import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_bert_pkg
from keras_bert_pkg.export.span_labeler_signatures import SpanLabelerSignatures
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export import export_helpers as h
from tests.export.test_export_model import _examples, _tokens
from tests.test_case import UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data

LENGTH = 64
MAX_QUERY = 16
MAX_ANSWER = 12
ATOL = 1e-5


def _reference_window(tokenizer, question, context):
    q = tokenizer.encode(question)[:MAX_QUERY]
    c, offsets = tokenizer.encode_with_char_offsets(context)
    truncated = len(c) > LENGTH - 3 - len(q)
    c, offsets = c[:LENGTH - 3 - len(q)], offsets[:LENGTH - 3 - len(q)]
    ids = [tokenizer.cls_token_id] + q + [tokenizer.sep_token_id] + c + [tokenizer.sep_token_id]
    segments = [0] * (len(q) + 2) + [1] * (len(c) + 1)
    return ids, segments, len(q) + 2, offsets, truncated


def _best(start, end, first, count):
    best = None
    for i in range(first, first + count):
        for j in range(i, min(first + count, i + MAX_ANSWER)):
            score = np.float32(start[i]) + np.float32(end[j])
            if best is None or score > best[2]:
                best = (i, j, score)
    return best


class ExportSpanLabelerTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keras.config.set_dtype_policy("float32")
        keras.utils.set_random_seed(11)
        cls.tmp = tempfile.mkdtemp(prefix="export_squad_")
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()))
        questions, contexts = h.squad_pairs(3)
        # A short context too (the first sentence), so one row is not truncated.
        cls.questions = questions + [questions[0]]
        cls.contexts = contexts + [contexts[0].split(". ")[0] + "."]
        cls.result = keras_bert_pkg.export_model(
            cls.model, os.path.join(cls.tmp, "savedmodels"), "squad", tokenizer=cls.tokenizer,
            sequence_length=LENGTH, max_query_length=MAX_QUERY, max_answer_length=MAX_ANSWER)

        windows = [_reference_window(cls.tokenizer, q, c) for q, c in zip(cls.questions, cls.contexts)]
        width = max(len(w[0]) for w in windows)
        cls.inputs = {k: np.zeros((len(windows), width), np.int32)
                      for k in ("token_ids", "segment_ids", "padding_mask")}
        for row, (ids, segments, _, _, _) in enumerate(windows):
            cls.inputs["token_ids"][row, :len(ids)] = ids
            cls.inputs["segment_ids"][row, :len(ids)] = segments
            cls.inputs["padding_mask"][row, :len(ids)] = 1
        cls.windows = windows
        cls.logits = cls.model.predict(cls.inputs, verbose=0)

        jobs = [
            {"path": cls.result.path, "signature": "serving_default",
             "inputs": {"question": h.string_input(cls.questions),
                        "context": h.string_input(cls.contexts)}},
            {"path": cls.result.path, "signature": "serve_token_ids", "inputs": _tokens(cls.inputs)},
            {"path": cls.result.path, "signature": "serve_examples",
             "inputs": {"examples": h.string_input(_examples(cls.inputs))}},
        ]
        (cls.text, cls.token, cls.examples), cls.modules = h.run_savedmodels(jobs, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def test_answers_match_the_keras_model_and_an_exhaustive_search(self):
        self.assertEqual(self.modules, [])
        for row, (question, context) in enumerate(zip(self.questions, self.contexts)):
            _, _, first, offsets, truncated = self.windows[row]
            i, j, score = _best(self.logits["start_logits"][row], self.logits["end_logits"][row],
                                first, len(offsets))
            char_start, char_end = offsets[i - first][0], offsets[j - first][1]
            self.assertEqual(self.text["answer_text"][row], context[char_start:char_end])
            self.assertEqual(int(self.text["answer_start"][row]), char_start)
            self.assertEqual(int(self.text["answer_end"][row]), char_end)
            self.assertAlmostEqual(float(self.text["score"][row]), float(score), delta=ATOL)
            null = self.logits["start_logits"][row, 0] + self.logits["end_logits"][row, 0]
            self.assertAlmostEqual(float(self.text["null_score"][row]), float(null), delta=ATOL)
            self.assertEqual(bool(self.text["truncated"][row]), truncated)
        self.assertEqual(self.text["truncated"].tolist(), [True, True, True, False])

    def test_token_signatures_match_keras(self):
        for out in (self.token, self.examples):
            width = out["start_logits"].shape[1]
            mask = self.inputs["padding_mask"][:, :width] == 1
            for key in ("start_logits", "end_logits"):
                np.testing.assert_allclose(out[key][mask], self.logits[key][:, :width][mask],
                                           atol=ATOL)
            for row in range(len(self.questions)):
                _, _, first, offsets, _ = self.windows[row]
                i, j, score = _best(self.logits["start_logits"][row],
                                    self.logits["end_logits"][row], first, len(offsets))
                self.assertEqual((int(out["start_position"][row]), int(out["end_position"][row])),
                                 (i, j))
                self.assertAlmostEqual(float(out["score"][row]), float(score), delta=ATOL)

    def test_null_threshold_turns_answers_empty(self):
        q, c = self.questions[-1:], self.contexts[-1:]
        texts = {"question": tf.constant(q), "context": tf.constant(c)}
        never = SpanLabelerSignatures(self.model, self.tokenizer, LENGTH, max_query_length=MAX_QUERY,
                                      max_answer_length=MAX_ANSWER, null_score_diff_threshold=1e9)
        always = SpanLabelerSignatures(self.model, self.tokenizer, LENGTH, max_query_length=MAX_QUERY,
                                       max_answer_length=MAX_ANSWER,
                                       null_score_diff_threshold=-1e9)
        answered = never.text_outputs(texts)
        self.assertEqual(answered["answer_text"].numpy()[0].decode(), self.text["answer_text"][-1])
        empty = always.text_outputs(texts)
        self.assertEqual(empty["answer_text"].numpy().tolist(), [b""])
        self.assertEqual(empty["answer_start"].numpy().tolist(), [-1])
        self.assertEqual(empty["answer_end"].numpy().tolist(), [-1])

    def test_question_too_long_for_the_window_is_refused(self):
        with self.assertRaisesRegex(ValueError, "no room"):
            SpanLabelerSignatures(self.model, self.tokenizer, 16, max_query_length=16)

"""`keras_bert_pkg.export` of a `BertSpanLabeler`: SQuAD answers over whole contexts.

Real SQuAD v1.1 dev questions and their whole contexts, split into several doc-stride
windows; the SavedModel runs in a fresh process (TensorFlow and TensorFlow Text only).
The reference is the offline pipeline: `convert_examples_to_features` windows, the Keras
model's logits, `postprocess_squad_predictions`. `BertSpanLabeler.answer` must give
the served answers too.
"""

import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_bert_pkg
from keras_bert_pkg.data.squad_examples import SquadExample
from keras_bert_pkg.data.squad_features import convert_examples_to_features, squad_inputs
from keras_bert_pkg.data.squad_postprocessing import postprocess_squad_predictions
from keras_bert_pkg.export.span_labeler_signatures import SpanLabelerSignatures
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler
from keras_bert_pkg.models.span_answers import SpanDecoding
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.export import export_helpers as h
from tests.export.test_export_model import _examples, _tokens
from tests.test_case import UNCASED_VOCAB, TestCase, tiny_backbone_config, requires_shared_data

pytestmark = requires_shared_data

LENGTH = 64
DECODING = SpanDecoding(doc_stride=16, max_query_length=16, max_answer_length=12, top_k=3)
ATOL = 1e-4


def _nbest_span(start, end, length, context):
    """The offline rule on one window: best of the 20 best starts x 20 best ends."""
    starts = np.argsort(-start[:length], kind="stable")[:DECODING.n_best_size]
    ends = np.argsort(-end[:length], kind="stable")[:DECODING.n_best_size]
    best = None
    for i in starts:
        for j in ends:
            if context[i] and context[j] and i <= j < i + DECODING.max_answer_length:
                score = start[i] + end[j]
                if best is None or score > best[2]:
                    best = (int(i), int(j), float(score))
    return best


class ExportSpanLabelerTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keras.config.set_dtype_policy("float32")
        keras.utils.set_random_seed(11)
        cls.tmp = tempfile.mkdtemp(prefix="export_squad_")
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))
        cls.model = BertSpanLabeler(BertBackbone(**tiny_backbone_config()),
                                    BertPreprocessor(cls.tokenizer, LENGTH))
        questions, contexts = h.squad_pairs(3)
        # A short context too (the first sentence): one window.
        cls.questions = questions + [questions[0]]
        cls.contexts = contexts + [contexts[0].split(". ")[0] + "."]
        cls.result = keras_bert_pkg.export_model(
            cls.model, os.path.join(cls.tmp, "savedmodels"), "squad", decoding=DECODING)

        # The offline pipeline on the same questions.
        cls.examples = [SquadExample(f"q{i}", q, c) for i, (q, c) in enumerate(zip(cls.questions, cls.contexts))]
        cls.features = convert_examples_to_features(cls.examples, cls.tokenizer, LENGTH, DECODING.doc_stride,
                                                    DECODING.max_query_length)
        cls.inputs = squad_inputs(cls.features)
        cls.logits = cls.model.predict(cls.inputs, verbose=0)
        cls.offline = postprocess_squad_predictions(
            cls.examples, cls.features, cls.logits["start_logits"], cls.logits["end_logits"],
            max_answer_length=DECODING.max_answer_length)

        jobs = [
            {"path": cls.result.path, "signature": "serving_default",
             "inputs": {"question": h.string_input(cls.questions),
                        "context": h.string_input(cls.contexts)}},
            {"path": cls.result.path, "signature": "serve_token_ids", "inputs": _tokens(cls.inputs)},
            {"path": cls.result.path, "signature": "serve_examples",
             "inputs": {"examples": h.string_input(_examples(cls.inputs))}},
        ]
        (cls.text, cls.token, cls.served_examples), cls.modules = h.run_savedmodels(jobs, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def test_served_answers_equal_the_offline_post_processing(self):
        self.assertEqual(self.modules, [])
        predictions, nbest, _ = self.offline
        windows = [sum(f.example_index == i for f in self.features) for i in range(len(self.examples))]
        self.assertEqual(self.text["num_windows"].tolist(), windows)
        self.assertGreater(min(windows[:3]), 2)  # whole contexts: several windows each
        self.assertEqual(self.text["truncated"].tolist(), [False] * 4)
        for row, example in enumerate(self.examples):
            answer = self.text["answer_text"][row]
            self.assertEqual(answer, predictions[example.qas_id])
            start, end = int(self.text["answer_start"][row]), int(self.text["answer_end"][row])
            self.assertEqual(example.context_text[start:end], answer)
            best = nbest[example.qas_id][0]
            self.assertAlmostEqual(float(self.text["score"][row]), best["start_logit"] + best["end_logit"],
                                   delta=ATOL)
            self.assertEqual(list(self.text["top_answers"][row]),
                             [entry["text"] for entry in nbest[example.qas_id][:3]])
            for k, text in enumerate(self.text["top_answers"][row]):
                s, e = int(self.text["top_starts"][row][k]), int(self.text["top_ends"][row][k])
                self.assertEqual(example.context_text[s:e], text)
            rows = [k for k, f in enumerate(self.features) if f.example_index == row]
            null = min(self.logits["start_logits"][k, 0] + self.logits["end_logits"][k, 0] for k in rows)
            self.assertAlmostEqual(float(self.text["null_score"][row]), float(null), delta=ATOL)

    def test_python_answer_gives_the_served_answers(self):
        out = self.model.answer(self.questions, self.contexts, batch_size=3, **vars(DECODING))
        self.assertEqual(out["answer_text"].tolist(), list(self.text["answer_text"]))
        self.assertEqual(out["top_answers"].tolist(), [list(r) for r in self.text["top_answers"]])
        np.testing.assert_array_equal(out["answer_start"], self.text["answer_start"])
        np.testing.assert_allclose(out["score"], self.text["score"], atol=ATOL)

    def test_token_signatures_match_keras(self):
        for out in (self.token, self.served_examples):
            width = out["start_logits"].shape[1]
            mask = self.inputs["padding_mask"][:, :width] == 1
            for key in ("start_logits", "end_logits"):
                np.testing.assert_allclose(out[key][mask], self.logits[key][:, :width][mask], atol=ATOL)
            for row, feature in enumerate(self.features):
                context = np.zeros(len(feature), bool)
                context[list(feature.token_to_char)] = True
                i, j, score = _nbest_span(self.logits["start_logits"][row], self.logits["end_logits"][row],
                                          len(feature), context)
                self.assertEqual((int(out["start_position"][row]), int(out["end_position"][row])), (i, j))
                self.assertAlmostEqual(float(out["score"][row]), score, delta=ATOL)

    def test_null_threshold_turns_answers_empty(self):
        q, c = self.questions[-1:], self.contexts[-1:]
        texts = {"question": tf.constant(q), "context": tf.constant(c)}
        never = SpanLabelerSignatures(self.model, self.tokenizer, LENGTH,
                                      decoding=SpanDecoding(**dict(vars(DECODING), null_score_diff_threshold=1e9)))
        always = SpanLabelerSignatures(self.model, self.tokenizer, LENGTH,
                                       decoding=SpanDecoding(**dict(vars(DECODING), null_score_diff_threshold=-1e9)))
        answered = never.text_outputs(texts)
        self.assertEqual(answered["answer_text"].numpy()[0].decode(), self.text["answer_text"][-1])
        empty = always.text_outputs(texts)
        self.assertEqual(empty["answer_text"].numpy().tolist(), [b""])
        self.assertEqual(empty["answer_start"].numpy().tolist(), [-1])
        self.assertEqual(empty["answer_end"].numpy().tolist(), [-1])
        self.assertNotEqual(empty["top_answers"].numpy()[0, 0], b"")  # the spans are still listed

    def test_question_too_long_for_the_window_is_refused(self):
        with self.assertRaisesRegex(ValueError, "no room"):
            SpanLabelerSignatures(self.model, self.tokenizer, 16, decoding=SpanDecoding(max_query_length=16))

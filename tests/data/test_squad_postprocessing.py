import json
import os
import tempfile

import numpy as np

from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.squad_features import answer_token_span, convert_examples_to_features
from keras_bert_pkg.data.squad_postprocessing import (
    postprocess_squad_predictions, write_squad_predictions)
from keras_bert_pkg.metrics.squad import evaluate_squad
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

SQUAD = SHARED_DATA / "squad"
_TOKENIZER = []


def tokenizer():
    if not _TOKENIZER:
        _TOKENIZER.append(BertTokenizer(UNCASED_VOCAB))
    return _TOKENIZER[0]


def oracle_logits(examples, features, rng):
    """Noise logits, with the gold span (first answer) at 8 in every window holding it
    whole and [CLS] at 8 for unanswerable questions (−8 otherwise)."""
    starts, ends = [], []
    offsets = {}
    for f in features:
        e = examples[f.example_index]
        s = rng.normal(0, 1, len(f))
        t = rng.normal(0, 1, len(f))
        s[0] = t[0] = -8.0
        if e.is_impossible:
            s[0] = t[0] = 8.0
        else:
            if e.context_text not in offsets:
                offsets[e.context_text] = tokenizer().encode_with_char_offsets(e.context_text)[1]
            doc = offsets[e.context_text]
            first, last = answer_token_span(doc, e.answer_start, e.answer_end)
            position = {span: p for p, span in f.token_to_char.items()}
            if doc[first] in position and doc[last] in position:
                s[position[doc[first]]] = t[position[doc[last]]] = 8.0
        starts.append(s)
        ends.append(t)
    return starts, ends


class SquadPostprocessingTest(TestCase):
    @requires_shared_data
    def test_oracle_logits_recover_real_answers_across_windows(self):
        examples = read_squad_examples(SQUAD / "v1.1" / "dev.json")[:400]
        # Short windows: most answers sit in several windows, most windows hold none.
        features = convert_examples_to_features(examples, tokenizer(), 96, 32, 24)
        self.assertGreater(len(features), 3 * len(examples))
        starts, ends = oracle_logits(examples, features, np.random.default_rng(0))
        predictions, nbest, null_odds = postprocess_squad_predictions(
            examples, features, starts, ends, n_best_size=20, max_answer_length=30)
        self.assertEqual(null_odds, {})
        self.assertEqual(list(predictions), [e.qas_id for e in examples])
        gold = {e.qas_id: e for e in examples}
        exact = sum(predictions[q] == gold[q].answer_text for q in predictions)
        self.assertGreater(exact / len(examples), 0.98)
        subset = {"data": [{"paragraphs": [{"context": e.context_text, "qas": [
            {"id": e.qas_id, "question": e.question_text, "answers": e.answers}]} for e in examples]}]}
        scores = evaluate_squad(subset, predictions, "1.1")
        self.assertGreater(scores["exact_match"], 98.0)
        for qid, entries in nbest.items():
            self.assertLessEqual(len(entries), 20)
            self.assertEqual(entries[0]["text"], predictions[qid])
            totals = [x["start_logit"] + x["end_logit"] for x in entries]
            self.assertEqual(totals, sorted(totals, reverse=True))
            self.assertAlmostEqual(sum(x["probability"] for x in entries), 1.0, places=5)
            self.assertEqual(len({x["text"] for x in entries}), len(entries))  # deduplicated
            for x in entries:  # every candidate is a piece of the context
                self.assertIn(x["text"], gold[qid].context_text)

    @requires_shared_data
    def test_v2_null_answers_and_threshold(self):
        examples = read_squad_examples(SQUAD / "v2.0" / "dev.json")[:300]
        self.assertTrue(any(e.is_impossible for e in examples))
        features = convert_examples_to_features(examples, tokenizer(), 192, 64, 32)
        starts, ends = oracle_logits(examples, features, np.random.default_rng(1))
        predictions, nbest, null_odds = postprocess_squad_predictions(
            examples, features, starts, ends, version_2_with_negative=True)
        for e in examples:
            self.assertIn("", [x["text"] for x in nbest[e.qas_id]])
            if e.is_impossible:
                self.assertEqual(predictions[e.qas_id], "")
                self.assertGreater(null_odds[e.qas_id], 0)
        answered = [e for e in examples if not e.is_impossible]
        exact = sum(predictions[e.qas_id] == e.answer_text for e in answered)
        self.assertGreater(exact / len(answered), 0.97)
        scores = evaluate_squad(SQUAD / "v2.0" / "dev.json", predictions, "2.0", null_odds=null_odds)
        self.assertGreater(scores["exact_match"], 98.0)
        self.assertGreater(scores["best_f1"], 98.0)
        # A threshold above every null odds answers every question.
        high = max(null_odds.values()) + 1
        always, _, _ = postprocess_squad_predictions(
            examples, features, starts, ends, version_2_with_negative=True,
            null_score_diff_threshold=high)
        self.assertTrue(all(always.values()))

    @requires_shared_data
    def test_span_rules(self):
        example = read_squad_examples(SQUAD / "v1.1" / "dev.json")[0]
        [feature] = convert_examples_to_features([example], tokenizer(), 384, 128, 64)
        positions = sorted(feature.token_to_char)
        first, n = positions[0], len(feature)
        base = np.zeros(n)

        def predict(start_at, end_at, **kwargs):
            s, e = base.copy(), base.copy()
            for p, v in start_at.items():
                s[p] = v
            for p, v in end_at.items():
                e[p] = v
            predictions, nbest, _ = postprocess_squad_predictions(
                [example], [feature], [s], [e], **kwargs)
            return predictions[example.qas_id], nbest[example.qas_id]

        def text(a, b):
            return example.context_text[feature.token_to_char[a][0]:feature.token_to_char[b][1]]

        # End before start is never chosen; the best valid pair is.
        answer, _ = predict({first + 5: 9, first + 1: 2}, {first + 2: 9, first + 6: 4})
        self.assertEqual(answer, text(first + 5, first + 6))
        # Longer than max_answer_length is never chosen.
        answer, _ = predict({first: 9, first + 20: 3}, {first + 40: 9, first + 22: 2},
                            max_answer_length=30)
        self.assertNotEqual(answer, text(first, first + 40))
        self.assertLessEqual(len(tokenizer().encode(answer)), 30)
        # Question tokens and [CLS] are never part of an answer (v1.1).
        answer, _ = predict({1: 20, 0: 20, first + 3: 5}, {2: 20, 0: 20, first + 4: 5})
        self.assertEqual(answer, text(first + 3, first + 4))
        # n-best is cut at n_best_size.
        _, entries = predict({first + k: 5 - 0.1 * k for k in range(10)},
                             {first + k: 5 - 0.1 * k for k in range(10)}, n_best_size=7)
        self.assertLen(entries, 7)

    def test_write_official_files(self):
        predictions = {"a": "Denver Broncos", "b": ""}
        nbest = {"a": [{"text": "Denver Broncos", "probability": 1.0, "start_logit": 1.0, "end_logit": 2.0}],
                 "b": [{"text": "", "probability": 1.0, "start_logit": 0.5, "end_logit": 0.5}]}
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_squad_predictions(tmp, predictions, nbest, {"a": -3.0, "b": 2.0})
            self.assertEqual(sorted(os.listdir(tmp)),
                             ["nbest_predictions.json", "null_odds.json", "predictions.json"])
            with open(paths["predictions"]) as f:
                self.assertEqual(json.load(f), predictions)
            with open(paths["null_odds"]) as f:
                self.assertEqual(json.load(f), {"a": -3.0, "b": 2.0})
            with open(paths["nbest"]) as f:
                self.assertEqual(json.load(f), nbest)

    @requires_shared_data
    def test_mismatched_logits(self):
        example = read_squad_examples(SQUAD / "v1.1" / "dev.json")[0]
        features = convert_examples_to_features([example], tokenizer(), 384, 128, 64)
        with self.assertRaisesRegex(ValueError, "start and"):
            postprocess_squad_predictions([example], features, [], [])
        with self.assertRaisesRegex(ValueError, "only 3"):
            postprocess_squad_predictions([example], features, [np.zeros(3)], [np.zeros(3)])

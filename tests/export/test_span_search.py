"""In-graph best span vs an exhaustive loop over the same logits."""

import numpy as np

from keras_bert_pkg.export.span_search import NO_SPAN_SCORE, best_spans
from tests.test_case import TestCase


def _reference(start, end, allowed, max_len):
    best = None
    for i in range(len(start)):
        for j in range(i, min(len(start), i + max_len)):
            if allowed[i] and allowed[j]:
                score = np.float32(start[i]) + np.float32(end[j])
                if best is None or score > best[2]:
                    best = (i, j, score)
    return best


class SpanSearchTest(TestCase):
    def test_matches_exhaustive_search(self):
        rng = np.random.default_rng(3)
        start = rng.normal(size=(6, 40)).astype(np.float32)
        end = rng.normal(size=(6, 40)).astype(np.float32)
        allowed = np.zeros((6, 40), bool)
        for row, (a, b) in enumerate([(5, 40), (10, 20), (1, 2), (30, 31), (3, 39), (0, 40)]):
            allowed[row, a:b] = True
        for max_len in (1, 3, 30):
            s, e, score, found = (t.numpy() for t in best_spans(start, end, allowed, max_len))
            for row in range(6):
                i, j, ref = _reference(start[row], end[row], allowed[row], max_len)
                self.assertTrue(found[row])
                self.assertEqual((s[row], e[row]), (i, j))
                self.assertAlmostEqual(float(score[row]), float(ref), places=5)

    def test_no_allowed_position(self):
        s, e, score, found = best_spans(np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32),
                                        np.zeros((1, 4), bool), 30)
        self.assertFalse(found.numpy()[0])
        self.assertEqual(float(score.numpy()[0]), NO_SPAN_SCORE)

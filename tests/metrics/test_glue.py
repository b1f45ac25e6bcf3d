import math

import numpy as np

from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.metrics.glue import (
    GLUE_TASK_METRICS, accuracy, f1, glue_metrics, matthews_corrcoef, pearson,
    predictions_from_logits, spearman)
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

GLUE = SHARED_DATA / "glue"


def _overlap(a, b):
    """A real, imperfect predictor: the word overlap of a sentence pair (Jaccard)."""
    a, b = set(a.lower().split()), set(b.lower().split())
    return len(a & b) / max(len(a | b), 1)


def _ranks(x):
    """Average ranks (ties share their mean rank), for the Spearman formula."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


class GlueMetricsTest(TestCase):
    @requires_shared_data
    def test_mrpc_f1_and_accuracy_against_counts(self):
        dev = read_glue("mrpc", GLUE, "dev")
        overlap = np.array([_overlap(a, b) for a, b in zip(*dev.texts)])
        predictions = (overlap > np.median(overlap)).astype("int32")
        labels = dev.labels
        tp = np.sum((predictions == 1) & (labels == 1))
        fp = np.sum((predictions == 1) & (labels == 0))
        fn = np.sum((predictions == 0) & (labels == 1))
        expected_f1 = 2 * tp / (2 * tp + fp + fn)
        result = glue_metrics("mrpc", labels, predictions)
        self.assertAllClose(result["f1"], expected_f1)
        self.assertAllClose(result["accuracy"], np.mean(predictions == labels))
        self.assertAllClose(result["score"], (expected_f1 + result["accuracy"]) / 2)
        # The heuristic is informative but far from perfect on real pairs.
        self.assertGreater(result["accuracy"], 0.55)
        self.assertLess(result["accuracy"], 0.9)
        self.assertEqual(set(glue_metrics("qqp", labels, predictions)), {"f1", "accuracy", "score"})

    @requires_shared_data
    def test_cola_matthews_against_formula(self):
        dev = read_glue("cola", GLUE, "dev")
        # Predict "acceptable" for sentences of at most 8 words.
        predictions = np.array([len(s.split()) <= 8 for s in dev.texts[0]], "int32")
        labels = dev.labels
        tp = np.sum((predictions == 1) & (labels == 1))
        tn = np.sum((predictions == 0) & (labels == 0))
        fp = np.sum((predictions == 1) & (labels == 0))
        fn = np.sum((predictions == 0) & (labels == 1))
        expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        self.assertAllClose(glue_metrics("cola", labels, predictions)["matthews_corrcoef"], expected)
        # A constant prediction has zero correlation (GLUE's convention for CoLA).
        self.assertEqual(matthews_corrcoef(labels, np.ones_like(labels)), 0.0)

    @requires_shared_data
    def test_stsb_correlations_against_formulas(self):
        dev = read_glue("stsb", GLUE, "dev")
        scores = np.array([5 * _overlap(a, b) for a, b in zip(*dev.texts)], "float32")
        labels = dev.labels.astype("float64")
        result = glue_metrics("stsb", dev.labels, scores[:, None])  # [n, 1] model output
        self.assertAllClose(result["pearson"], np.corrcoef(labels, scores)[0, 1], atol=1e-6)
        self.assertAllClose(result["spearman"],
                            np.corrcoef(_ranks(labels), _ranks(scores.astype("float64")))[0, 1],
                            atol=1e-6)
        self.assertGreater(result["pearson"], 0.3)  # word overlap tracks similarity
        self.assertTrue(math.isnan(pearson([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])))
        self.assertTrue(math.isnan(spearman([1.0, 1.0], [1.0, 2.0])))

    @requires_shared_data
    def test_accuracy_tasks_and_ax(self):
        labels = read_glue("rte", GLUE, "dev").labels
        flipped = labels.copy()
        flipped[:27] = 1 - flipped[:27]
        for task in ("sst2", "qnli", "rte", "wnli", "mnli_matched", "mnli_mismatched"):
            self.assertAllClose(glue_metrics(task, labels, flipped)["accuracy"], 250 / 277)
        three_class = np.arange(30) % 3
        self.assertAllClose(glue_metrics("ax", three_class, three_class)["matthews_corrcoef"], 1.0)
        self.assertEqual(sorted(GLUE_TASK_METRICS["stsb"]), ["pearson", "spearman"])

    def test_hand_computed_example(self):
        # TP 2, FP 0, FN 1: precision 1, recall 2/3, F1 0.8.
        self.assertAllClose(f1([1, 0, 1, 1], [1, 0, 0, 1]), 0.8)
        self.assertAllClose(accuracy([1, 0, 1, 1], [1, 0, 0, 1]), 0.75)
        self.assertEqual(f1([0, 0], [0, 0]), 0.0)

    def test_predictions_from_logits(self):
        logits = np.array([[0.1, 2.0], [3.0, -1.0], [0.0, 0.5]])
        self.assertEqual(predictions_from_logits("sst2", logits).tolist(), [1, 0, 1])
        scores = predictions_from_logits("stsb", np.array([[1.5], [4.25]]))
        self.assertEqual(scores.tolist(), [1.5, 4.25])
        with self.assertRaisesRegex(ValueError, "num_classes"):
            predictions_from_logits("mnli", np.array([1, 2]))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "differ in length: 3 vs 2"):
            accuracy([1, 0, 1], [1, 0])
        with self.assertRaisesRegex(ValueError, "Unknown GLUE task 'squad'"):
            glue_metrics("squad", [1], [1])
        with self.assertRaisesRegex(ValueError, "empty"):
            accuracy([], [])
        with self.assertRaisesRegex(ValueError, "1-D"):
            accuracy(np.zeros((2, 2)), np.zeros((2, 2)))

"""Entity-level NER scores on the real CoNLL-2003 validation tags."""

import collections
import functools

from keras_bert_pkg.data.conll import read_conll
from keras_bert_pkg.data.token_alignment import entity_spans
from keras_bert_pkg.metrics.ner import ner_scores
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data


@functools.lru_cache(maxsize=None)
def gold():
    return [s.tags for s in read_conll(SHARED_DATA / "ner" / "conll2003" / "valid.txt")]


def entity_set(tag_lists):
    return {(i, e["type"], e["start"], e["end"])
            for i, tags in enumerate(tag_lists) for e in entity_spans(tags)}


class NerScoresTest(TestCase):
    @requires_shared_data
    def test_gold_against_itself(self):
        scores = ner_scores(gold(), gold())
        self.assertEqual((scores["precision"], scores["recall"], scores["f1"]), (1.0, 1.0, 1.0))
        self.assertEqual(scores["num_true_entities"], 1842 + 1837 + 1341 + 922)
        self.assertEqual({k: v["support"] for k, v in scores["per_type"].items()},
                         {"PER": 1842, "LOC": 1837, "ORG": 1341, "MISC": 922})

    @requires_shared_data
    def test_against_an_independent_count_on_corrupted_predictions(self):
        # Corrupt the gold: drop every PER, relabel every 3rd LOC as ORG, and cut the
        # last word off every multi-word MISC. Count entity matches directly.
        predicted = []
        loc_seen = 0
        for tags in gold():
            tags = ["O" if t.endswith("PER") else t for t in tags]
            out = list(tags)
            for e in entity_spans(tags):
                if e["type"] == "LOC":
                    loc_seen += 1
                    if loc_seen % 3 == 0:
                        out[e["start"]:e["end"]] = ["B-ORG"] + ["I-ORG"] * (e["end"] - e["start"] - 1)
                if e["type"] == "MISC" and e["end"] - e["start"] > 1:
                    out[e["end"] - 1] = "O"
            predicted.append(out)
        true_set, pred_set = entity_set(gold()), entity_set(predicted)
        correct = len(true_set & pred_set)
        scores = ner_scores(gold(), predicted)
        precision = correct / len(pred_set)
        recall = correct / len(true_set)
        self.assertAlmostEqual(scores["precision"], precision, places=12)
        self.assertAlmostEqual(scores["recall"], recall, places=12)
        self.assertAlmostEqual(scores["f1"], 2 * precision * recall / (precision + recall), places=12)
        self.assertEqual(scores["num_predicted_entities"], len(pred_set))
        self.assertEqual(scores["per_type"]["PER"]["recall"], 0.0)
        by_type = collections.Counter(t for _, t, _, _ in true_set & pred_set)
        self.assertAlmostEqual(scores["per_type"]["LOC"]["recall"], by_type["LOC"] / 1837)
        self.assertLess(scores["f1"], 1.0)

    def test_strict_mode_rejects_ill_formed_entities(self):
        true = [["B-PER", "I-PER", "O"]]
        predicted = [["I-PER", "I-PER", "O"]]  # conlleval accepts an I- start
        self.assertEqual(ner_scores(true, predicted)["f1"], 1.0)
        self.assertEqual(ner_scores(true, predicted, mode="strict")["f1"], 0.0)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "sentence 0 has 2 gold tags but 1"):
            ner_scores([["O", "O"]], [["O"]])
        with self.assertRaisesRegex(ValueError, "2 gold sentences but 1"):
            ner_scores([["O"], ["O"]], [["O"]])
        with self.assertRaisesRegex(ValueError, "mode"):
            ner_scores([["O"]], [["O"]], mode="loose")

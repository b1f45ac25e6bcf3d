"""Entity-level NER scores on the real CoNLL-2003 validation tags."""

import collections
import functools

from keras_bert_pkg.data.conll import read_conll
from keras_bert_pkg.data.token_alignment import entity_spans
from keras_bert_pkg.metrics.ner import GOLD_OUTCOMES, ner_scores, seen_and_unseen_scores
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data


@functools.lru_cache(maxsize=None)
def conll(split):
    return read_conll(SHARED_DATA / "ner" / "conll2003" / f"{split}.txt")


def gold():
    return [s.tags for s in conll("valid")]


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


class SeenAndUnseenScoresTest(TestCase):
    @requires_shared_data
    def test_conll_validation_against_an_independent_count(self):
        # The validation entities whose (type, words) is tagged in CoNLL-2003's training
        # file, counted with entity_spans instead of seqeval; predictions: every third
        # gold entity dropped and every fifth word's tag set to B-MISC.
        train, valid = conll("train"), conll("valid")
        known = {(e["type"], tuple(s.words[e["start"]:e["end"]])) for s in train for e in entity_spans(s.tags)}
        predicted, n = [], 0
        for sentence in valid:
            tags = list(sentence.tags)
            for e in entity_spans(sentence.tags):
                n += 1
                if n % 3 == 0:
                    tags[e["start"]:e["end"]] = ["O"] * (e["end"] - e["start"])
            predicted.append(["B-MISC" if i % 5 == 4 else t for i, t in enumerate(tags)])

        def sides(tag_lists):
            out = {"seen": set(), "unseen": set()}
            for i, (sentence, tags) in enumerate(zip(valid, tag_lists)):
                for e in entity_spans(tags):
                    words = tuple(sentence.words[e["start"]:e["end"]])
                    out["seen" if (e["type"], words) in known else "unseen"].add((i, e["type"], e["start"], e["end"]))
            return out

        true_sides, predicted_sides = sides([s.tags for s in valid]), sides(predicted)
        scores = seen_and_unseen_scores([s.words for s in train], [s.tags for s in train],
                                        [s.words for s in valid], [s.tags for s in valid], predicted)
        overall = ner_scores([s.tags for s in valid], predicted)
        for side in ("seen", "unseen"):
            correct = len(true_sides[side] & predicted_sides[side])
            self.assertEqual(scores[side]["num_true_entities"], len(true_sides[side]))
            self.assertEqual(scores[side]["num_predicted_entities"], len(predicted_sides[side]))
            self.assertAlmostEqual(scores[side]["recall"], correct / len(true_sides[side]), places=12)
            self.assertAlmostEqual(scores[side]["precision"], correct / len(predicted_sides[side]), places=12)
            outcomes = scores[side]["gold_outcomes"]
            self.assertEqual(sum(outcomes.values()), len(true_sides[side]))
            self.assertEqual(outcomes["found"], correct)
        self.assertEqual(scores["seen"]["num_true_entities"] + scores["unseen"]["num_true_entities"],
                         overall["num_true_entities"])
        self.assertEqual(scores["seen"]["num_predicted_entities"] + scores["unseen"]["num_predicted_entities"],
                         overall["num_predicted_entities"])
        self.assertGreater(scores["unseen"]["num_true_entities"], 1000)  # a real split, not a degenerate one
        self.assertGreater(scores["seen"]["num_true_entities"], 3000)

    def test_same_words_other_type_is_unseen_and_empty_sides_score_zero(self):
        scores = seen_and_unseen_scores([["Jordan", "won"]], [["B-PER", "O"]],
                                        [["Jordan", "won"]], [["B-LOC", "O"]], [["O", "O"]])
        self.assertEqual(scores["unseen"]["num_true_entities"], 1)
        self.assertEqual(scores["seen"], {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                          "num_true_entities": 0, "num_predicted_entities": 0,
                                          "gold_outcomes": dict.fromkeys(GOLD_OUTCOMES, 0)})
        self.assertEqual(scores["unseen"]["gold_outcomes"]["not_found"], 1)

    def test_gold_outcomes(self):
        """Each gold entity is counted once, by what the predictions made of it."""
        words = [list("abcdefghij")]
        gold = [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O"]]
        cases = {  # predicted tags -> outcome of the PER entity "abc"
            "found": ["B-PER", "I-PER", "I-PER"] + ["O"] * 7,
            "cut_short": ["B-PER", "I-PER", "O"] + ["O"] * 7,
            "overrun": ["B-PER", "I-PER", "I-PER", "I-PER"] + ["O"] * 6,
            "shifted": ["O", "B-PER", "I-PER", "I-PER"] + ["O"] * 6,
            "other_type": ["O", "B-LOC", "I-LOC"] + ["O"] * 7,
            "not_found": ["O"] * 10,
        }
        for outcome, tags in cases.items():
            # the LOC and ORG entities: the ORG found, the LOC missed
            tags = tags[:7] + ["B-ORG", "I-ORG", "O"]
            with self.subTest(outcome):
                sides = seen_and_unseen_scores([], [], words, gold, [tags])
                expected = dict.fromkeys(GOLD_OUTCOMES, 0)
                expected[outcome] += 1
                expected["found"] += 1  # ORG
                expected["not_found"] += 1  # LOC
                self.assertEqual(sides["unseen"]["gold_outcomes"], expected)
                self.assertEqual(sum(sides["unseen"]["gold_outcomes"].values()),
                                 sides["unseen"]["num_true_entities"])

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "sentence 0 has 2 words but 1 training tags"):
            seen_and_unseen_scores([["a", "b"]], [["O"]], [["a"]], [["O"]], [["O"]])
        with self.assertRaisesRegex(ValueError, "1 sentences but 2 predicted tag lists"):
            seen_and_unseen_scores([], [], [["a"]], [["O"]], [["O"], ["O"]])
        with self.assertRaisesRegex(ValueError, "sentence 0 has 1 words but 2 gold tags"):
            seen_and_unseen_scores([], [], [["a"]], [["O", "O"]], [["O"]])

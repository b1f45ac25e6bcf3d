import json

from keras_bert_pkg.metrics.squad import evaluate_squad
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

pytestmark = requires_shared_data

SQUAD = SHARED_DATA / "squad"


class SquadMetricsTest(TestCase):
    def test_v1_1_google_bert_predictions_give_official_numbers(self):
        scores = evaluate_squad(SQUAD / "v1.1" / "dev.json",
                                SQUAD / "v1.1" / "dev-google-bert-predictions.json", "1.1")
        self.assertEqual(round(scores["exact_match"], 3), 84.070)
        self.assertEqual(round(scores["f1"], 3), 91.157)
        self.assertEqual(scores["total"], 1720)

    def test_v2_0_google_bert_predictions_give_official_numbers(self):
        scores = evaluate_squad(SQUAD / "v2.0" / "dev.json",
                                SQUAD / "v2.0" / "dev-google-bert-predictions.json", "2.0")
        self.assertEqual(round(scores["exact_match"], 3), 85.736)
        self.assertEqual(round(scores["f1"], 3), 88.484)
        self.assertEqual(scores["total"], 1991)
        self.assertEqual(scores["HasAns_total"] + scores["NoAns_total"], 1991)
        for key in ("best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"):
            self.assertIn(key, scores)

    def test_dicts_and_paths_agree(self):
        with open(SQUAD / "v1.1" / "dev.json") as f:
            data = json.load(f)
        with open(SQUAD / "v1.1" / "dev-google-bert-predictions.json") as f:
            predictions = json.load(f)
        from_dicts = evaluate_squad(data, predictions)
        from_list = evaluate_squad(data["data"], predictions)
        self.assertEqual(from_dicts, from_list)
        self.assertAlmostEqual(from_dicts["f1"], 91.1573, places=3)

    def test_v2_best_threshold_search_on_real_questions(self):
        with open(SQUAD / "v2.0" / "dev.json") as f:
            data = json.load(f)
        answerable, impossible = [], []
        for paragraph in data["data"][0]["paragraphs"]:
            for qa in paragraph["qas"]:
                (impossible if qa["is_impossible"] else answerable).append(qa)
        a1, a2 = answerable[:2]
        i1, i2 = impossible[:2]
        subset = {"data": [{"title": "t", "paragraphs": [{"context": "", "qas": [a1, a2, i1, i2]}]}]}
        # Gold answers for the answerable ones, some text for the unanswerable ones.
        predictions = {a1["id"]: a1["answers"][0]["text"], a2["id"]: a2["answers"][0]["text"],
                       i1["id"]: "some span", i2["id"]: "another span"}
        null_odds = {a1["id"]: 1.0, a2["id"]: 2.0, i1["id"]: 4.0, i2["id"]: 5.0}
        scores = evaluate_squad(subset, predictions, "2.0", null_odds=null_odds)
        # The official script counts odds > 1.0 as "no answer": a2 wrong, i1/i2 right.
        self.assertAlmostEqual(scores["exact_match"], 75.0)
        # Best threshold: no answer above 2.0 gets all four right.
        self.assertAlmostEqual(scores["best_exact"], 100.0)
        self.assertAlmostEqual(scores["best_exact_thresh"], 2.0)
        self.assertAlmostEqual(scores["best_f1"], 100.0)
        self.assertAlmostEqual(scores["best_f1_thresh"], 2.0)
        self.assertEqual(scores["NoAns_total"], 2)

    def test_errors_are_clear(self):
        with self.assertRaisesRegex(FileNotFoundError, "nope.json"):
            evaluate_squad(SQUAD / "v1.1" / "nope.json", {})
        with self.assertRaisesRegex(ValueError, "version"):
            evaluate_squad(SQUAD / "v1.1" / "dev.json", {}, version="3.0")
        with self.assertRaisesRegex(ValueError, "null_odds lacks"):
            evaluate_squad(SQUAD / "v2.0" / "dev.json", {"x": ""}, "2.0", null_odds={})

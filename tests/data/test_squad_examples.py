import json
import os
import tempfile

from keras_bert_pkg.data.squad_examples import read_squad_examples
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

pytestmark = requires_shared_data

SQUAD = SHARED_DATA / "squad"


class SquadExamplesTest(TestCase):
    def test_reads_real_files(self):
        # Row counts of the shared data README.
        for path, count, impossible in (
            ("v1.1/train.json", 6073, 0), ("v1.1/dev.json", 1720, 0),
            ("v2.0/train.json", 7302, None), ("v2.0/dev.json", 1991, None),
        ):
            examples = read_squad_examples(SQUAD / path, is_training=path.endswith("train.json"))
            self.assertLen(examples, count)
            n_impossible = sum(e.is_impossible for e in examples)
            if impossible is not None:
                self.assertEqual(n_impossible, impossible)
            else:  # about half of v2.0 is unanswerable
                self.assertGreater(n_impossible, count // 3)
            for e in examples:
                if e.answer_start is not None:
                    self.assertEqual(e.context_text[e.answer_start:e.answer_end], e.answer_text)
                if e.is_impossible:
                    self.assertIsNone(e.answer_text)

    def test_dev_examples_keep_all_answers(self):
        examples = read_squad_examples(SQUAD / "v1.1" / "dev.json")
        self.assertTrue(any(len(e.answers) > 1 for e in examples))

    def _write(self, data):
        tmp = tempfile.mkdtemp()
        path = os.path.join(tmp, "bad.json")
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def test_errors_name_the_file_and_question(self):
        with open(SQUAD / "v1.1" / "train.json") as f:
            data = json.load(f)
        qa = data["data"][1]["paragraphs"][2]["qas"][0]
        qa["answers"][0]["answer_start"] += 1
        path = self._write(data)
        with self.assertRaisesRegex(ValueError, r"bad\.json: article 1 .*paragraph 2, question 0 .*answer_start"):
            read_squad_examples(path, is_training=True)
        read_squad_examples(path, is_training=False)  # offsets are not used for prediction

        with open(SQUAD / "v2.0" / "dev.json") as f:
            data = json.load(f)
        data["version"] = "1.1"
        with self.assertRaisesRegex(ValueError, "is_impossible"):
            read_squad_examples(self._write(data))
        with self.assertRaisesRegex(ValueError, "'data' list"):
            read_squad_examples(self._write({"version": "1.1"}))
        with self.assertRaisesRegex(FileNotFoundError, "missing.json"):
            read_squad_examples(SQUAD / "missing.json")

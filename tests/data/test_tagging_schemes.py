"""BMES / BIOES tagged files: MSRA NER read whole (CRLF), entities counted by type, converted
to IOB2 and back, scored at entity level, and bad rows named by file and line."""

import os

from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOBES

from keras_bert_pkg.broken_files import BrokenFileError
from keras_bert_pkg.data.conll import read_bio
from keras_bert_pkg.data.tagging_schemes import entity_counts, from_iob2, to_iob2
from keras_bert_pkg.metrics.ner import ner_scores
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

MSRA = SHARED_DATA / "ner" / "msra" / "train.txt"


def _raw_sentences(path):
    """The file's (characters, tags) per sentence, read plainly: the reference."""
    sentences, chars, tags = [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                if chars:
                    sentences.append((chars, tags))
                chars, tags = [], []
                continue
            char, tag = line.split(" ")
            chars.append(char)
            tags.append(tag)
    if chars:
        sentences.append((chars, tags))
    return sentences


class TaggingSchemesTest(TestCase):
    def test_bioes_and_bmes_round_trip(self):
        bmes = ["S-PER", "B-ORG", "M-ORG", "M-ORG", "E-ORG", "O", "B-LOC", "E-LOC", "S-LOC"]
        iob2 = to_iob2(bmes, "bmes")
        self.assertEqual(iob2, ["B-PER", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC", "B-LOC"])
        self.assertEqual(from_iob2(iob2, "bmes"), bmes)
        bioes = [t.replace("M-", "I-") for t in bmes]
        self.assertEqual(to_iob2(bioes, "bioes"), iob2)
        self.assertEqual(from_iob2(iob2, "bioes"), bioes)
        # A sentence that starts inside an entity starts it there.
        self.assertEqual(to_iob2(["M-PER", "E-PER", "O"], "bmes"), ["B-PER", "I-PER", "O"])
        with self.assertRaisesRegex(ValueError, "'I-PER' is not a BMES tag"):
            to_iob2(["B-PER", "I-PER"], "bmes")

    def test_bad_rows_are_named(self):
        folder = self.get_temp_dir()
        path = os.path.join(folder, "msra_bad.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("任 B-PER\r\n正 M-PER\r\n非 E-PER\r\n\r\n華 B-ORG\r\n為 X-ORG\r\n")
        with self.assertRaisesRegex(BrokenFileError, r"msra_bad\.txt:6: tag 'X-ORG' is not a BMES tag"):
            read_bio(path, scheme="bmes")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("任 B-PER\r\n正\r\n")
        with self.assertRaisesRegex(BrokenFileError, r"msra_bad\.txt:2: expected 2 columns"):
            read_bio(path, scheme="bmes")


@requires_shared_data
class MsraTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sentences = read_bio(MSRA, scheme="bmes")
        cls.raw = _raw_sentences(MSRA)

    def test_the_whole_file_is_read(self):
        self.assertLen(self.sentences, 50289)  # SOURCE.txt
        self.assertLen(self.raw, 50289)
        for sentence, (chars, _) in zip(self.sentences, self.raw):
            self.assertEqual(sentence.words, chars)  # CRLF stripped, characters kept
        self.assertEqual(self.sentences[1].line, self.sentences[0].line + len(self.raw[0][0]) + 1)

    def test_entities_by_type(self):
        counts = entity_counts(s.tags for s in self.sentences)
        # SOURCE.txt counts B- and S- tags: LOC 36,430, ORG 20,484, PER 17,524. Six sentences
        # begin inside an entity (the corpus split a sentence inside a name: 3 PER, 3 ORG);
        # each of those starts an entity too.
        self.assertEqual(counts, {"LOC": 36430, "ORG": 20484 + 3, "PER": 17524 + 3})
        starting_inside = [tags[0] for _, tags in self.raw if tags[0][0] in "ME"]
        self.assertEqual(sorted(starting_inside), ["M-ORG"] * 3 + ["M-PER"] * 3)

    def test_back_to_bmes(self):
        """IOB2 -> BMES gives every sentence's file tags back, but for the six that begin
        inside an entity (they come back beginning it)."""
        differ = [i for i, (s, (_, tags)) in enumerate(zip(self.sentences, self.raw))
                  if from_iob2(s.tags, "bmes") != tags]
        self.assertLen(differ, 6)
        for i in differ:
            self.assertIn(self.raw[i][1][0][0], "ME")

    def test_entity_scores_match_seqeval_strict_iobes(self):
        """Scores on BMES gold through IOB2 equal seqeval's own strict IOBES scoring of the
        same tags (M- spelled I-), by type, on 2,000 MSRA sentences with perturbed
        predictions: dropped entities, shifted ends and a changed type."""
        gold_bmes = [tags for _, tags in self.raw[:2000] if tags[0][0] not in "ME"]
        gold = [to_iob2(t, "bmes") for t in gold_bmes]
        predicted = []
        for i, tags in enumerate(gold):
            tags = list(tags)
            for j, tag in enumerate(tags):
                if i % 3 == 0 and tag.startswith("B-PER"):
                    tags[j] = "B-ORG"
                elif i % 5 == 1 and tag.startswith("I-") and (j + 1 == len(tags) or tags[j + 1] == "O"):
                    tags[j] = "O"
                elif i % 7 == 2 and tag != "O":
                    tags[j] = "O"
            predicted.append(tags)
        ours = ner_scores(gold, predicted)
        as_iobes = [[t.replace("M-", "I-") for t in from_iob2(tags, "bioes")] for tags in predicted]
        gold_iobes = [[t.replace("M-", "I-") for t in tags] for tags in gold_bmes]
        theirs = seqeval_metrics.classification_report(gold_iobes, as_iobes, mode="strict", scheme=IOBES,
                                                       output_dict=True, zero_division=0)
        self.assertLess(ours["f1"], 0.95)
        self.assertAllClose(ours["f1"], theirs["micro avg"]["f1-score"], atol=1e-12)
        for kind in ("LOC", "ORG", "PER"):
            self.assertAllClose(ours["per_type"][kind]["f1"], theirs[kind]["f1-score"], atol=1e-12)
            self.assertEqual(ours["per_type"][kind]["support"], theirs[kind]["support"])

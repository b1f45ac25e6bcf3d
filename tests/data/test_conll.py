"""CoNLL / BIO readers on the real CoNLL-2003 files."""

import collections
import functools

from keras_bert_pkg.data.conll import (
    TaggedSentence, iob1_to_iob2, read_bio, read_conll, tag_list, write_bio)
from keras_bert_pkg.data.token_alignment import entity_spans
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

CONLL = SHARED_DATA / "ner" / "conll2003"


@functools.lru_cache(maxsize=None)
def conll(split):
    return read_conll(CONLL / f"{split}.txt")


def iob2_to_iob1(tags):
    """The inverse conversion (B- only where an entity follows one of the same type)."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-"):
            previous = tags[i - 1] if i else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                tag = "I-" + tag[2:]
        out.append(tag)
    return out


class ConllTest(TestCase):
    @requires_shared_data
    def test_real_counts(self):
        # Official CoNLL-2003 statistics (eng.train / eng.testa), also in SOURCE.txt.
        train, valid = conll("train"), conll("valid")
        self.assertEqual(len(train), 14041)
        self.assertEqual(len(valid), 3250)
        self.assertEqual(sum(len(s.words) for s in train), 203621)
        self.assertEqual(sum(len(s.words) for s in valid), 51362)
        self.assertEqual(len({s.document for s in train}), 946)
        self.assertEqual(len({s.document for s in valid}), 216)
        counts = collections.Counter(
            e["type"] for s in train for e in entity_spans(s.tags))
        self.assertEqual(dict(counts), {"PER": 6600, "LOC": 7140, "ORG": 6321, "MISC": 3438})
        for s in train[:200]:
            self.assertEqual(len(s.words), len(s.tags))
            self.assertNotIn("-DOCSTART-", s.words)

    @requires_shared_data
    def test_first_sentence_and_line_numbers(self):
        valid = conll("valid")
        lines = (CONLL / "valid.txt").read_text().splitlines()
        for s in (valid[0], valid[1], valid[-1]):
            first = lines[s.line - 1].split()
            self.assertEqual(first[0], s.words[0])
            self.assertEqual(first[-1], s.tags[0])
            last = lines[s.line - 1 + len(s.words) - 1].split()
            self.assertEqual(last[0], s.words[-1])

    @requires_shared_data
    def test_tag_list(self):
        self.assertEqual(
            tag_list(conll("train")),
            ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"])

    @requires_shared_data
    def test_iob1_file_converts_to_the_iob2_gold(self):
        valid = conll("valid")[:600]
        path = self.get_temp_dir() + "/valid.iob1"
        converted_any = False
        with open(path, "w") as f:
            f.write("-DOCSTART- -X- -X- O\n\n")
            for s in valid:
                iob1 = iob2_to_iob1(s.tags)
                converted_any |= iob1 != s.tags
                for word, tag in zip(s.words, iob1):
                    f.write(f"{word} NN O {tag}\n")
                f.write("\n")
        self.assertTrue(converted_any)
        back = read_conll(path)
        self.assertEqual([s.tags for s in back], [s.tags for s in valid])
        self.assertEqual([s.words for s in back], [s.words for s in valid])
        kept = read_conll(path, convert_iob1=False)
        self.assertNotEqual([s.tags for s in kept], [s.tags for s in valid])

    @requires_shared_data
    def test_iob1_to_iob2_is_identity_on_iob2(self):
        for s in conll("valid"):
            self.assertEqual(iob1_to_iob2(s.tags), s.tags)

    def test_chinese_character_bio_file(self):
        path = self.get_temp_dir() + "/zh.bio"
        sentence = list("任正非是華為的創始人")
        tags = ["B-PERSON", "I-PERSON", "I-PERSON", "O", "B-ORGANIZATION",
                "I-ORGANIZATION", "O", "O", "O", "O"]
        write_bio(path, [(sentence, tags), (list("華為"), ["B-ORGANIZATION", "I-ORGANIZATION"])])
        read = read_bio(path)
        self.assertEqual(len(read), 2)
        self.assertEqual(read[0].words, sentence)
        self.assertEqual(read[0].tags, tags)
        self.assertEqual(read[1].line, 12)

    def test_tab_separated_and_no_trailing_blank_line(self):
        path = self.get_temp_dir() + "/tabs.bio"
        with open(path, "w") as f:
            f.write("EU\tB-ORG\nrejects\tO\n\nPeter\tB-PER\nBlackburn\tI-PER")
        read = read_bio(path)
        self.assertEqual([s.words for s in read], [["EU", "rejects"], ["Peter", "Blackburn"]])

    def test_bad_lines_name_file_and_line(self):
        path = self.get_temp_dir() + "/bad.txt"
        with open(path, "w") as f:
            f.write("EU NNP B-NP B-ORG\nrejects VBZ O\n")
        with self.assertRaisesRegex(ValueError, r"bad\.txt:2: expected 4 columns"):
            read_conll(path)
        with open(path, "w") as f:
            f.write("EU NNP B-NP B-ORG\nrejects VBZ B-VP X-MISC\n")
        with self.assertRaisesRegex(ValueError, r"bad\.txt:2: tag 'X-MISC'"):
            read_conll(path)
        with self.assertRaisesRegex(ValueError, "empty or has a space"):
            write_bio(path, [TaggedSentence(["New York"], ["B-LOC"])])

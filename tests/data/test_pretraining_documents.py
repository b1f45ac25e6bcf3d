import os
import tempfile

from keras_bert_pkg.data.conll import read_bio
from keras_bert_pkg.data.pretraining_documents import (
    detect_input_format, parse_document_range, read_documents, read_text_documents,
    split_sentences, tagged_text_documents, word_joiner, write_text_documents)
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data

SAMPLE_TEXT = SHARED_DATA / "pretrain_text" / "bert_sample_text" / "sample_text.txt"
WIKITEXT = SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens"


class PretrainingDocumentsTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokenizer = BertTokenizer(str(UNCASED_VOCAB))

    def test_original_format(self):
        self.assertEqual(detect_input_format(str(SAMPLE_TEXT)), "lines")
        docs = read_text_documents(str(SAMPLE_TEXT))
        lines = [l.strip() for l in open(SAMPLE_TEXT, encoding="utf-8")]
        # One sentence a line, blank lines between documents.
        blocks, current = [], []
        for line in lines:
            if line:
                current.append(line)
            elif current:
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
        self.assertEqual(docs, blocks)
        self.assertEqual(len(docs), 3)
        tokenized = read_documents(str(SAMPLE_TEXT), self.tokenizer)
        self.assertEqual(tokenized[0][1], self.tokenizer.encode(docs[0][1]))

    def test_wikitext(self):
        self.assertEqual(detect_input_format(str(WIKITEXT)), "wikitext")
        docs = read_text_documents(str(WIKITEXT))
        raw = open(WIKITEXT, encoding="utf-8").read().splitlines()
        titles = [l for l in raw if l.startswith(" = ") and not l.startswith(" = = ")]
        self.assertEqual(len(docs), len(titles))  # one document per ` = Title = `
        self.assertEqual(len(docs), 60)
        # No heading survives as a sentence, and the number joiners are undone.
        flat = [s for d in docs for s in d]
        self.assertFalse(any(s.startswith("= ") for s in flat))
        self.assertFalse(any("@-@" in s or "@.@" in s or "@,@" in s for s in flat))
        self.assertEqual(docs[0][1], "It is closely related to the American lobster , H. americanus .")
        self.assertTrue(docs[0][0].startswith("Homarus gammarus , known as the European lobster"))
        self.assertTrue(docs[0][0].endswith("parts of the Black Sea ."))
        # <unk> becomes the [UNK] id, not "<", "unk", ">".
        tokenized = read_documents(str(WIKITEXT), self.tokenizer, document_range=slice(0, 1))
        self.assertEqual(len(tokenized), 1)
        first = tokenized[0][0]
        self.assertIn(self.tokenizer.unk_token_id, first)
        self.assertNotIn(self.tokenizer.token_to_id("<"), first)  # no "<", "un", "##k", ">"
        held_out = read_documents(str(WIKITEXT), self.tokenizer, document_range=parse_document_range("54:"))
        self.assertEqual(len(held_out), 6)

    def test_paragraphs_format(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "p.txt")
            with open(path, "w") as f:
                f.write("Mr. Smith arrived at 5 p.m. on Monday. It rained! Did he stay?\n"
                        "Next paragraph here.\n\nA second document.\n")
            docs = read_text_documents(path, "paragraphs")
        self.assertEqual(docs, [["Mr. Smith arrived at 5 p.m. on Monday.", "It rained!", "Did he stay?",
                                 "Next paragraph here."], ["A second document."]])

    def test_split_sentences(self):
        self.assertEqual(split_sentences("Then he left . J. R. R. Tolkien wrote it. (It sold.) Why?"),
                         ["Then he left .", "J. R. R. Tolkien wrote it.", "(It sold.)", "Why?"])
        self.assertEqual(split_sentences("The U.S. Army won. 1990 was next."),
                         ["The U.S. Army won.", "1990 was next."])
        self.assertEqual(split_sentences("   "), [])

    def test_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, "nope.txt"):
            read_text_documents("/nonexistent/nope.txt")
        with self.assertRaisesRegex(ValueError, "input_format"):
            read_text_documents(str(SAMPLE_TEXT), "xml")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.txt")
            with open(path, "wb") as f:
                f.write(b"fine line\n\xff\xfe broken\n")
            with self.assertRaisesRegex(ValueError, r"bad.txt:2: not valid UTF-8"):
                read_text_documents(path, "lines")
        with self.assertRaisesRegex(ValueError, "START:END"):
            parse_document_range("5")


class TaggedTextDocumentsTest(TestCase):
    def test_msra_text_round_trips_through_the_lines_format(self):
        """MSRA's characters joined back into sentences, grouped into documents in file
        order, written and read back unchanged, every character kept."""
        sentences = read_bio(SHARED_DATA / "ner" / "msra" / "train.txt", scheme="bmes")[:1000]
        words = [s.words for s in sentences]
        self.assertEqual(word_joiner(words), "")
        documents = tagged_text_documents(words, 16)
        self.assertEqual(len(documents), 63)  # 62 of 16, then 8
        self.assertEqual(len(documents[-1]), 8)
        self.assertEqual(documents[0][0], "".join(sentences[0].words))
        self.assertEqual("".join(s for d in documents for s in d).replace(" ", ""),
                         "".join(c for s in sentences for c in s.words).replace(" ", ""))
        path = os.path.join(self.get_temp_dir(), "msra.txt")
        write_text_documents(path, documents)
        self.assertEqual(read_text_documents(path, "lines"), documents)

    def test_english_words_join_with_spaces_and_bad_input_is_named(self):
        self.assertEqual(tagged_text_documents([["EU", "rejects", "German"], []], 4), [["EU rejects German"]])
        with self.assertRaisesRegex(ValueError, "sentences_per_document"):
            tagged_text_documents([["a"]], 0)
        with self.assertRaisesRegex(ValueError, "document 1: .*line break"):
            write_text_documents(os.path.join(self.get_temp_dir(), "x.txt"), [["a"], ["b\nc"]])

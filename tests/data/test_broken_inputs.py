"""A corpus of broken data files, generated for every reader: each broken file gets a
`BrokenFileError` naming the file and the line (or key) and what was expected; a UTF-8
byte-order mark and CRLF line ends read the same as the clean file."""

import json
import os
import re
import tempfile
from unittest import mock

import tensorflow as tf

from keras_bert_pkg import broken_files
from keras_bert_pkg.broken_files import BrokenFileError, text_lines
from keras_bert_pkg.data.conll import read_conll
from keras_bert_pkg.data.glue import read_glue
from keras_bert_pkg.data.pretraining_documents import read_text_documents
from keras_bert_pkg.data.pretraining_records import count_records, inspect_record_file, pretraining_record_dataset
from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.swag import read_swag
from tests.test_case import TestCase

SST2 = b"sentence\tlabel\nit is a fine film\t1\nit is a dull film\t0\n"
SQUAD = json.dumps({"version": "v2.0", "data": [{"title": "T", "paragraphs": [{
    "context": "Paris is in France.",
    "qas": [{"id": "1", "question": "Where is Paris?", "is_impossible": False,
             "answers": [{"text": "France", "answer_start": 12}]}]}]}]}, indent=1).encode()
CONLL = b"-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nfine JJ I-NP O\n\nPeter NNP B-NP B-PER\n"
SWAG = (b"video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label\n"
        b"v1,7,A man rows a fine boat.,A man,rows a fine boat,gold,away.,home.,off.,up.,0\n")
TEXT = b"The first sentence is fine. The second one follows.\n\nAnother document starts here.\n"

def _glue_rows(path):
    split = read_glue("sst2", os.path.dirname(path), "train")
    return split.texts, split.labels.tolist()


# reader name → (clean file, file name, read function, a byte string of the file to replace)
READERS = {
    "glue": (SST2, "SST-2/train.tsv", lambda p: _glue_rows(p), b"fine"),
    "squad": (SQUAD, "train.json", lambda p: read_squad_examples(p, is_training=True), b"Paris is"),
    "conll": (CONLL, "train.txt", read_conll, b"fine"),
    "swag": (SWAG, "train.csv", read_swag, b"fine"),
    "pretraining text": (TEXT, "corpus.txt", read_text_documents, b"fine"),
}

# variant → (how the clean file is broken, the error each reader gives: a regex after the file name)
BROKEN = {
    "empty": (lambda data, word: b"", {
        "glue": r":1: empty file", "squad": r": the file is empty; expected the SQuAD object",
        "conll": r": holds no tagged sentence", "swag": r": not a SWAG CSV file: missing column",
        "pretraining text": r": holds no text"}),
    "latin-1": (lambda data, word: data.replace(word, word[:1] + b"\xe9" + word[2:]), {
        "glue": r":2: not valid UTF-8", "squad": r": byte \d+ is not UTF-8", "conll": r":5: not valid UTF-8",
        "swag": r":2: not valid UTF-8", "pretraining text": r":1: not valid UTF-8"}),
    "truncated": (lambda data, word: data[: data.index(word) + 2], {
        "glue": r":2: no readable data rows", "squad": r", line \d+, column \d+: not valid JSON .*truncated",
        "conll": r":5: expected 4 columns like the first line, got 1", "swag": r":2: wrong number of fields in the row",
        "pretraining text": None}),  # a text cut short is still text
    "wrong columns": (lambda data, word: data.replace(word, word + b"\t\t" if b"\t" in data else word + b" X ,"), {
        "glue": r":2: label '' is not one of \['0', '1'\]", "squad": r"answer_start 12 gives", "conll": r":5: expected 4 columns like the first line, got 6",
        "swag": r":2: wrong number of fields", "pretraining text": None}),
    "huge line": (lambda data, word: data.replace(word, b"y" * 300_000), {
        "glue": None, "squad": r"question 0 \(id '1'\): answer_start 12 gives 'yy", "conll": None,
        "swag": r":1: not readable as CSV \(field larger than field limit", "pretraining text": None}),
}


def _write(directory, name, data):
    path = os.path.join(directory, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


class BrokenDataFilesTest(TestCase):
    def test_every_reader_names_file_and_line(self):
        checked = 0
        for variant, (breaker, expected) in BROKEN.items():
            for reader, (clean, name, read, word) in READERS.items():
                pattern = expected[reader]
                path = _write(tempfile.mkdtemp(dir=self.get_temp_dir()), name, breaker(clean, word))
                with self.subTest(variant=variant, reader=reader):
                    if pattern is None:
                        read(path)  # readable: a huge or cut text is still text
                        continue
                    with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(path)}.*(?:{pattern})"):
                        read(path)
                    checked += 1
        self.assertGreaterEqual(checked, 20)

    def test_byte_order_mark_and_crlf_read_as_the_clean_file(self):
        for reader, (clean, name, read, _) in READERS.items():
            expected = read(_write(tempfile.mkdtemp(dir=self.get_temp_dir()), name, clean))
            for label, data in (("bom", b"\xef\xbb\xbf" + clean), ("crlf", clean.replace(b"\n", b"\r\n")),
                                ("bom+crlf", b"\xef\xbb\xbf" + clean.replace(b"\n", b"\r\n"))):
                with self.subTest(reader=reader, variant=label):
                    got = read(_write(tempfile.mkdtemp(dir=self.get_temp_dir()), name, data))
                    self.assertEqual(got, expected)

    def test_text_lines_across_block_boundaries(self):
        """`text_lines` reads in blocks: with 7-byte blocks (lines cut inside, a line longer
        than a block, a character cut between bytes) it gives every line as a line-by-line
        read does, and a bad byte in a later block names its own line."""
        data = "\ufeff任正非 B-PER\r\nshort\n\n" + "a much longer line than any block\r\n" + "華為\nlast"
        path = _write(self.get_temp_dir(), "blocks.txt", data.encode("utf-8"))
        reference = data[1:].encode("utf-8").split(b"\n")
        ends = [line.decode() + "\n" for line in reference[:-1]] + [reference[-1].decode()]
        with mock.patch.object(broken_files, "TEXT_BLOCK_BYTES", 7):
            self.assertEqual(list(text_lines(path, keep_ends=True)), list(enumerate(ends, start=1)))
            self.assertEqual(list(text_lines(path)), [(i, line.rstrip("\r\n")) for i, line in enumerate(ends, start=1)])
            broken = _write(self.get_temp_dir(), "broken.txt", data.encode("utf-8").replace("華".encode(), b"\xe9"))
            with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(broken)}:5: not valid UTF-8"):
                list(text_lines(broken))
        self.assertEqual(list(text_lines(path))[-1], (6, "last"))  # the default block size

    def test_wrong_dtypes(self):
        d = self.get_temp_dir()
        cases = [
            (lambda p: read_glue("sst2", os.path.dirname(p), "train"), "SST-2/train.tsv",
             SST2.replace(b"\t1\n", b"\tpositive\n"), r":2: label 'positive' is not one of \['0', '1'\]"),
            (lambda p: read_squad_examples(p, is_training=True), "train.json",
             SQUAD.replace(b'"answer_start": 12', b'"answer_start": "12"'), r"question 0 \(id '1'\): bad answer_start '12'"),
            (read_swag, "train.csv", SWAG.replace(b",0\n", b",first\n"), r":2: label 'first' is not an integer"),
            (read_conll, "train.txt", CONLL.replace(b"B-PER", b"PERSON"), r":7: tag 'PERSON' is not a BIO tag"),
        ]
        for read, name, data, pattern in cases:
            path = _write(tempfile.mkdtemp(dir=d), name, data)
            with self.subTest(name), self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(path)}.*(?:{pattern})"):
                read(path)

    def test_missing_file_is_not_found(self):
        missing = os.path.join(self.get_temp_dir(), "nowhere", "train.txt")
        for read in (read_conll, read_swag, read_text_documents, read_squad_examples):
            with self.subTest(read.__name__), self.assertRaises(FileNotFoundError):
                read(missing)


class BrokenRecordFilesTest(TestCase):
    def _records(self, count=40):
        path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "data.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for i in range(count):
                feature = {"input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=[i] * 8))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        return path

    def test_truncated_records_name_the_file(self):
        path = self._records()
        self.assertEqual(count_records(path), 40)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2 + 5])  # inside a record's length: TensorFlow reads 20 records
        with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(path)}: \d+ bytes after the last whole record"):
            count_records(path)
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2 + 30])  # inside a record's data
        with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(path)}: cannot read TFRecords \(truncated record"):
            count_records(path)

    def test_not_records_or_not_pretraining_records(self):
        text = _write(tempfile.mkdtemp(dir=self.get_temp_dir()), "x.tfrecord", b"hello world\n" * 20)
        with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(text)}: cannot read TFRecords \(corrupted record at 0"):
            inspect_record_file(text)
        empty = _write(tempfile.mkdtemp(dir=self.get_temp_dir()), "e.tfrecord", b"")
        with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(empty)}: the file holds no records"):
            pretraining_record_dataset(empty, batch_size=2)
        other = self._records()
        with self.assertRaisesRegex(BrokenFileError, rf"^{re.escape(other)}: not a BERT pre-training record; missing feature"):
            pretraining_record_dataset(other, batch_size=2)

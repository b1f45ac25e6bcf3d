"""SWAG reader and features, on files written in the official CSV format.

The official files (github.com/rowanz/swagaf, data/{train,val,test}.csv) are not
available offline; `write_official_swag` writes the same columns (with the unnamed
leading index column of the real files) holding examples written for these tests.
"""

import csv

import numpy as np

from keras_bert_pkg.data.swag import SwagExample, read_swag, swag_features
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import UNCASED_VOCAB, TestCase, requires_shared_data

OFFICIAL_HEADER = ["", "video-id", "fold-ind", "startphrase", "sent1", "sent2",
                   "gold-source", "ending0", "ending1", "ending2", "ending3", "label"]

# (video-id, fold-ind, sent1, sent2, correct ending, three wrong endings)
EXAMPLES = [
    ("anetv_Kx8fSxk3pzw", "18234", "A man in a red jacket kneels beside a canoe on a rocky shore.",
     "He", "pushes the canoe into the water and climbs in carefully.",
     ["eats the paddle while the canoe floats over the mountains.",
      "paints the canoe's shadow onto the clouds above him.",
      "folds the canoe into a small square and mails it."]),
    ("lsmdc3012_CHRONICLE-5263", "4410", "Someone pours boiling water into a teapot.",
     "She", "sets the kettle down and waits for the tea to steep.",
     ["swallows the teapot whole and smiles.",
      "hands the water to a passing giraffe, then leaves.",
      "throws the kettle through the closed window and sits."]),
    ("anetv_7mJ2Wd0PAq8", "9021", "A young girl stands on a diving board above a pool.",
     "The girl", "bounces twice and dives headfirst into the water.",
     ["climbs into the sky on a ladder made of towels.",
      "reads a newspaper aloud to the lifeguard's chair.",
      "irons her swimsuit on the end of the board."]),
    ("lsmdc0043_Thelma_and_Luise-68271", "15512",
     "Someone's car skids to a stop in front of the diner.",
     "Someone", "gets out, slams the door and looks around the empty lot.",
     ["plants a tree in the back seat of the car.",
      "sings to the diner until it drives away.",
      "peels the road off the ground like a sticker."]),
    ("anetv_Q1dBvx5sPHk", "302", "Two men sit at a table with a chessboard between them.",
     "One of the men", "moves a knight forward and presses the clock.",
     ["eats the queen and asks for more salt.",
      "turns the table into a boat and rows away.",
      "knits a sweater for the chessboard."]),
    ("anetv_dFr3k2mYh1E", "7788", "A woman holds a leash as a small dog runs ahead of her in a park.",
     "The dog", "stops to sniff a tree, then trots back to her.",
     ["opens a bank account at the fountain.",
      "drives the woman home in a small red car.",
      'recites a poem called "Leash" to the pigeons.']),
    ("lsmdc1008_Spider-Man2-75503", "11876",
     "Through the window, snow falls over the quiet city street.",
     "Someone", "pulls the curtain shut and switches off the lamp.",
     ["pours the snow into a teacup and drinks the street.",
      "shovels the window onto the roof.",
      "mails the city to his aunt, with a stamp."]),
    ("anetv_h0Lr5sZ8wQo", "6023", "A chef slices an onion on a wooden cutting board.",
     "He", "sweeps the pieces into a hot pan with the flat of the knife.",
     ["hangs the onion on the wall like a painting.",
      "plays the cutting board like a violin for the guests.",
      "buries the knife in the garden and waters it."]),
]


def write_official_swag(path, with_label=True, examples=EXAMPLES, seed=0):
    """Writes `examples` as an official SWAG CSV file; returns the gold labels."""
    rng = np.random.default_rng(seed)
    labels = []
    header = OFFICIAL_HEADER if with_label else OFFICIAL_HEADER[:-1]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i, (video, fold, sent1, sent2, correct, wrong) in enumerate(examples):
            label = int(rng.integers(4))
            endings = list(wrong)
            endings.insert(label, correct)
            row = [i, video, fold, f"{sent1} {sent2}", sent1, sent2, "gold"] + endings
            writer.writerow(row + [label] if with_label else row)
            labels.append(label)
    return labels


class SwagTest(TestCase):
    def test_read_official_format(self):
        path = self.get_temp_dir() + "/val.csv"
        labels = write_official_swag(path)
        self.assertGreater(len(set(labels)), 1)
        examples = read_swag(path)
        self.assertEqual(len(examples), len(EXAMPLES))
        for example, label, source in zip(examples, labels, EXAMPLES):
            self.assertEqual(example.id, f"{source[0]}-{source[1]}")
            self.assertEqual(example.context, source[2])
            self.assertEqual(example.start, source[3])
            self.assertEqual(example.label, label)
            self.assertEqual(example.endings[label], source[4])
            self.assertEqual(len(example.endings), 4)
            self.assertEqual(example.gold_source, "gold")
        self.assertIn('"Leash"', " ".join(examples[5].endings))  # quotes survive
        self.assertIn("with a stamp", " ".join(examples[6].endings))  # commas too

    @requires_shared_data
    def test_test_file_without_labels(self):
        path = self.get_temp_dir() + "/test.csv"
        write_official_swag(path, with_label=False)
        examples = read_swag(path)
        self.assertTrue(all(e.label is None for e in examples))
        features, labels = swag_features(examples, BertPreprocessor(
            BertTokenizer(UNCASED_VOCAB), sequence_length=32))
        self.assertIsNone(labels)
        self.assertEqual(features["token_ids"].shape, (len(EXAMPLES), 4, 32))

    @requires_shared_data
    def test_features_pack_context_and_start_plus_ending(self):
        path = self.get_temp_dir() + "/val.csv"
        write_official_swag(path)
        examples = read_swag(path)
        tokenizer = BertTokenizer(UNCASED_VOCAB)
        features, labels = swag_features(examples, BertPreprocessor(tokenizer, sequence_length=48),
                                         batch_size=5)
        self.assertEqual(labels.tolist(), [e.label for e in examples])
        for k in ("token_ids", "segment_ids", "padding_mask"):
            self.assertEqual(features[k].shape, (len(examples), 4, 48))
            self.assertEqual(features[k].dtype, np.int32)
        for i in (0, 7):
            for j in range(4):
                a = tokenizer.encode(examples[i].context)
                b = tokenizer.encode(examples[i].start + " " + examples[i].endings[j])
                expected = [tokenizer.cls_token_id] + a + [tokenizer.sep_token_id] + b + [
                    tokenizer.sep_token_id]
                n = len(expected)
                self.assertEqual(features["token_ids"][i, j, :n].tolist(), expected)
                self.assertEqual(features["segment_ids"][i, j, :n].tolist(),
                                 [0] * (len(a) + 2) + [1] * (len(b) + 1))
                self.assertEqual(int(features["padding_mask"][i, j].sum()), n)

    @requires_shared_data
    def test_long_pairs_are_truncated(self):
        path = self.get_temp_dir() + "/val.csv"
        write_official_swag(path)
        examples = read_swag(path)
        features, _ = swag_features(examples, BertPreprocessor(
            BertTokenizer(UNCASED_VOCAB), sequence_length=12))
        self.assertTrue(np.all(features["padding_mask"].sum(-1) == 12))
        self.assertTrue(np.all(features["token_ids"][..., -1] == 102))  # [SEP] last

    @requires_shared_data
    def test_bad_files_name_file_and_line(self):
        path = self.get_temp_dir() + "/bad.csv"
        with open(path, "w") as f:
            f.write("video-id,sent1,ending0\nx,a,b\n")
        with self.assertRaisesRegex(ValueError, r"bad\.csv: not a SWAG CSV file.*sent2"):
            read_swag(path)
        write_official_swag(path)
        lines = open(path).read().splitlines()
        lines[3] = lines[3].rsplit(",", 1)[0] + ",7"
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        with self.assertRaisesRegex(ValueError, r"bad\.csv:4: label 7 is not in 0\.\.3"):
            read_swag(path)
        with self.assertRaisesRegex(ValueError, "has 3 endings"):
            swag_features([SwagExample("a", "c", "s", ["x", "y", "z", "w"], 0),
                           SwagExample("b", "c", "s", ["x", "y", "z"], 0)],
                          BertPreprocessor(BertTokenizer(UNCASED_VOCAB), sequence_length=8))

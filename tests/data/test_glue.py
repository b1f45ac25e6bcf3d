import os

import numpy as np

from keras_bert_pkg.broken_files import BrokenFileError
from keras_bert_pkg.data.glue import (
    GLUE_TASKS, GlueFormatError, glue_task, read_glue, write_predictions, write_submission)
from tests.data.glue_layout import GLUE, write_ax_full, write_mnli, write_qqp
from tests.test_case import TestCase, requires_shared_data

# Row counts and label counts of the real files, as their SOURCE.txt records them.
REAL_SPLITS = {
    ("cola", "train"): (8551, {1: 6023, 0: 2528}),
    ("cola", "dev"): (1043, {1: 721, 0: 322}),
    ("cola", "test"): (1063, None),
    ("sst2", "train"): (67349, {0: 29780, 1: 37569}),
    ("sst2", "dev"): (872, {1: 444, 0: 428}),
    ("sst2", "test"): (1821, None),
    ("mrpc", "train"): (3667, {1: 2473, 0: 1194}),
    ("mrpc", "dev"): (408, {1: 279, 0: 129}),
    ("mrpc", "test"): (1725, None),
    ("stsb", "train"): (5749, None),
    ("stsb", "dev"): (1500, None),
    ("stsb", "test"): (1379, None),
    ("rte", "train"): (2490, {0: 1249, 1: 1241}),  # 0 = entailment
    ("rte", "dev"): (277, {0: 146, 1: 131}),
    ("rte", "test"): (3000, None),
    ("wnli", "train"): (635, {1: 312, 0: 323}),
    ("wnli", "dev"): (71, {0: 40, 1: 31}),
    ("wnli", "test"): (146, None),
    ("qnli", "dev"): (5463, {0: 2702, 1: 2761}),
    ("qnli", "test"): (5463, None),
    ("ax", "test"): (1104, None),
}


def _write(path, text, mode="w"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(text)
    return path


class ReadRealGlueTest(TestCase):
    @requires_shared_data
    def test_every_real_file(self):
        for (task, split), (rows, label_counts) in REAL_SPLITS.items():
            data = read_glue(task, GLUE, split)
            self.assertEqual(len(data), rows, (task, split))
            self.assertEqual(data.num_skipped, 0, (task, split))
            self.assertEqual(len(data.texts), 2 if glue_task(task).is_pair else 1)
            for column in data.texts:
                self.assertEqual(len(column), rows)
                self.assertTrue(all(isinstance(t, str) for t in column))
            if label_counts is not None:
                values, counts = np.unique(data.labels, return_counts=True)
                self.assertEqual(dict(zip(values.tolist(), counts.tolist())), label_counts, task)
            elif split == "test":
                self.assertIsNone(data.labels)
                self.assertEqual(data.ids[:3], ["0", "1", "2"], task)

    @requires_shared_data
    def test_quirks_and_columns(self):
        # MRPC: the header starts with a byte-order mark; quotes are text, not quoting.
        mrpc = read_glue("mrpc", GLUE, "dev")
        self.assertEqual(mrpc.texts[1][0][:2], '" ')
        self.assertEqual(mrpc.labels[:3].tolist(), [1, 0, 0])
        rebuilt = read_glue("mrpc", GLUE, "train", path=GLUE / "MRPC" / "train.rebuilt.tsv")
        self.assertEqual(len(rebuilt), 3668)
        # CoLA train/dev have no header: sentence in column 4, label in column 2.
        cola = read_glue("cola", GLUE, "train")
        self.assertEqual(cola.texts[0][0],
                         "Our friends won't buy this analysis, let alone the next one we propose.")
        self.assertEqual(cola.ids[0], "1")  # line number
        # STS-B: float scores in [0, 5].
        stsb = read_glue("stsb", GLUE, "dev")
        self.assertEqual(stsb.labels.dtype, np.float32)
        self.assertEqual(stsb.labels[:2].tolist(), [5.0, 4.75])
        self.assertTrue(0.0 <= stsb.labels.min() and stsb.labels.max() <= 5.0)
        # Task folder given directly; aliases.
        self.assertEqual(len(read_glue("SST-2", GLUE / "SST-2", "dev")), 872)
        self.assertEqual(glue_task("STS-B").num_classes, 1)
        self.assertEqual(glue_task("mnli").num_classes, 3)
        sub = read_glue("sst2", GLUE, "dev").subset(5, seed=0)
        self.assertEqual(len(sub), 5)
        self.assertEqual(len(set(sub.ids)), 5)

    def test_all_tasks_are_known(self):
        self.assertEqual(sorted(GLUE_TASKS), sorted(
            ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "ax"]))


@requires_shared_data
class WrittenGlueTest(TestCase):
    def test_mnli_layout(self):
        root = self.get_temp_dir()
        write_mnli(root)
        train = read_glue("mnli", root, "train")
        self.assertEqual(len(train), 40)
        self.assertEqual(train.labels[:4].tolist(), [0, 1, 2, 0])
        dev = read_glue("mnli", root, "dev")  # "dev" is dev_matched
        self.assertEqual(dev.split, "dev_matched")
        self.assertEqual(len(dev), 24)
        mismatched = read_glue("mnli", root, "dev_mismatched")
        self.assertNotEqual(mismatched.texts[0][0], dev.texts[0][0])
        test = read_glue("mnli", root, "test_mismatched")
        self.assertIsNone(test.labels)
        path = write_submission("mnli", test, np.arange(len(test)) % 3, root + "/out")
        self.assertEqual(os.path.basename(path), "MNLI-mm.tsv")
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "index\tprediction")
        self.assertEqual(lines[1:4], ["0\tcontradiction", "1\tentailment", "2\tneutral"])
        self.assertEqual(len(lines), len(test) + 1)

    def test_qqp_short_rows_are_skipped_and_counted(self):
        root = self.get_temp_dir()
        write_qqp(root, broken_rows=2)
        train = read_glue("qqp", root, "train")
        self.assertEqual(len(train), 38)
        self.assertEqual(train.skipped, [2, 3, 4, 5])  # two questions broken over two lines
        self.assertEqual(train.ids[0], "102")
        test = read_glue("qqp", root, "test")
        self.assertEqual(test.ids[:2], ["0", "1"])
        # Strict reading turns the quirk into an error naming the file and line.
        with self.assertRaisesRegex(GlueFormatError, r"train\.tsv:2: "):
            read_glue("qqp", root, "train", max_skipped_fraction=0, max_skipped_rows=0)

    def test_ax(self):
        root = self.get_temp_dir()
        write_ax_full(root)
        full = read_glue("ax", root, "full")
        self.assertEqual(len(full), 30)
        self.assertEqual(full.labels[:3].tolist(), [0, 1, 2])
        real = read_glue("ax", GLUE, "test")
        self.assertEqual(full.texts[0][:5], real.texts[0][:5])
        path = write_submission("ax", real, np.ones(len(real), "int32"), root + "/out")
        self.assertEqual(os.path.basename(path), "AX.tsv")
        with open(path) as f:
            self.assertEqual(f.read().splitlines()[1], "0\tentailment")

    def test_submission_and_prediction_files(self):
        tmp = self.get_temp_dir()
        stsb = read_glue("stsb", GLUE, "test")
        scores = np.linspace(-1.0, 6.0, len(stsb))[:, None]  # [n, 1] like the model
        with open(write_submission("stsb", stsb, scores, tmp)) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[1], "0\t0.000")
        self.assertEqual(lines[-1], f"{stsb.ids[-1]}\t5.000")
        self.assertEqual(os.path.basename(f.name), "STS-B.tsv")
        rte = read_glue("rte", GLUE, "test")
        with open(write_submission("rte", rte, np.zeros(len(rte), "int32"), tmp)) as f:
            self.assertEqual(f.read().splitlines()[1], "0\tentailment")
        with self.assertRaisesRegex(ValueError, "predictions for"):
            write_submission("rte", rte, [0, 1], tmp)
        with self.assertRaisesRegex(ValueError, "No GLUE submission"):
            write_submission("rte", read_glue("rte", GLUE, "dev"), np.zeros(277), tmp)
        dev = read_glue("wnli", GLUE, "dev")
        path = write_predictions("wnli", dev, dev.labels, tmp + "/p.tsv",
                                 scores=np.zeros((len(dev), 2)))
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "index\tprediction\tlabel\tlogit_0\tlogit_1")
        self.assertEqual(lines[1].split("\t")[:3], ["0", "0", "0"])


class MalformedGlueTest(TestCase):
    def test_errors_name_file_and_line(self):
        d = self.get_temp_dir()
        header = "index\tsentence1\tsentence2\tlabel\n"
        rte = os.path.join(d, "RTE")
        os.makedirs(rte)
        _write(os.path.join(rte, "train.tsv"), header + "0\ta\tb\tentailment\n1\tc\td\tmaybe\n")
        with self.assertRaisesRegex(GlueFormatError, r"RTE/train\.tsv:3: label 'maybe'"):
            read_glue("rte", d, "train")
        _write(os.path.join(rte, "dev.tsv"), "index\tsentence1\tsentence2\n0\ta\tb\n")
        with self.assertRaisesRegex(GlueFormatError, r"dev\.tsv:1: .*'label'"):
            read_glue("rte", d, "dev")
        _write(os.path.join(rte, "test.tsv"), "index,sentence1,sentence2\n0,a,b\n")
        with self.assertRaisesRegex(GlueFormatError, r"test\.tsv:1: header has no 'sentence1'"):
            read_glue("rte", d, "test")
        stsb = os.path.join(d, "STS-B")
        os.makedirs(stsb)
        head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        _write(os.path.join(stsb, "dev.tsv"), head + "0\tg\tf\ty\t0\tn\tn\ta\tb\tfive\n")
        with self.assertRaisesRegex(GlueFormatError, r"dev\.tsv:2: score 'five'"):
            read_glue("stsb", d, "dev")
        _write(os.path.join(stsb, "train.tsv"), head.encode() + b"0\tg\tf\ty\t0\tn\tn\t\xff\tb\t1\n", "wb")
        with self.assertRaisesRegex(BrokenFileError, r"train\.tsv:2: not valid UTF-8"):
            read_glue("stsb", d, "train")
        _write(os.path.join(stsb, "test.tsv"), "")
        with self.assertRaisesRegex(GlueFormatError, r"test\.tsv:1: empty file"):
            read_glue("stsb", d, "test")
        cola = os.path.join(d, "CoLA")
        os.makedirs(cola)
        # A CSV file where a TSV is expected: every row short.
        _write(os.path.join(cola, "train.tsv"), "".join(f"gj04,1,,sentence {i}\n" for i in range(30)))
        with self.assertRaisesRegex(GlueFormatError, r"CoLA/train\.tsv:1: no readable data rows"):
            read_glue("cola", d, "train")
        with self.assertRaises(FileNotFoundError):
            read_glue("cola", d, "dev")
        with self.assertRaisesRegex(ValueError, "Unknown GLUE task 'squad'"):
            read_glue("squad", d)
        with self.assertRaisesRegex(ValueError, "no split 'validation'"):
            read_glue("cola", d, "validation")

    def test_windows_line_ends_and_blank_lines(self):
        d = self.get_temp_dir()
        _write(os.path.join(d, "dev.tsv"),
               "sentence\tlabel\r\ngood film \t1\r\n\r\nbad film\t0\r\n")
        data = read_glue("sst2", d, "dev")
        self.assertEqual(data.texts[0], ["good film ", "bad film"])
        self.assertEqual(data.labels.tolist(), [1, 0])

"""Writes GLUE files in the official download layout for the tasks that are not in
../shared/data (QQP, MNLI, the labelled AX diagnostics), filled with real sentence pairs
from the GLUE files that are there (RTE, QNLI)."""

import os
import shutil

from keras_bert_pkg.data.glue import read_glue
from tests.test_case import SHARED_DATA

GLUE = SHARED_DATA / "glue"
MNLI_TRAIN_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
                     "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
                     "sentence1", "sentence2", "label1", "gold_label"]
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:-1] + ["label2", "label3", "label4", "label5", "gold_label"]
MNLI_TEST_HEADER = MNLI_TRAIN_HEADER[:10]
MNLI_LABELS = ("contradiction", "entailment", "neutral")


def _write(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(str(v) for v in row) + "\n")
    return path


def _pairs(task, split, count, offset=0):
    data = read_glue(task, GLUE, split)
    a, b = data.texts
    return [(a[i], b[i]) for i in range(offset, offset + count)]


def write_mnli(root, train=40, dev=24, test=12):
    """MNLI: train, dev_matched, dev_mismatched, test_matched, test_mismatched."""
    pairs = _pairs("rte", "train", train + 2 * dev + 2 * test)

    def parse(s):
        return "( " + " ".join(s.split()[:4]) + " )"

    def row(i, a, b, labels, n_label_columns):
        gold = labels[i % 3]
        cols = [i, 1000 + i, f"{1000 + i}e", "fiction", parse(a), parse(b), parse(a), parse(b), a, b]
        return cols + [gold] * n_label_columns

    d = os.path.join(root, "MNLI")
    _write(os.path.join(d, "train.tsv"), MNLI_TRAIN_HEADER,
           [row(i, a, b, MNLI_LABELS, 2) for i, (a, b) in enumerate(pairs[:train])])
    start = train
    for name in ("dev_matched", "dev_mismatched"):
        chunk = pairs[start:start + dev]
        _write(os.path.join(d, f"{name}.tsv"), MNLI_DEV_HEADER,
               [row(i, a, b, MNLI_LABELS, 6) for i, (a, b) in enumerate(chunk)])
        start += dev
    for name in ("test_matched", "test_mismatched"):
        chunk = pairs[start:start + test]
        _write(os.path.join(d, f"{name}.tsv"), MNLI_TEST_HEADER,
               [row(i, a, b, MNLI_LABELS, 0) for i, (a, b) in enumerate(chunk)])
        start += test
    return d


def write_qqp(root, train=40, dev=24, test=12, broken_rows=1):
    """QQP: id, qid1, qid2, question1, question2, is_duplicate; `broken_rows` training
    questions are split across two lines, as in the real file (short rows)."""
    questions = read_glue("qnli", GLUE, "dev").texts[0]
    rows = []
    for i in range(train + dev):
        q1, q2 = questions[2 * i], questions[2 * i + 1] if i % 2 else questions[2 * i]
        rows.append([100 + i, 2 * i, 2 * i + 1, q1, q2, int(q1 == q2)])
    d = os.path.join(root, "QQP")
    train_lines = []
    for i, r in enumerate(rows[:train]):
        if i < broken_rows:  # "question one\n continues\tquestion two\t0"
            head, tail = r[3][: len(r[3]) // 2], r[3][len(r[3]) // 2:]
            train_lines.append([r[0], r[1], r[2], head])
            train_lines.append([tail, r[4], r[5]])
        else:
            train_lines.append(r)
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    _write(os.path.join(d, "train.tsv"), header, train_lines)
    _write(os.path.join(d, "dev.tsv"), header, rows[train:])
    test_q = questions[2 * (train + dev):]
    _write(os.path.join(d, "test.tsv"), ["id", "question1", "question2"],
           [[i, test_q[2 * i], test_q[2 * i + 1]] for i in range(test)])
    return d


def write_ax_full(root, count=30):
    """The labelled diagnostics file (`diagnostic-full.tsv`) with the real AX pairs."""
    ax = read_glue("ax", GLUE, "test")
    header = ["Lexical Semantics", "Predicate-Argument Structure", "Logic", "Knowledge",
              "Domain", "Premise", "Hypothesis", "Label"]
    rows = [["", "", "Negation", "", "Artificial", ax.texts[0][i], ax.texts[1][i],
             MNLI_LABELS[i % 3]] for i in range(count)]
    return _write(os.path.join(root, "AX", "diagnostic-full.tsv"), header, rows)


def copy_real_task(root, directory):
    """Copies the real files of `directory` (e.g. AX) to sit beside written ones."""
    target = os.path.join(root, directory)
    if not os.path.exists(target):
        shutil.copytree(GLUE / directory, target)
        for name in os.listdir(target):  # the shared files are read-only
            os.chmod(os.path.join(target, name), 0o644)
    return target

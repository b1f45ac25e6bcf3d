"""GLUE: readers for the standard download layout, and the official submission files.

The layout is the one `download_glue_data.py` creates (one folder a task, tab-separated
files). Nine tasks plus the AX diagnostics:

| task | folder | splits | text columns | label |
|---|---|---|---|---|
| `cola` | CoLA | train, dev, test | sentence (train/dev have no header) | 0 / 1 |
| `sst2` | SST-2 | train, dev, test | sentence | 0 / 1 |
| `mrpc` | MRPC | train, dev, test | #1 String, #2 String | Quality 0 / 1 |
| `stsb` | STS-B | train, dev, test | sentence1, sentence2 | score 0..5 (regression) |
| `qqp` | QQP | train, dev, test | question1, question2 | is_duplicate 0 / 1 |
| `mnli` | MNLI | train, dev_matched, dev_mismatched, test_matched, test_mismatched | sentence1, sentence2 | gold_label |
| `qnli` | QNLI | train, dev, test | question, sentence | entailment / not_entailment |
| `rte` | RTE | train, dev, test | sentence1, sentence2 | entailment / not_entailment |
| `wnli` | WNLI | train, dev, test | sentence1, sentence2 | 0 / 1 |
| `ax` | AX (diagnostic) | test (`diagnostic.tsv`), full (`diagnostic-full.tsv`) | sentence1/Premise, sentence2/Hypothesis | MNLI labels |

Known quirks handled: no quoting at all (MRPC and QQP text holds unbalanced `"`), a UTF-8
byte-order mark on MRPC headers, Windows line ends, short rows (QQP holds questions broken
across lines): those rows are skipped, counted and their line numbers kept in
`GlueSplit.skipped`. A file that is malformed — missing header columns, a label outside the
task's label set, a score that is not a number, text that is not UTF-8, no readable rows, or
more short rows than a quirk explains (1% of the rows and 10 rows by default) — raises
`GlueFormatError` naming the file and line.
"""

import dataclasses
import os

import numpy as np

from keras_bert_pkg.atomic_files import atomic_write
from keras_bert_pkg.broken_files import BrokenFileError, text_lines


class GlueFormatError(BrokenFileError):
    """A GLUE file that cannot be read; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class GlueTaskSpec:
    """How one GLUE task is laid out on disk and scored.

    Attributes:
        name: our task name (`"sst2"`).
        directory: its folder in the GLUE layout (`"SST-2"`).
        splits: split name → file name.
        text_columns: header names of the one or two text columns.
        label_column: header name of the label (None: the task has no labelled files).
        labels: the label strings in class-id order (None for STS-B regression).
        headerless: split → column positions `(texts..., label)` for files without a header
            (CoLA train/dev).
        submission_files: test split → official GLUE submission file name.
        index_column: the id column of test files.
    """

    name: str
    directory: str
    splits: dict
    text_columns: tuple
    label_column: str = None
    labels: tuple = None
    headerless: dict = dataclasses.field(default_factory=dict)
    submission_files: dict = dataclasses.field(default_factory=dict)
    index_column: str = "index"
    alt_columns: dict = dataclasses.field(default_factory=dict)

    @property
    def num_classes(self):
        """Classifier outputs: the number of labels, or 1 for regression (STS-B)."""
        return 1 if self.labels is None else len(self.labels)

    @property
    def is_regression(self):
        return self.labels is None

    @property
    def is_pair(self):
        return len(self.text_columns) == 2


_BINARY = ("0", "1")
_ENTAILMENT = ("entailment", "not_entailment")
# BERT's run_classifier.py order for MNLI (and so for the AX diagnostics).
_MNLI = ("contradiction", "entailment", "neutral")
_STANDARD = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}

GLUE_TASKS = {
    spec.name: spec
    for spec in (
        GlueTaskSpec("cola", "CoLA", _STANDARD, ("sentence",), "label", _BINARY,
                     headerless={"train": (3, 1), "dev": (3, 1)},
                     submission_files={"test": "CoLA.tsv"}),
        GlueTaskSpec("sst2", "SST-2", _STANDARD, ("sentence",), "label", _BINARY,
                     submission_files={"test": "SST-2.tsv"}),
        GlueTaskSpec("mrpc", "MRPC", _STANDARD, ("#1 String", "#2 String"), "Quality", _BINARY,
                     submission_files={"test": "MRPC.tsv"}),
        GlueTaskSpec("stsb", "STS-B", _STANDARD, ("sentence1", "sentence2"), "score", None,
                     submission_files={"test": "STS-B.tsv"}),
        GlueTaskSpec("qqp", "QQP", _STANDARD, ("question1", "question2"), "is_duplicate", _BINARY,
                     submission_files={"test": "QQP.tsv"}, index_column="id"),
        GlueTaskSpec("mnli", "MNLI",
                     {"train": "train.tsv", "dev_matched": "dev_matched.tsv",
                      "dev_mismatched": "dev_mismatched.tsv",
                      "test_matched": "test_matched.tsv",
                      "test_mismatched": "test_mismatched.tsv"},
                     ("sentence1", "sentence2"), "gold_label", _MNLI,
                     submission_files={"test_matched": "MNLI-m.tsv",
                                       "test_mismatched": "MNLI-mm.tsv"}),
        GlueTaskSpec("qnli", "QNLI", _STANDARD, ("question", "sentence"), "label", _ENTAILMENT,
                     submission_files={"test": "QNLI.tsv"}),
        GlueTaskSpec("rte", "RTE", _STANDARD, ("sentence1", "sentence2"), "label", _ENTAILMENT,
                     submission_files={"test": "RTE.tsv"}),
        GlueTaskSpec("wnli", "WNLI", _STANDARD, ("sentence1", "sentence2"), "label", _BINARY,
                     submission_files={"test": "WNLI.tsv"}),
        # The diagnostics are predicted by an MNLI model; `diagnostic-full.tsv` (when present)
        # carries labels under other column names.
        GlueTaskSpec("ax", "AX", {"test": "diagnostic.tsv", "full": "diagnostic-full.tsv"},
                     ("sentence1", "sentence2"), "Label", _MNLI,
                     submission_files={"test": "AX.tsv"},
                     alt_columns={"sentence1": "Premise", "sentence2": "Hypothesis"}),
    )
}
# Accepted spellings of task names.
_ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "diagnostic": "ax", "mnli-m": "mnli", "mnli-mm": "mnli"}
# Split aliases: "dev" of MNLI is the matched dev set.
_SPLIT_ALIASES = {("mnli", "dev"): "dev_matched", ("mnli", "test"): "test_matched",
                  ("ax", "dev"): "full"}


def glue_task(task):
    """The `GlueTaskSpec` of a task name (case-insensitive; `"SST-2"`, `"sst2"` both work)."""
    if isinstance(task, GlueTaskSpec):
        return task
    key = str(task).lower()
    key = _ALIASES.get(key, key)
    if key not in GLUE_TASKS:
        raise ValueError(f"Unknown GLUE task {task!r}. Known tasks: {sorted(GLUE_TASKS)}.")
    return GLUE_TASKS[key]


@dataclasses.dataclass
class GlueSplit:
    """One GLUE file, read.

    Attributes:
        task: the task name.
        split: the split name (`"train"`, `"dev"`, `"test"`, `"dev_matched"`, ...).
        path: the file read.
        ids: one id per example (the file's index column, else its 1-based line number).
        texts: a tuple of one (single sentence) or two (pairs) lists of strings.
        labels: int32 class ids, float32 scores (STS-B), or None for unlabelled files.
        skipped: 1-based line numbers of the short rows that were skipped.
    """

    task: str
    split: str
    path: str
    ids: list
    texts: tuple
    labels: np.ndarray = None
    skipped: list = dataclasses.field(default_factory=list)

    def __len__(self):
        return len(self.ids)

    @property
    def features(self):
        """The model input: the list of sentences, or a tuple `(a, b)` of lists for pairs."""
        return self.texts[0] if len(self.texts) == 1 else tuple(self.texts)

    @property
    def num_skipped(self):
        return len(self.skipped)

    def subset(self, count, seed=None):
        """The first `count` examples (or a random `count` of them when `seed` is set)."""
        if count is None or count >= len(self):
            return self
        if seed is None:
            index = np.arange(count)
        else:
            index = np.sort(np.random.default_rng(seed).permutation(len(self))[:count])
        return dataclasses.replace(
            self,
            ids=[self.ids[i] for i in index],
            texts=tuple([t[i] for i in index] for t in self.texts),
            labels=None if self.labels is None else self.labels[index],
        )


def glue_file_path(task, data_dir, split):
    """The path of a task's split file: `data_dir` may be the GLUE root (holding
    `SST-2/`, ...) or the task's own folder."""
    spec = glue_task(task)
    split = _SPLIT_ALIASES.get((spec.name, split), split)
    if split not in spec.splits:
        raise ValueError(f"GLUE task {spec.name!r} has no split {split!r}; splits: {sorted(spec.splits)}.")
    task_dir = os.path.join(data_dir, spec.directory)
    if not os.path.isdir(task_dir):
        task_dir = data_dir
    return os.path.join(task_dir, spec.splits[split]), split


def read_glue(task, data_dir, split="train", path=None, max_skipped_fraction=0.01,
              max_skipped_rows=10):
    """Reads one split of a GLUE task.

    Args:
        task: task name (see `GLUE_TASKS`).
        data_dir: the GLUE root (with `SST-2/`, `MRPC/`, ...) or the task's own folder.
        split: `"train"`, `"dev"`, `"test"` (MNLI: `"dev_matched"`, `"dev_mismatched"`,
            `"test_matched"`, `"test_mismatched"`; `"dev"`/`"test"` mean matched; AX:
            `"test"`, or `"full"` for the labelled `diagnostic-full.tsv`).
        path: read this file instead of the standard one (same columns), e.g. MRPC's
            `train.rebuilt.tsv`.
        max_skipped_fraction, max_skipped_rows: more short rows than this fraction of
            the rows and than this count is an error (a malformed file, not a quirk).

    Returns: a `GlueSplit`.

    Raises:
        FileNotFoundError: the file is absent.
        GlueFormatError: a malformed file (the message names the file and line).

    Example:
    >>> import tempfile
    >>> folder = os.path.join(tempfile.mkdtemp(), "SST-2")
    >>> os.makedirs(folder)
    >>> with open(os.path.join(folder, "dev.tsv"), "w") as f:
    ...     _ = f.write("sentence\\tlabel\\na gripping film \\t1\\ntedious \\t0\\n")
    >>> dev = read_glue("sst2", os.path.dirname(folder), "dev")
    >>> len(dev), dev.texts[0], dev.labels
    (2, ['a gripping film ', 'tedious '], array([1, 0], dtype=int32))
    """
    spec = glue_task(task)
    default_path, split = glue_file_path(spec, data_dir, split)
    path = path or default_path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"GLUE {spec.name} {split} file not found: {path}")

    lines = text_lines(path)
    positions = spec.headerless.get(split)
    if positions is not None:
        text_pos, label_pos = positions[:-1], positions[-1]
        index_pos = None
    else:
        try:
            _, header_line = next(lines)
        except StopIteration:
            raise GlueFormatError(f"{path}:1: empty file (expected a header row).") from None
        header = header_line.split("\t")
        columns = {name: i for i, name in enumerate(header)}

        def find(name, required=True):
            for candidate in (name, spec.alt_columns.get(name)):
                if candidate in columns:
                    return columns[candidate]
            if required:
                raise GlueFormatError(
                    f"{path}:1: header has no {name!r} column (GLUE {spec.name} {split}); "
                    f"header is {header}."
                )
            return None

        text_pos = tuple(find(c) for c in spec.text_columns)
        label_pos = find(spec.label_column, required=False) if spec.label_column else None
        index_pos = find(spec.index_column, required=False)
        if label_pos is None and not split.startswith("test"):
            raise GlueFormatError(
                f"{path}:1: header has no {spec.label_column!r} label column for the "
                f"labelled split {split!r} of GLUE {spec.name}; header is {header}."
            )

    needed = max(text_pos + ((label_pos,) if label_pos is not None else ())
                 + ((index_pos,) if index_pos is not None else ()))
    ids, texts, labels, skipped = [], tuple([] for _ in text_pos), [], []
    label_ids = {name: i for i, name in enumerate(spec.labels or ())}
    total = 0
    for number, line in lines:
        if not line.strip():
            continue
        total += 1
        fields = line.split("\t")
        if len(fields) <= needed:
            skipped.append(number)
            continue
        if label_pos is not None:
            raw = fields[label_pos].strip()
            if spec.is_regression:
                try:
                    labels.append(float(raw))
                except ValueError:
                    raise GlueFormatError(
                        f"{path}:{number}: score {raw!r} is not a number (GLUE {spec.name})."
                    ) from None
            else:
                if raw not in label_ids:
                    raise GlueFormatError(
                        f"{path}:{number}: label {raw!r} is not one of {list(spec.labels)} "
                        f"(GLUE {spec.name})."
                    )
                labels.append(label_ids[raw])
        for column, pos in zip(texts, text_pos):
            column.append(fields[pos])
        ids.append(fields[index_pos] if index_pos is not None else str(number))

    if not ids:
        raise GlueFormatError(
            f"{path}:{skipped[0] if skipped else 2}: no readable data rows "
            f"({len(skipped)} short rows; GLUE {spec.name} {split})."
        )
    if len(skipped) > max(max_skipped_fraction * total, max_skipped_rows):
        raise GlueFormatError(
            f"{path}:{skipped[0]}: {len(skipped)} of {total} rows have fewer than {needed + 1} "
            f"tab-separated fields (first at lines {skipped[:5]}); is this GLUE "
            f"{spec.name} {split}?"
        )
    if label_pos is None:
        label_array = None
    elif spec.is_regression:
        label_array = np.asarray(labels, "float32")
    else:
        label_array = np.asarray(labels, "int32")
    return GlueSplit(spec.name, split, path, ids, texts, label_array, skipped)


def format_label(task, prediction):
    """A prediction as GLUE's submission format writes it: the label string for
    entailment tasks, `0`/`1` for binary ones, a score (3 decimals, clipped to [0, 5])
    for STS-B."""
    spec = glue_task(task)
    if spec.is_regression:
        return f"{min(max(float(prediction), 0.0), 5.0):.3f}"
    return spec.labels[int(prediction)]


def write_submission(task, split, predictions, output_dir):
    """Writes a GLUE test-server submission file (`index<TAB>prediction` rows).

    Args:
        task: the task name.
        split: the `GlueSplit` of a test file (its `ids` are the indices written).
        predictions: class ids or STS-B scores, one per example of `split`.
        output_dir: folder to write to; the file gets the official name
            (`SST-2.tsv`, `MNLI-m.tsv`, `AX.tsv`, ...).

    Returns: the path written.
    """
    spec = glue_task(task)
    name = spec.submission_files.get(split.split)
    if name is None:
        raise ValueError(
            f"No GLUE submission file for {spec.name} split {split.split!r}; test splits: "
            f"{sorted(spec.submission_files)}."
        )
    predictions = np.asarray(predictions)
    if predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions[:, 0]
    if len(predictions) != len(split.ids):
        raise ValueError(f"{len(predictions)} predictions for {len(split.ids)} examples of {split.path}.")
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, name)
    with atomic_write(path) as f:
        f.write("index\tprediction\n")
        for index, prediction in zip(split.ids, predictions):
            f.write(f"{index}\t{format_label(spec, prediction)}\n")
    return path


def write_predictions(task, split, predictions, path, scores=None):
    """Writes per-example predictions of a labelled split as TSV
    (`index, prediction, label[, score_k...]`), for error analysis."""
    spec = glue_task(task)
    predictions = np.asarray(predictions)
    with atomic_write(path) as f:
        header = ["index", "prediction", "label"]
        if scores is not None:
            scores = np.asarray(scores).reshape(len(predictions), -1)
            header += [f"logit_{spec.labels[k] if spec.labels else k}" for k in range(scores.shape[1])]
        f.write("\t".join(header) + "\n")
        for i, index in enumerate(split.ids):
            if spec.is_regression:  # raw scores (the dev metrics use them unclipped)
                label = "" if split.labels is None else f"{float(split.labels[i]):.3f}"
                row = [str(index), f"{float(np.ravel(predictions[i])[0]):.9g}", label]
            else:
                label = "" if split.labels is None else format_label(spec, split.labels[i])
                row = [str(index), format_label(spec, predictions[i]), label]
            if scores is not None:
                row += [f"{v:.5f}" for v in scores[i]]
            f.write("\t".join(row) + "\n")
    return path

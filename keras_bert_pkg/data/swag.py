"""SWAG (Situations With Adversarial Generations): the official CSV files → features.

The official `train.csv` / `val.csv` / `test.csv` have the columns
`video-id, fold-ind, startphrase, sent1, sent2, gold-source, ending0..ending3, label`
(with an unnamed leading index column; `test.csv` has no `label`). `sent1` is the
context, `sent2` the start of the next sentence and `endingK` its candidate endings.
As in the paper (section 4.4), each candidate is packed as
`[CLS] sent1 [SEP] sent2 endingK [SEP]`.
"""

import csv
import dataclasses
import re

import numpy as np
import tensorflow as tf

from keras_bert_pkg.broken_files import BrokenFileError, text_lines

REQUIRED_COLUMNS = ("sent1", "sent2", "ending0", "ending1")


@dataclasses.dataclass
class SwagExample:
    """One SWAG question.

    Attributes:
        id: `video-id` and `fold-ind` joined by `-` (the row number when absent).
        context: `sent1`.
        start: `sent2`, the start of the sentence the endings complete.
        endings: the candidate endings (`ending0`, `ending1`, ...).
        label: index of the correct ending, or None (test files).
        gold_source: the `gold-source` column (`gold` or `gen`), or "".
    """

    id: str
    context: str
    start: str
    endings: list
    label: int = None
    gold_source: str = ""


def read_swag(path, encoding="utf-8"):
    """Reads an official SWAG CSV file.

    Args:
        path: `train.csv`, `val.csv` or `test.csv` (or any file with those columns).

    Returns:
        A list of `SwagExample`.

    Raises:
        BrokenFileError (a ValueError) naming the file (and line) for a missing column,
        an empty ending, a label that is not the index of an ending, a line that does
        not decode or a field past the CSV module's size limit; naming the file when it
        holds no example.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "val.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,"
    ...                 "ending1,ending2,ending3,label\\n"
    ...                 "v1,0,A man kneels. He,A man kneels.,He,gold,rows away.,eats it.,"
    ...                 "sleeps.,flies.,0\\n")
    >>> examples = read_swag(path)
    >>> examples[0].endings[examples[0].label]
    'rows away.'
    """
    path = str(path)
    reader = csv.DictReader(line for _, line in text_lines(path, encoding, keep_ends=True))
    try:
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise BrokenFileError(
                f"{path}: not a SWAG CSV file: missing column(s) {missing} in the header "
                f"{header!r} (expected video-id, fold-ind, startphrase, sent1, sent2, "
                "gold-source, ending0..ending3, label)."
            )
        ending_columns = sorted(
            (c for c in header if re.fullmatch(r"ending\d+", c or "")),
            key=lambda c: int(c[6:]))
        if [int(c[6:]) for c in ending_columns] != list(range(len(ending_columns))):
            raise BrokenFileError(f"{path}: ending columns {ending_columns} are not ending0..endingN.")
        has_label = "label" in header
        examples = []
        for row_number, row in enumerate(reader):
            line = reader.line_num
            if None in row or any(row[c] is None for c in REQUIRED_COLUMNS):
                raise BrokenFileError(f"{path}:{line}: wrong number of fields in the row.")
            endings = [row[c] for c in ending_columns]
            for c, ending in zip(ending_columns, endings):
                if ending is None or not ending.strip():
                    raise BrokenFileError(f"{path}:{line}: column {c} is empty.")
            label = None
            if has_label and row["label"] not in (None, ""):
                try:
                    label = int(row["label"])
                except ValueError:
                    raise BrokenFileError(
                        f"{path}:{line}: label {row['label']!r} is not an integer."
                    ) from None
                if not 0 <= label < len(endings):
                    raise BrokenFileError(
                        f"{path}:{line}: label {label} is not in 0..{len(endings) - 1}."
                    )
            if row.get("video-id") is not None and row.get("fold-ind") is not None:
                example_id = f"{row['video-id']}-{row['fold-ind']}"
            else:
                example_id = str(row_number)
            examples.append(SwagExample(
                id=example_id, context=row["sent1"], start=row["sent2"], endings=endings,
                label=label, gold_source=row.get("gold-source") or "",
            ))
    except csv.Error as e:
        raise BrokenFileError(f"{path}:{reader.line_num}: not readable as CSV ({e}).") from None
    if not examples:
        raise BrokenFileError(f"{path}: holds no example rows after the header.")
    return examples


def swag_features(examples, preprocessor, batch_size=1024):
    """Packs every (context, start + ending) pair with a `BertPreprocessor`.

    Args:
        examples: a list of `SwagExample`, all with the same number of endings.
        preprocessor: a `BertPreprocessor`; its `sequence_length` is the packed length
            (a pair too long is truncated longest-segment-first, as BERT does).
        batch_size: pairs tokenized per call.

    Returns:
        `(features, labels)`: a dict of int32 arrays `token_ids`, `segment_ids`,
        `padding_mask` shaped `[num_examples, num_choices, sequence_length]` (the input
        of `BertMultipleChoice`), and an int32 array of labels `[num_examples]` (None
        when any example has no label).
    """
    if not examples:
        raise BrokenFileError("swag_features: no examples.")
    num_choices = len(examples[0].endings)
    for e in examples:
        if len(e.endings) != num_choices:
            raise BrokenFileError(
                f"swag_features: example {e.id} has {len(e.endings)} endings, the first "
                f"has {num_choices}."
            )
    contexts = [e.context for e in examples]
    endings = [[f"{e.start} {ending}".strip() for ending in e.endings] for e in examples]
    length = preprocessor.sequence_length
    parts = {k: [] for k in ("token_ids", "segment_ids", "padding_mask")}
    for i in range(0, len(examples), batch_size):
        out = preprocessor((tf.constant(contexts[i:i + batch_size], tf.string),
                            tf.constant(endings[i:i + batch_size], tf.string)))
        for k in parts:
            value = np.asarray(out[k]).astype(np.int32)
            parts[k].append(np.pad(value, ((0, 0), (0, 0), (0, length - value.shape[-1]))))
    features = {k: np.concatenate(v) for k, v in parts.items()}
    if any(e.label is None for e in examples):
        return features, None
    return features, np.asarray([e.label for e in examples], np.int32)

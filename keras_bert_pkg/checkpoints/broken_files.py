"""Clear errors for broken checkpoint files: which file, where, and what to do.

A checkpoint that was cut short by an interrupted download, saved in another encoding or
hand-edited should stop the load with a message that names the file and the line, key
or tensor, and says what was expected, before any weight is assigned.

Example:
>>> import tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> with open(path, "w") as f:
...     _ = f.write('{"hidden_size": 384,\\n "num_attention_heads": }')
>>> read_json(path)
Traceback (most recent call last):
...
keras_bert_pkg.checkpoints.broken_files.BrokenFileError: ...config.json, line 2, column 25: not valid JSON (Expecting value). ...
"""

import json
import os

import numpy as np
import tensorflow as tf


class BrokenFileError(ValueError):
    """A checkpoint or vocabulary file cannot be read: truncated, wrong encoding, not the
    format its name says, or holding values that are not numbers."""


def read_json(path, expected="a JSON object"):
    """The parsed JSON of `path` (UTF-8, a byte-order mark allowed), or `BrokenFileError`
    naming the file, the line and the column."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise BrokenFileError(f"{path}: cannot be read ({e.strerror}).") from None
    if not raw.strip():
        raise BrokenFileError(f"{path}: the file is empty; expected {expected}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BrokenFileError(f"{path}: byte {e.start} is not UTF-8 ({raw[e.start:e.start + 4]!r}); "
                              "JSON files must be UTF-8.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise BrokenFileError(f"{path}, line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}). "
                              "The file may be truncated (an interrupted download?): fetch it again.") from None
    if expected == "a JSON object" and not isinstance(value, dict):
        raise BrokenFileError(f"{path}: expected {expected}, found a JSON {type(value).__name__}.")
    return value


def check_finite(value, name, source):
    """Raises `BrokenFileError` when the tensor `name` of `source` holds NaN or infinity."""
    value = np.asarray(value)
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise BrokenFileError(f"{source}: tensor {name} holds {bad} NaN or infinite value(s) of "
                              f"{np.size(value)}; the checkpoint is corrupt or diverged.")
    return value


def read_tf_checkpoint(prefix):
    """`tf.train.load_checkpoint(prefix)`, with `BrokenFileError` naming the checkpoint
    when its index or data files are unreadable."""
    try:
        return tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError, IndexError) as e:
        raise BrokenFileError(f"{prefix}: the TensorFlow checkpoint cannot be read ({_first_line(e)}). Its "
                              ".index and .data-* files may be truncated or from different saves.") from None


def read_tf_tensor(reader, prefix, name):
    """One tensor of a checkpoint reader, with `BrokenFileError` naming it when its data
    cannot be read (a truncated .data-* file)."""
    try:
        return reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as e:
        raise BrokenFileError(f"{prefix}: tensor {name} cannot be read ({_first_line(e)}); the .data-* "
                              "file may be truncated (an interrupted copy or download?).") from None


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def truncated_file_hint(path):
    """A sentence on the file's size, for errors of files that may be cut short."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    return f" The file has {size:,} bytes; if it was downloaded, the download may have been cut short: fetch it again."

"""`vocab.txt`: one WordPiece token a line, the token's id its line number minus one.

Every part of the package reads and writes vocabularies through these two functions
(tokenizers, checkpoints, SavedModel assets, pre-training runs), so a vocabulary means
the same thing everywhere: lines are split on `"\\n"` only and stripped, as the
original `tokenization.load_vocab` does, and a file ends with a newline.

Example:
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> write_vocabulary(["[PAD]", "[UNK]", "hello"], path)
'...vocab.txt'
>>> read_vocabulary(path)
['[PAD]', '[UNK]', 'hello']
"""

import os
import shutil

import tensorflow as tf

from keras_bert_pkg.atomic_files import atomic_path
from keras_bert_pkg.broken_files import BrokenFileError

VOCABULARY_FILE = "vocab.txt"


def read_vocabulary(path):
    """Reads a `vocab.txt` (local or any `tf.io.gfile` path) into a list of tokens.

    Raises:
        FileNotFoundError: naming the path.
        BrokenFileError: naming the file and line when it is not UTF-8, or the file
            when it holds no token. A UTF-8 byte-order mark and CRLF line ends are read.
    """
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"vocabulary file not found: {path!r}")
    with tf.io.gfile.GFile(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise BrokenFileError(f"{path}: line {line} is not UTF-8 ({error.reason}); a vocab.txt "
                              "holds one UTF-8 token a line.") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens = [line.strip() for line in lines]
    if not tokens:
        raise BrokenFileError(f"{path}: the vocabulary file is empty; expected one token a line.")
    return tokens


def write_vocabulary(vocabulary, path):
    """Writes `vocabulary` (a list of tokens, or the path of a `vocab.txt` to copy) to
    `path`, one token a line; returns `path`.

    Raises:
        ValueError: for a token that holds a line break (it could not be read back).
    """
    path = os.fspath(path)
    if isinstance(vocabulary, (str, os.PathLike)):
        source = os.fspath(vocabulary)
        if os.path.abspath(source) != os.path.abspath(path):
            shutil.copyfile(source, path)
        return path
    tokens = list(vocabulary)
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or "\n" in token or "\r" in token:
            raise ValueError(f"vocabulary entry {i} ({token!r}) is not a one-line string.")
    with atomic_path(path) as tmp, tf.io.gfile.GFile(tmp, "w") as f:
        f.write("".join(token + "\n" for token in tokens))
    return path

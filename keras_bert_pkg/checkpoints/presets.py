"""Presets: what `from_preset(name_or_path)` loads.

A preset is a published checkpoint name (`registry.list_checkpoints()`, downloaded once
into the cache) or a local checkpoint of any format (`formats`). `read_preset` gives its
`CheckpointContents`, with the tokenizer's casing filled in: from the checkpoint's own
tokenizer files when it has them, from the registry for published names, and otherwise
from the vocabulary itself (a cased vocabulary holds upper-case pieces).

Random-weight architectures (`"bert_base"`, `"bert_tiny"`, ...) are not presets: models
build those with `from_architecture`.

Example:
>>> preset_tokenizer_config(checkpoint_dir)["lowercase"]
True
"""

import os

from keras_bert_pkg.checkpoints import registry
from keras_bert_pkg.checkpoints.formats import EXPECTED_FILES, read_checkpoint
from keras_bert_pkg.checkpoints.vocabulary_file import read_vocabulary

# Share of a vocabulary's pieces with upper-case letters above which it is a cased one
# (Google's cased vocabularies: 29%; uncased: 0; Chinese: 2 of 21,128).
_CASED_SHARE = 0.01


def resolve_preset(preset):
    """The local path of a preset, downloading a published checkpoint once.

    Raises:
        FileNotFoundError: for a name that is neither a path nor a published checkpoint.
    """
    path = os.fspath(preset)
    if os.path.exists(path) or os.path.exists(path + ".index"):
        return path
    if registry.is_known(path):
        return registry.fetch(path)
    raise FileNotFoundError(
        f"{path}: no such file or directory, and not a published checkpoint name (those are "
        f"{', '.join(registry.list_checkpoints())}). {EXPECTED_FILES} A random-weight "
        "architecture ('bert_tiny' ... 'bert_large') is built with "
        "BertBackbone.from_architecture(name).")


def infer_lowercase(tokens):
    """Whether a vocabulary is an uncased one: almost none of its pieces (specials in
    brackets aside) has an upper-case letter."""
    pieces = [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
    cased = sum(1 for t in pieces if t != t.lower())
    return cased <= _CASED_SHARE * max(len(pieces), 1)


def read_preset(preset):
    """`CheckpointContents` of a preset, `lowercase` always set when it has a vocabulary."""
    contents = read_checkpoint(resolve_preset(preset))
    if contents.lowercase is None and registry.is_known(os.fspath(preset)) \
            and not os.path.exists(os.fspath(preset)):
        contents.lowercase = registry.get_entry(os.fspath(preset)).lowercase
    if contents.lowercase is None and contents.vocabulary is not None:
        tokens = contents.vocabulary
        if isinstance(tokens, (str, os.PathLike)):
            tokens = read_vocabulary(tokens)
        contents.lowercase = infer_lowercase(tokens)
    return contents


def preset_tokenizer_config(preset):
    """`BertTokenizer` arguments of a preset: `vocabulary` (path or tokens), `lowercase`.

    Raises:
        ValueError: when the checkpoint carries no vocabulary.
    """
    return tokenizer_config(read_preset(preset))


def tokenizer_config(contents):
    """`BertTokenizer` arguments of `read_preset`'s contents (`preset_tokenizer_config`)."""
    if contents.vocabulary is None:
        raise ValueError(
            f"{contents.source} ({contents.format}) has no vocabulary (no vocab.txt beside it); "
            "build the tokenizer with BertTokenizer('path/to/vocab.txt', lowercase=...).")
    return {"vocabulary": contents.vocabulary, "lowercase": contents.lowercase}

"""BertTokenizer: the original BERT WordPiece tokenizer as a Keras layer.

It gives exactly the ids of `tokenization.FullTokenizer` from google-research/bert. The
algorithm runs twice, on the same Unicode tables (`unicode_tables`):

- in-graph on `tf.string` tensors (`graph_tokenizer`), for `tf.data`, Keras models and
  SavedModels (one TensorFlow Text op, `FastWordpieceTokenizeWithOffsets`: load such a
  SavedModel after `import tensorflow_text`);
- in plain Python (`python_tokenizer`), for `encode` and `encode_with_char_offsets` on
  single strings, with character offsets.

Checked against the original on 642 chosen cases and on 10,000 random texts over the
whole Unicode range and four vocabularies (`reference/tokenizer_fuzz_cases.json`),
with a property test of both paths in the test suite.

Unassigned code points: the original drops only control and format characters (Cc,
Cf), so an unassigned (Cn), private-use (Co) or surrogate code point stays an ordinary
character, and a word holding one becomes [UNK] unless the vocabulary has it. Which
code points are unassigned is the running Python's Unicode database's answer (Python
3.11: Unicode 14.0.0), as it is for the original; under two Python versions the ids can
differ only on text holding code points assigned in one version and not the other.

The vocabulary is saved as an asset of `.keras` files (`vocabulary.txt`), not in the
layer's config.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.checkpoints.presets import preset_tokenizer_config
from keras_bert_pkg.checkpoints.vocabulary_file import read_vocabulary, write_vocabulary
from keras_bert_pkg.text.graph_tokenizer import GraphTokenizer
from keras_bert_pkg.text.python_tokenizer import PythonTokenizer

ASSET_FILE = "vocabulary.txt"
_SPECIAL_TOKENS = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")


class _Vocabulary:
    """Plain Python state kept out of Keras tracking: the tokens, their index and the
    two tokenizers built on them (each on first use)."""

    def __init__(self, tokens, source):
        self.tokens = tokens
        self.source = source
        self.index = {}
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise ValueError(f"BertTokenizer: vocabulary entry {i} (line {i + 1}) of "
                                 f"{source} is {token!r}, not a string.")
            if token in self.index:
                raise ValueError(f"BertTokenizer: duplicate token {token!r} at line {i + 1} of "
                                 f"{source} (first at line {self.index[token] + 1}).")
            self.index[token] = i
        self.graph = None
        self.python = None
        self.eager_fn = None
        self.strings = None


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertTokenizer(keras.layers.Layer):
    """The original BERT WordPiece tokenizer, as a Keras layer that runs in-graph.

    Gives exactly the ids of `tokenization.FullTokenizer` from google-research/bert:
    control characters are dropped, whitespace splits, every CJK character stands
    alone, `lowercase=True` applies Python's `str.lower()` and strips accents (NFD,
    then drops Mn characters), punctuation splits off, and each word is cut into the
    longest vocabulary pieces from the left (continuations prefixed with `##`). A word
    longer than `max_input_chars_per_word` characters, or with a piece not in the
    vocabulary, becomes a single unknown token.

    Calling the layer works on `tf.string` tensors (also inside `tf.data` and
    `tf.function`, and in a SavedModel; the graph needs `import tensorflow_text`) and
    on Python strings: a scalar gives a 1-D int32 tensor of ids, a 1-D batch an int32
    `tf.RaggedTensor` of shape `[batch, None]`. No `[CLS]`/`[SEP]` are added.

    Args:
        vocabulary: path of a `vocab.txt` (one token a line) or a list of tokens. May be
            None when the vocabulary comes later (`set_vocabulary`, or the asset of a
            `.keras` file).
        lowercase: lower case and strip accents (the "uncased" models).
        max_input_chars_per_word: longer words become the unknown token (200 in the
            original).
        pad_token, unk_token, cls_token, sep_token, mask_token: names of the special
            tokens; each must be in the vocabulary.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`).

    Example:
    >>> tokenizer = BertTokenizer(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "qu", "##ick", "!"])
    >>> tokenizer.encode("The quick!")
    [5, 6, 7, 8]
    >>> tokenizer(["The quick!", "the"]).to_list()
    [[5, 6, 7, 8], [5]]
    >>> tokenizer.tokenize_to_strings("The quick!")
    ['the', 'qu', '##ick', '!']
    """

    def __init__(self, vocabulary=None, lowercase=True, max_input_chars_per_word=200,
                 pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                 mask_token="[MASK]", **kwargs):
        super().__init__(**kwargs)
        self.built = True  # no weights
        self.lowercase = bool(lowercase)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.pad_token = pad_token
        self.unk_token = unk_token
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.mask_token = mask_token
        self._vocab = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The tokenizer of a pretrained model: its vocabulary and casing.

        Args:
            preset: a published checkpoint name (`checkpoints.registry`) or a checkpoint
                directory or file of any supported format (Hugging Face, Google TF1,
                Model Garden, keras-hub, `.keras`).
            **kwargs: constructor arguments to change.

        Example:
        >>> tokenizer = BertTokenizer.from_preset(checkpoint_dir)
        >>> tokenizer.lowercase, tokenizer.vocabulary_size()
        (True, 110)
        """
        config = preset_tokenizer_config(preset)
        config.update(kwargs)
        return cls(**config)

    # -----------------------------------------------------------------------------------
    # Vocabulary.
    # -----------------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary: the path of a `vocab.txt` or a list of tokens.

        Raises:
            ValueError: for an empty vocabulary, a duplicate token, or a special token
                that is missing (naming the file or list).
        """
        if isinstance(vocabulary, (str, bytes)) or hasattr(vocabulary, "__fspath__"):
            path = vocabulary.decode() if isinstance(vocabulary, bytes) else os.fspath(vocabulary)
            tokens = read_vocabulary(path)
            source = f"vocabulary file {path!r}"
        elif isinstance(vocabulary, (list, tuple)):
            tokens = list(vocabulary)
            source = "the vocabulary list"
        else:
            raise ValueError("BertTokenizer: `vocabulary` must be the path of a vocab.txt or a "
                             f"list of strings, got {type(vocabulary).__name__}.")
        if not tokens:
            raise ValueError(f"BertTokenizer: {source} is empty.")
        state = _Vocabulary(tokens, source)
        for attribute in _SPECIAL_TOKENS:
            token = getattr(self, attribute)
            if token not in state.index:
                raise ValueError(f"BertTokenizer: the special token {token!r} is not in {source}.")
        self._vocab = state

    def _state(self):
        if self._vocab is None:
            raise ValueError(
                f"BertTokenizer {self.name!r} has no vocabulary yet: pass `vocabulary=` (a "
                "vocab.txt or a token list), call `set_vocabulary`, or load it from a .keras "
                "file (the vocabulary travels there as an asset, not in get_config()).")
        return self._vocab

    def _special_id(self, token):
        return self._state().index[token]

    @property
    def pad_token_id(self):
        return self._special_id(self.pad_token)

    @property
    def unk_token_id(self):
        return self._special_id(self.unk_token)

    @property
    def cls_token_id(self):
        return self._special_id(self.cls_token)

    @property
    def sep_token_id(self):
        return self._special_id(self.sep_token)

    @property
    def mask_token_id(self):
        return self._special_id(self.mask_token)

    def get_vocabulary(self):
        """Returns the list of tokens, in id order."""
        return list(self._state().tokens)

    def vocabulary_size(self):
        """Returns the number of tokens in the vocabulary."""
        return len(self._state().tokens)

    def id_to_token(self, id):
        """Returns the token string of an id."""
        tokens = self._state().tokens
        id = int(id)
        if not 0 <= id < len(tokens):
            raise ValueError(f"BertTokenizer: id {id} is out of range for a vocabulary of "
                             f"{len(tokens)} tokens.")
        return tokens[id]

    def token_to_id(self, token):
        """Returns the id of a token string."""
        index = self._state().index
        if token not in index:
            raise ValueError(f"BertTokenizer: token {token!r} is not in the vocabulary.")
        return index[token]

    # -----------------------------------------------------------------------------------
    # In-graph tokenization.
    # -----------------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        # Python strings become string tensors here (Keras layers take tensors).
        return super().__call__(_to_string_tensor(inputs), *args, **kwargs)

    def call(self, inputs):
        ids, _, _ = self.tokenize_with_offsets(inputs)
        return ids

    def tokenize(self, inputs):
        """Same as calling the layer: string(s) → int32 ids."""
        return self(inputs)

    def _graph(self):
        state = self._state()
        if state.graph is None:
            with tf.init_scope():
                state.graph = GraphTokenizer(state.tokens, self.lowercase, self.unk_token,
                                             self.max_input_chars_per_word)
        return state.graph

    def tokenize_with_offsets(self, inputs):
        """Tokenizes and gives the byte span of each token in its input string.

        Args:
            inputs: a string or a 1-D batch of strings (tensor or Python values).

        Returns:
            `(ids, starts, ends)`: int32 ids and int64 byte offsets into the original
            UTF-8 string (`ends` exclusive), 1-D tensors for a scalar input, RaggedTensors
            `[batch, None]` for a batch. Spans are as in `encode_with_char_offsets`.
        """
        strings, scalar = _string_batch(_to_string_tensor(inputs))
        graph = self._graph()
        if tf.executing_eagerly():
            state = self._state()
            if state.eager_fn is None:  # one traced function instead of many eager ops
                state.eager_fn = tf.function(graph.tokenize_with_offsets,
                                             input_signature=[tf.TensorSpec([None], tf.string)])
            ids, starts, ends = state.eager_fn(strings)
        else:
            ids, starts, ends = graph.tokenize_with_offsets(strings)
        if scalar:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

    def detokenize(self, ids):
        """Joins ids back into text in-graph (pieces glued, tokens space-separated).

        Args:
            ids: int ids, 1-D (one sequence) or 2-D / ragged (a batch).

        Returns:
            a `tf.string` scalar for one sequence, a 1-D string tensor for a batch.
        """
        state = self._state()
        if state.strings is None:
            with tf.init_scope():
                state.strings = tf.constant(state.tokens, dtype=tf.string)
        if not isinstance(ids, (tf.Tensor, tf.RaggedTensor)):
            ids = tf.ragged.constant(ids) if _is_nested(ids) else tf.constant(ids)
        text = tf.strings.reduce_join(tf.gather(state.strings, ids), axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " ##", "")

    # -----------------------------------------------------------------------------------
    # Eager Python conveniences.
    # -----------------------------------------------------------------------------------
    def encode(self, text):
        """Tokenizes one Python string into a list of ids (no [CLS]/[SEP])."""
        return self.encode_with_char_offsets(text)[0]

    def encode_with_char_offsets(self, text):
        """Tokenizes one Python string, with the character span of each token.

        Returns:
            `(ids, offsets)`: a list of ids and a list of `(start, end)` character
            offsets into `text` (`end` exclusive). A sub-word piece spans its own
            characters, an unknown-token word spans the whole word. Where lower casing
            turns one character into several (a Hangul syllable into its jamo), the
            pieces cut from it all span that character.

        Example:
        >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
        >>> tokenizer.encode_with_char_offsets("  A b")
        ([5, 1], [(2, 3), (4, 5)])
        """
        if isinstance(text, bytes):
            text = text.decode("utf-8", "ignore")
        if not isinstance(text, str):
            raise ValueError(f"BertTokenizer.encode expects a str, got {type(text).__name__}.")
        state = self._state()
        if state.python is None:
            state.python = PythonTokenizer(state.index, self.lowercase, self.unk_token,
                                           self.max_input_chars_per_word)
        return state.python.encode_with_char_offsets(text)

    def tokenize_to_strings(self, text):
        """Tokenizes a Python string (or a list of them) into token strings."""
        if isinstance(text, (list, tuple)):
            return [self.tokenize_to_strings(t) for t in text]
        tokens = self._state().tokens
        return [tokens[i] for i in self.encode(text)]

    def decode(self, ids):
        """Joins ids back into a Python string (pieces glued, tokens space-separated).

        A list of lists gives a list of strings.
        """
        if hasattr(ids, "to_list"):
            ids = ids.to_list()
        elif hasattr(ids, "numpy"):
            ids = ids.numpy().tolist()
        elif isinstance(ids, np.ndarray):
            ids = ids.tolist()
        if isinstance(ids, (int, np.integer)):
            ids = [ids]
        if ids and isinstance(ids[0], (list, tuple)):
            return [self.decode(row) for row in ids]
        text = " ".join(self.id_to_token(i) for i in ids)
        return text.replace(" ##", "")

    # -----------------------------------------------------------------------------------
    # Keras plumbing.
    # -----------------------------------------------------------------------------------
    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape) + (None,), dtype="int32", ragged=True)

    def save_assets(self, dir_path):
        write_vocabulary(self.get_vocabulary(), os.path.join(dir_path, ASSET_FILE))

    def load_assets(self, dir_path):
        path = os.path.join(dir_path, ASSET_FILE) if dir_path else None
        if path and os.path.isfile(path):
            self.set_vocabulary(path)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocabulary": None,  # an asset of .keras files (save_assets), not config
            "lowercase": self.lowercase,
            "max_input_chars_per_word": self.max_input_chars_per_word,
        })
        config.update({attribute: getattr(self, attribute) for attribute in _SPECIAL_TOKENS})
        return config


def _to_string_tensor(inputs):
    if isinstance(inputs, (tf.Tensor, tf.RaggedTensor)) or keras.backend.is_keras_tensor(inputs):
        return inputs
    if isinstance(inputs, (str, bytes)):
        return tf.constant(inputs, dtype=tf.string)
    if isinstance(inputs, (list, tuple, np.ndarray)):
        return tf.constant(inputs, dtype=tf.string, shape=[len(inputs)])
    return tf.convert_to_tensor(inputs)


def _string_batch(strings):
    """`(1-D string batch, was_scalar)`."""
    if strings.dtype != tf.string:
        raise ValueError(f"BertTokenizer: expected strings, got a tensor of dtype {strings.dtype}.")
    rank = strings.shape.rank
    if rank == 0:
        return tf.reshape(strings, [1]), True
    if rank == 1:
        return strings, False
    raise ValueError("BertTokenizer: expected a scalar string or a 1-D batch of strings, got "
                     f"shape {strings.shape}.")


def _is_nested(ids):
    return isinstance(ids, (list, tuple)) and bool(ids) and isinstance(ids[0], (list, tuple))

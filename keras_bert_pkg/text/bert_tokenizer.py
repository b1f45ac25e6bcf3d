"""BertTokenizer: the original BERT tokenizer as an in-graph Keras layer.

It gives exactly the ids of `tokenization.FullTokenizer` from google-research/bert:
basic tokenization (text cleaning, spaces around CJK characters, optional lower casing
with accent stripping, punctuation splitting) followed by greedy longest-match-first
WordPiece. The same algorithm runs twice here:

- in-graph, on `tf.string` tensors, built from core TensorFlow ops and one TensorFlow
  Text op (`FastWordpieceTokenizeWithOffsets`), so it works in `tf.data` and inside a
  SavedModel (load it after `import tensorflow_text`);
- in pure Python, for `encode`, `encode_with_char_offsets` and `tokenize_to_strings`,
  which are fast on single Python strings and give character offsets.

Unicode character properties (categories, `str.lower()` with its final-sigma rule, NFD)
come from the running Python's `unicodedata`, as in the original. They are turned into
lookup tables once per process (about 0.2 s), which the graph applies to code points.
The one liberty taken: accents are stripped character by character, so the canonical
reordering NFD applies to runs of several combining marks is skipped; it can only matter
for combining marks that are not Mn (and so are kept), next to each other.
"""

import functools
import re
import unicodedata

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

# ---------------------------------------------------------------------------------------
# Character tables.
#
# Every code point gets one class. The classes follow the order in which the original
# `BasicTokenizer` looks at a character:
#   _REMOVE  NUL, U+FFFD and control characters (category C*, except \t \n \r): dropped;
#   _SPACE   " ", \t, \n, \r, category Zs, and anything else `str.split()` splits on
#            (U+2028, U+2029): ends a word;
#   _CJK     the CJK ranges of the original `_is_chinese_char`: a word on its own;
#   _PUNCT   ASCII 33-47, 58-64, 91-96, 123-126 and category P*: a word on its own;
#   _OTHER   everything else: part of a word.
# ---------------------------------------------------------------------------------------
_OTHER, _REMOVE, _SPACE, _PUNCT, _CJK = 0, 1, 2, 3, 4

_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_PUNCT_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))

# Code points scanned with `unicodedata`. Outside them every code point is unassigned
# (Cn) or private use (Co), hence removed as a control character; a test checks this
# against the running Python.
_SCANNED_RANGES = ((0, 0x40000), (0xE0000, 0xE1000))
_MAX_CODE_POINT = 0x110000
# Blocks holding only ideographs (category Lo, or unassigned and so removed): no case,
# no canonical decomposition, neither cased nor case-ignorable. Planes 2 and 3 are all
# ideographs; only the compatibility ideographs (U+2F800-U+2FA1F) decompose.
_PLAIN_IDEOGRAPH_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0x20000, 0x2F7FF),
    (0x2FA20, 0x3FFFF),
)

_CAPITAL_SIGMA, _SMALL_SIGMA, _FINAL_SIGMA = 0x3A3, 0x3C3, 0x3C2
# How `str.lower()` sees a character next to a capital sigma (see `_lowercase_tables`).
_SIGMA_IGNORABLE, _SIGMA_CASED = 1, 2

# The graph looks up one int32 per code point: bits 0-2 the class, bit 3 case-ignorable,
# bit 4 cased, bits 5+ one plus the row of the code point in the lower-casing table.
_INFO_CLASS_MASK = 7
_INFO_IGNORABLE = 8
_INFO_CASED = 16
_INFO_MAP_SHIFT = 5
# The per-code-point table is stored in two levels: pages of 256 code points, equal
# pages stored once.
_PAGE_BITS = 8


def _scanned_code_points(skip=()):
    cps = []
    for lo, hi in _SCANNED_RANGES:
        cursor = lo
        for skip_lo, skip_hi in sorted(skip):
            if skip_hi < cursor or skip_lo >= hi:
                continue
            cps.extend(range(cursor, skip_lo))
            cursor = skip_hi + 1
        cps.extend(range(cursor, hi))
    return cps


@functools.lru_cache(maxsize=None)
def _class_table():
    """The class of every code point, as `bytes` indexed by code point."""
    cps = _scanned_code_points()
    chars = list(map(chr, cps))
    cats = list(map(unicodedata.category, chars))
    code = {}
    for cat in set(cats):
        if cat.startswith("C"):
            code[cat] = _REMOVE
        elif cat == "Zs":
            code[cat] = _SPACE
        elif cat.startswith("P"):
            code[cat] = _PUNCT
        else:
            code[cat] = _OTHER
    table = bytearray([_REMOVE]) * _MAX_CODE_POINT
    offset = 0
    for lo, hi in _SCANNED_RANGES:
        table[lo:hi] = bytes(map(code.__getitem__, cats[offset : offset + hi - lo]))
        offset += hi - lo
    for lo, hi in _ASCII_PUNCT_RANGES:
        table[lo : hi + 1] = bytes([_PUNCT]) * (hi + 1 - lo)
    for lo, hi in _CJK_RANGES:
        for cp in range(lo, hi + 1):
            if table[cp] != _REMOVE:  # unassigned code points are cleaned away first
                table[cp] = _CJK
    # `str.split()` also splits on U+2028 and U+2029 (categories Zl, Zp).
    for match in re.finditer(r"\s", "".join(chars)):
        cp = cps[match.start()]
        if table[cp] != _REMOVE:
            table[cp] = _SPACE
    for cp in (ord("\t"), ord("\n"), ord("\r"), ord(" ")):
        table[cp] = _SPACE
    table[0] = table[0xFFFD] = _REMOVE
    return bytes(table)


@functools.lru_cache(maxsize=None)
def _lowercase_tables():
    """Tables for lower casing and accent stripping.

    Returns `(mapping, sigma)`. `mapping` is a dict from each code point whose
    `lower()`, NFD and removal of Mn characters is not itself, to the tuple of resulting
    code points (empty for Mn characters). `sigma` (bytes, one per code point) tells how
    `str.lower()` treats a character next to a capital sigma, which becomes a final
    sigma when a cased letter precedes it and none follows, skipping case-ignorable
    characters (`_SIGMA_IGNORABLE`, `_SIGMA_CASED`); it is found by asking `str.lower()`
    itself, since Python does not expose these properties.
    """
    classes = _class_table()
    cps = [
        cp
        for cp in _scanned_code_points(skip=_PLAIN_IDEOGRAPH_RANGES)
        if classes[cp] != _REMOVE
    ]
    chars = list(map(chr, cps))
    mn = {cp: None for cp, ch in zip(cps, chars) if unicodedata.category(ch) == "Mn"}
    # `lower()` and NFD work character by character (apart from the final sigma,
    # handled below, and the reordering of combining marks, which only matters for
    # several non-Mn combining marks in a row); NUL separators keep the characters apart.
    lowered = unicodedata.normalize("NFD", "\0".join(chars).lower())
    pieces = lowered.translate(mn).split("\0")
    if len(pieces) != len(chars):  # pragma: no cover
        raise RuntimeError("BertTokenizer: could not build the lower-casing table.")
    mapping = {}
    for cp, ch, piece in zip(cps, chars, pieces):
        if piece != ch:
            mapping[cp] = tuple(map(ord, piece))

    # For a character c: c + capital sigma lowers to a final sigma iff c is cased and
    # not case-ignorable; "A" + c + capital sigma does iff c is case-ignorable or cased.
    # "1" (neither cased nor case-ignorable) separates the probes.
    probes = [ch for ch in chars if ch not in ("1", "\u03a3", "\u03c3", "\u03c2")]
    first = "1".join([ch + "\u03a3" for ch in probes]).lower().split("1")
    second = "1".join(["A" + ch + "\u03a3" for ch in probes]).lower().split("1")
    sigma = bytearray(_MAX_CODE_POINT)
    final = chr(_FINAL_SIGMA)
    for ch, a, b in zip(probes, first, second):
        if a[-1] == final:
            sigma[ord(ch)] = _SIGMA_CASED
        elif b[-1] == final:
            sigma[ord(ch)] = _SIGMA_IGNORABLE
    for cp in (_CAPITAL_SIGMA, _SMALL_SIGMA, _FINAL_SIGMA):
        sigma[cp] = _SIGMA_CASED
    return mapping, bytes(sigma)


def _two_level(values):
    """Splits a per-code-point int32 array into (page → offset, pages)."""
    pages = values.reshape([-1, 1 << _PAGE_BITS])
    seen = {}
    page_offset = np.empty([pages.shape[0]], dtype=np.int32)
    stored = []
    for i, page in enumerate(pages):
        key = page.tobytes()
        if key not in seen:
            seen[key] = len(stored) << _PAGE_BITS
            stored.append(page)
        page_offset[i] = seen[key]
    return page_offset, np.concatenate(stored).astype(np.int32)


@functools.lru_cache(maxsize=None)
def _graph_tables(lowercase):
    """Numpy tables for the graph: the per-code-point info in two levels and, when
    lower casing, the mapped code points (rows `row_splits[k]:row_splits[k + 1]` of
    `mapped` and `mapped_classes`)."""
    classes = np.frombuffer(_class_table(), dtype=np.uint8)
    info = classes.astype(np.int32)
    tables = {}
    if lowercase:
        mapping, sigma = _lowercase_tables()
        sigma = np.frombuffer(sigma, dtype=np.uint8).astype(np.int32)
        info |= np.where(sigma == _SIGMA_IGNORABLE, _INFO_IGNORABLE, 0).astype(np.int32)
        info |= np.where(sigma == _SIGMA_CASED, _INFO_CASED, 0).astype(np.int32)
        keys = sorted(mapping)
        info[keys] |= (np.arange(1, len(keys) + 1, dtype=np.int32) << _INFO_MAP_SHIFT)
        lengths = [len(mapping[k]) for k in keys]
        mapped = [cp for k in keys for cp in mapping[k]]
        tables["row_splits"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tables["mapped"] = np.array(mapped, dtype=np.int32)
        tables["mapped_classes"] = classes[mapped].astype(np.int32)
    tables["page_offset"], tables["pages"] = _two_level(info)
    return tables


def _utf8_length(cps):
    """UTF-8 byte length of each code point of an int tensor."""
    one = tf.ones_like(cps)
    zero = tf.zeros_like(cps)
    return (
        one
        + tf.where(cps >= 0x80, one, zero)
        + tf.where(cps >= 0x800, one, zero)
        + tf.where(cps >= 0x10000, one, zero)
    )


def _shift_right(x, fill):
    """`[fill, x[0], ..., x[n-2]]` for a 1-D tensor (also when x is empty)."""
    fill = tf.cast(tf.reshape(fill, [1]), x.dtype)
    return tf.concat([fill, x], axis=0)[:-1]


def _build_fast_wordpiece(tokens, unk_token, max_bytes_per_word):
    """A `tf_text.FastWordpieceTokenizer` over pre-split words.

    Its linear-time algorithm gives the same pieces as greedy longest-match-first.
    """
    try:
        from tensorflow_text.core.pybinds import (
            pywrap_fast_wordpiece_tokenizer_model_builder as builder,
        )
    except ImportError:  # pragma: no cover
        builder = None
    if builder is None:  # pragma: no cover
        return tf_text.FastWordpieceTokenizer(
            vocab=tokens,
            suffix_indicator="##",
            max_bytes_per_word=max_bytes_per_word,
            token_out_type=tf.int64,
            unknown_token=unk_token,
            no_pretokenization=True,
        )
    # Same model as the public constructor builds, without its slow copy of the
    # buffer through a Python list.
    model = builder.build_fast_wordpiece_model(
        tokens, max_bytes_per_word, "##", unk_token, True, False
    )
    return tf_text.FastWordpieceTokenizer(
        model_buffer=tf.constant(np.frombuffer(model, dtype=np.uint8)),
        token_out_type=tf.int64,
    )


def _select(keep, *tensors):
    """Keeps the entries where `keep` is true, in each of several 1-D tensors."""
    index = tf.reshape(tf.where(keep), [-1])
    return [tf.gather(t, index) for t in tensors]


def _read_vocabulary_file(path):
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"BertTokenizer: vocabulary file not found: {path!r}")
    with tf.io.gfile.GFile(path, "rb") as f:
        text = f.read().decode("utf-8")
    # One token a line, split on "\n" only and stripped, like the original
    # `load_vocab`.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


class _State:
    """Plain Python state kept out of Keras tracking: the vocabulary and its index,
    the Python-side character tables, and the ops built on first use."""

    def __init__(self, tokens, source):
        self.tokens = tokens
        self.source = source
        self.lower_map = None
        self.sigma = None
        self.wordpiece = None
        self.eager_fn = None
        self.index = {}
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise ValueError(
                    f"BertTokenizer: vocabulary entry {i} (line {i + 1}) of {source} is "
                    f"{token!r}, not a string."
                )
            if token in self.index:
                raise ValueError(
                    f"BertTokenizer: duplicate token {token!r} at line {i + 1} of "
                    f"{source} (first at line {self.index[token] + 1})."
                )
            self.index[token] = i


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
        vocabulary: path of a `vocab.txt` (one token a line) or a list of tokens.
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

    def __init__(
        self,
        vocabulary,
        lowercase=True,
        max_input_chars_per_word=200,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Take strings and Python values as they are; nothing here is trainable.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

        if isinstance(vocabulary, (str, bytes)) or hasattr(vocabulary, "__fspath__"):
            path = vocabulary.decode() if isinstance(vocabulary, bytes) else str(vocabulary)
            tokens = _read_vocabulary_file(path)
            source = f"vocabulary file {path!r}"
        elif isinstance(vocabulary, (list, tuple)):
            tokens = list(vocabulary)
            source = "the vocabulary list"
        else:
            raise ValueError(
                "BertTokenizer: `vocabulary` must be the path of a vocab.txt or a list "
                f"of strings, got {type(vocabulary).__name__}."
            )
        if not tokens:
            raise ValueError(f"BertTokenizer: {source} is empty.")
        self._vocab = _State(tokens, source)
        self.lowercase = bool(lowercase)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.pad_token = pad_token
        self.unk_token = unk_token
        self.cls_token = cls_token
        self.sep_token = sep_token
        self.mask_token = mask_token
        for attribute, token in (
            ("pad_token_id", pad_token),
            ("unk_token_id", unk_token),
            ("cls_token_id", cls_token),
            ("sep_token_id", sep_token),
            ("mask_token_id", mask_token),
        ):
            if token not in self._vocab.index:
                raise ValueError(
                    f"BertTokenizer: the special token {token!r} is not in {source}."
                )
            setattr(self, attribute, self._vocab.index[token])

        # Python-side tables (shared by every instance).
        self._classes = _class_table()
        if self.lowercase:
            self._vocab.lower_map, self._vocab.sigma = _lowercase_tables()
        # Graph-side tables.
        tables = _graph_tables(self.lowercase)
        self._page_offset = tf.constant(tables["page_offset"])
        self._pages = tf.constant(tables["pages"])
        if self.lowercase:
            self._map_splits = tf.constant(tables["row_splits"])
            self._mapped = tf.constant(tables["mapped"])
            self._mapped_classes = tf.constant(tables["mapped_classes"])
        self._vocab_strings = tf.constant(tokens, dtype=tf.string)
        # The WordPiece op is built on first use in a graph (`_wordpiece_op`): it takes
        # a moment for large vocabularies, and pure-Python use never needs it.

    # -----------------------------------------------------------------------------------
    # Vocabulary.
    # -----------------------------------------------------------------------------------
    def get_vocabulary(self):
        """Returns the list of tokens, in id order."""
        return list(self._vocab.tokens)

    def vocabulary_size(self):
        """Returns the number of tokens in the vocabulary."""
        return len(self._vocab.tokens)

    def id_to_token(self, id):
        """Returns the token string of an id."""
        id = int(id)
        if not 0 <= id < len(self._vocab.tokens):
            raise ValueError(
                f"BertTokenizer: id {id} is out of range for a vocabulary of "
                f"{len(self._vocab.tokens)} tokens."
            )
        return self._vocab.tokens[id]

    def token_to_id(self, token):
        """Returns the id of a token string."""
        if token not in self._vocab.index:
            raise ValueError(f"BertTokenizer: token {token!r} is not in the vocabulary.")
        return self._vocab.index[token]

    # -----------------------------------------------------------------------------------
    # In-graph tokenization.
    # -----------------------------------------------------------------------------------
    def call(self, inputs):
        ids, _, _ = self.tokenize_with_offsets(inputs)
        return ids

    def tokenize(self, inputs):
        """Same as calling the layer: string(s) → int32 ids."""
        return self(inputs)

    def tokenize_with_offsets(self, inputs):
        """Tokenizes and gives the byte span of each token in its input string.

        Args:
            inputs: a string or a 1-D batch of strings (tensor or Python values).

        Returns:
            `(ids, starts, ends)`: int32 ids and int64 byte offsets into the original
            UTF-8 string (`ends` exclusive), 1-D tensors for a scalar input, RaggedTensors
            `[batch, None]` for a batch. Spans are as in `encode_with_char_offsets`.
        """
        strings, scalar = self._to_string_batch(inputs)
        if tf.executing_eagerly():
            # One traced function instead of many eager ops.
            if self._vocab.eager_fn is None:
                self._vocab.eager_fn = tf.function(
                    self._tokenize_batch,
                    input_signature=[tf.TensorSpec([None], tf.string)],
                )
            ids, starts, ends = self._vocab.eager_fn(strings)
        else:
            ids, starts, ends = self._tokenize_batch(strings)
        if scalar:
            return ids[0], starts[0], ends[0]
        return ids, starts, ends

    def _to_string_batch(self, inputs):
        if isinstance(inputs, (str, bytes)):
            inputs = tf.constant(inputs, dtype=tf.string)
        elif isinstance(inputs, (list, tuple, np.ndarray)):
            inputs = tf.constant(inputs, dtype=tf.string, shape=[len(inputs)])
        elif not isinstance(inputs, (tf.Tensor, tf.Variable)):
            inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype != tf.string:
            raise ValueError(
                f"BertTokenizer: expected strings, got a tensor of dtype {inputs.dtype}."
            )
        rank = inputs.shape.rank
        if rank == 0:
            return tf.reshape(inputs, [1]), True
        if rank == 1:
            return inputs, False
        raise ValueError(
            "BertTokenizer: expected a scalar string or a 1-D batch of strings, got "
            f"shape {inputs.shape}."
        )

    def _info(self, cps):
        """The int32 info (class, case bits, lower-casing row) of each code point."""
        page = tf.bitwise.right_shift(cps, _PAGE_BITS)
        within = tf.bitwise.bitwise_and(cps, (1 << _PAGE_BITS) - 1)
        return tf.gather(self._pages, tf.gather(self._page_offset, page) + within)

    def _final_sigmas(self, cps, info, classes, rows):
        """Replaces each capital sigma by the final or the ordinary small sigma, as
        `str.lower()` does on each whitespace token."""
        cased = tf.not_equal(tf.bitwise.bitwise_and(info, _INFO_CASED), 0)
        significant = tf.equal(tf.bitwise.bitwise_and(info, _INFO_IGNORABLE), 0)
        n = tf.size(cps)
        # Whitespace tokens: a separator char, a CJK char, or a new string starts one.
        separator = tf.logical_or(tf.equal(classes, _SPACE), tf.equal(classes, _CJK))
        new_token = tf.logical_or(separator, _shift_right(separator, True))
        new_token = tf.logical_or(new_token, tf.not_equal(rows, _shift_right(rows, -1)))
        token = tf.cumsum(tf.cast(new_token, tf.int32))
        # Padded with one entry that belongs to no token.
        token_ext = tf.concat([token, [-1]], axis=0)
        cased_ext = tf.concat([cased, [False]], axis=0)
        positions = tf.concat(
            [tf.cast(tf.where(significant)[:, 0], tf.int32), tf.reshape(n, [1])], axis=0
        )
        count = tf.size(positions) - 1
        seen = tf.cumsum(tf.cast(significant, tf.int32))  # significant chars up to i
        before = seen - tf.cast(significant, tf.int32)
        previous = tf.gather(positions, tf.where(before > 0, before - 1, count))
        following = tf.gather(positions, seen)
        previous_cased = tf.logical_and(
            tf.equal(tf.gather(token_ext, previous), token), tf.gather(cased_ext, previous)
        )
        following_cased = tf.logical_and(
            tf.equal(tf.gather(token_ext, following), token),
            tf.gather(cased_ext, following),
        )
        final = tf.logical_and(previous_cased, tf.logical_not(following_cased))
        sigma = tf.where(final, _FINAL_SIGMA, _SMALL_SIGMA)
        return tf.where(tf.equal(cps, _CAPITAL_SIGMA), sigma, cps)

    def _lower_and_strip(self, cps, classes, info):
        """Maps code points through lower(), NFD and removal of Mn characters.

        Returns the new code points, their classes and the index of each one's source.
        """
        row = tf.bitwise.right_shift(info, _INFO_MAP_SHIFT) - 1
        hit = row >= 0
        row = tf.maximum(row, 0)
        # Unmapped code points are read from the tail of the pools.
        own = tf.cast(tf.size(self._mapped) + tf.range(tf.size(cps)), tf.int64)
        begin = tf.where(hit, tf.gather(self._map_splits, row), own)
        end = tf.where(hit, tf.gather(self._map_splits, row + 1), own + 1)
        ranges = tf.ragged.range(begin, end)
        index = ranges.flat_values
        new_cps = tf.gather(tf.concat([self._mapped, cps], axis=0), index)
        new_classes = tf.gather(tf.concat([self._mapped_classes, classes], axis=0), index)
        return new_cps, new_classes, ranges.value_rowids()

    def _wordpiece_op(self):
        """The TensorFlow Text WordPiece tokenizer, built on first use."""
        if self._vocab.wordpiece is None:
            with tf.init_scope():
                self._vocab.wordpiece = _build_fast_wordpiece(
                    self._vocab.tokens,
                    unk_token=self.unk_token,
                    # Words are limited in characters below; this byte limit never binds.
                    max_bytes_per_word=4 * self.max_input_chars_per_word + 4,
                )
        return self._vocab.wordpiece

    def _tokenize_batch(self, strings):
        n_rows = tf.shape(strings, out_type=tf.int64)[0]
        decoded, offsets = tf.strings.unicode_decode_with_offsets(
            strings, "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        cps = tf.cast(decoded.flat_values, tf.int32)
        rows = decoded.value_rowids()
        char_start = offsets.flat_values

        # Clean: drop NUL, U+FFFD and control characters.
        info = self._info(cps)
        classes = tf.bitwise.bitwise_and(info, _INFO_CLASS_MASK)
        cps, info, classes, rows, char_start = _select(
            tf.not_equal(classes, _REMOVE), cps, info, classes, rows, char_start
        )
        char_end = char_start + tf.cast(_utf8_length(cps), tf.int64)

        if self.lowercase:
            has_sigma = tf.reduce_any(tf.equal(cps, _CAPITAL_SIGMA))
            sigma_cps = tf.cond(
                has_sigma,
                lambda: self._final_sigmas(cps, info, classes, rows),
                lambda: cps,
            )
            # A capital sigma now reads as a plain small letter: no further mapping.
            info = tf.where(tf.equal(sigma_cps, cps), info, classes)
            cps, classes, source = self._lower_and_strip(sigma_cps, classes, info)
            rows = tf.gather(rows, source)
            char_start = tf.gather(char_start, source)
            char_end = tf.gather(char_end, source)

        # Words: runs of ordinary characters; each punctuation or CJK char alone.
        alone = tf.logical_or(tf.equal(classes, _PUNCT), tf.equal(classes, _CJK))
        starts_word = tf.logical_or(
            alone, tf.not_equal(_shift_right(classes, _SPACE), _OTHER)
        )
        starts_word = tf.logical_or(
            starts_word, tf.not_equal(rows, _shift_right(rows, -1))
        )
        cps, rows, char_start, char_end, starts_word = _select(
            tf.not_equal(classes, _SPACE), cps, rows, char_start, char_end, starts_word
        )

        word = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
        n_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
        words = tf.RaggedTensor.from_value_rowids(cps, word, nrows=n_words, validate=False)
        word_first = words.row_starts()
        word_last = words.row_limits() - 1
        word_row = tf.gather(rows, word_first)
        word_text = tf.strings.unicode_encode(words, "UTF-8")
        too_long = words.row_lengths() > self.max_input_chars_per_word
        word_text = tf.where(too_long, self.unk_token, word_text)

        ids, piece_begin, piece_end = self._wordpiece_op().tokenize_with_offsets(
            word_text
        )
        piece_word = ids.value_rowids()
        ids = ids.flat_values

        # Map each piece's byte range inside its word back to characters: every char
        # has the key (word, byte offset inside the word), sorted.
        byte_position = tf.cumsum(tf.cast(_utf8_length(cps), tf.int64), exclusive=True)
        local = byte_position - tf.gather(byte_position, tf.gather(word_first, word))
        shift = tf.constant(2**32, tf.int64)
        char_key = word * shift + local
        last_char = tf.maximum(tf.size(cps, out_type=tf.int64) - 1, 0)
        first_index = tf.searchsorted(
            char_key,
            piece_word * shift + piece_begin.flat_values,
            side="left",
            out_type=tf.int64,
        )
        last_index = (
            tf.searchsorted(
                char_key,
                piece_word * shift + piece_end.flat_values - 1,
                side="right",
                out_type=tf.int64,
            )
            - 1
        )
        first_index = tf.clip_by_value(first_index, 0, last_char)
        last_index = tf.clip_by_value(last_index, 0, last_char)
        # An unknown word (also one too long) spans the whole word.
        unknown = tf.equal(ids, self.unk_token_id)
        first_index = tf.where(unknown, tf.gather(word_first, piece_word), first_index)
        last_index = tf.where(unknown, tf.gather(word_last, piece_word), last_index)
        piece_start = tf.gather(char_start, first_index)
        piece_stop = tf.gather(char_end, last_index)

        piece_row = tf.gather(word_row, piece_word)

        def batch(values):
            return tf.RaggedTensor.from_value_rowids(
                values, piece_row, nrows=n_rows, validate=False
            )

        return batch(tf.cast(ids, tf.int32)), batch(piece_start), batch(piece_stop)

    def detokenize(self, ids):
        """Joins ids back into text in-graph (pieces glued, tokens space-separated).

        Args:
            ids: int ids, 1-D (one sequence) or 2-D / ragged (a batch).

        Returns:
            a `tf.string` scalar for one sequence, a 1-D string tensor for a batch.
        """
        if not isinstance(ids, (tf.Tensor, tf.RaggedTensor)):
            ids = tf.ragged.constant(ids) if _is_nested(ids) else tf.constant(ids)
        tokens = tf.gather(self._vocab_strings, ids)
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
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
            raise ValueError(
                f"BertTokenizer.encode expects a str, got {type(text).__name__}."
            )
        ids = []
        offsets = []
        for word, spans in self._python_words(text):
            for token_id, first, last in self._python_wordpiece(word):
                ids.append(token_id)
                offsets.append((spans[first][0], spans[last][1]))
        return ids, offsets

    def tokenize_to_strings(self, text):
        """Tokenizes a Python string (or a list of them) into token strings."""
        if isinstance(text, (list, tuple)):
            return [self.tokenize_to_strings(t) for t in text]
        return [self._vocab.tokens[i] for i in self.encode(text)]

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

    def _python_words(self, text):
        """Basic tokenization of a str: a list of `(word, spans)`, where `spans[k]` is
        the character span in `text` of the k-th character of `word`."""
        classes = self._classes
        kept = []  # (code point, index in text, class)
        for i, ch in enumerate(text):
            cp = ord(ch)
            cls = classes[cp]
            if cls != _REMOVE:
                kept.append((cp, i, cls))
        if self.lowercase:
            lower_map = self._vocab.lower_map
            chars = []
            for k, (cp, i, _) in enumerate(kept):
                if cp == _CAPITAL_SIGMA:
                    cp = _FINAL_SIGMA if self._python_final_sigma(kept, k) else _SMALL_SIGMA
                mapped = lower_map.get(cp)
                if mapped is None:
                    chars.append((cp, i, classes[cp]))
                else:
                    chars.extend((m, i, classes[m]) for m in mapped)
        else:
            chars = kept
        words = []
        current = None
        previous = _SPACE
        for cp, i, cls in chars:
            if cls == _SPACE:
                previous = _SPACE
                continue
            if cls == _PUNCT or cls == _CJK or previous != _OTHER:
                current = ([], [])
                words.append(current)
            current[0].append(chr(cp))
            current[1].append((i, i + 1))
            previous = cls
        return [("".join(word), spans) for word, spans in words]

    def _python_final_sigma(self, kept, k):
        sigma = self._vocab.sigma

        def boundary(cls):
            return cls == _SPACE or cls == _CJK

        j = k - 1
        while j >= 0 and not boundary(kept[j][2]) and sigma[kept[j][0]] == _SIGMA_IGNORABLE:
            j -= 1
        if j < 0 or boundary(kept[j][2]) or sigma[kept[j][0]] != _SIGMA_CASED:
            return False
        j = k + 1
        while (
            j < len(kept)
            and not boundary(kept[j][2])
            and sigma[kept[j][0]] == _SIGMA_IGNORABLE
        ):
            j += 1
        if j == len(kept) or boundary(kept[j][2]):
            return True
        return sigma[kept[j][0]] != _SIGMA_CASED

    def _python_wordpiece(self, word):
        """Greedy longest-match-first WordPiece of one word.

        Returns a list of `(id, first char, last char)`, the chars indices into `word`.
        """
        index = self._vocab.index
        n = len(word)
        if n > self.max_input_chars_per_word:
            return [(self.unk_token_id, 0, n - 1)]
        pieces = []
        start = 0
        while start < n:
            end = n
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = index.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [(self.unk_token_id, 0, n - 1)]
            pieces.append((found, start, end - 1))
            start = end
        return pieces

    # -----------------------------------------------------------------------------------
    # Keras plumbing.
    # -----------------------------------------------------------------------------------
    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape) + (None,), dtype="int32", ragged=True)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.get_vocabulary(),
                "lowercase": self.lowercase,
                "max_input_chars_per_word": self.max_input_chars_per_word,
                "pad_token": self.pad_token,
                "unk_token": self.unk_token,
                "cls_token": self.cls_token,
                "sep_token": self.sep_token,
                "mask_token": self.mask_token,
            }
        )
        return config


def _is_nested(ids):
    return isinstance(ids, (list, tuple)) and bool(ids) and isinstance(ids[0], (list, tuple))

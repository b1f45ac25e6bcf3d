"""The original BERT tokenizer as a TensorFlow graph: strings in, ids and offsets out.

`GraphTokenizer` runs the algorithm of `tokenization.FullTokenizer` on a 1-D `tf.string`
batch with core TensorFlow ops and one TensorFlow Text op, `FastWordpieceTokenizeWithOffsets`:
decode UTF-8, look every code point up in the `unicode_tables`, drop control characters,
lower-case and strip accents (final sigma included), split on whitespace, punctuation and
CJK characters, then cut each word into the longest vocabulary pieces (the WordPiece op's
linear-time algorithm gives the same pieces as greedy longest-match-first). Each piece keeps
the byte span of its characters in the input string. It works in `tf.data`, inside
`tf.function` and in SavedModels (load them after `import tensorflow_text`).

`BertTokenizer` (the Keras layer) holds one; this module has no Keras in it.

Example:
>>> tokenizer = GraphTokenizer(["[PAD]", "[UNK]", "the", "qu", "##ick", "!"], lowercase=True)
>>> ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(["The quick!"]))
>>> ids.to_list(), starts.to_list(), ends.to_list()
([[2, 3, 4, 5]], [[0, 4, 6, 9]], [[3, 6, 9, 10]])
"""

import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert_pkg.text.unicode_tables import (CAPITAL_SIGMA, CJK, FINAL_SIGMA, INFO_CASED,
                                                INFO_CLASS_MASK, INFO_IGNORABLE, INFO_MAP_SHIFT,
                                                OTHER, PAGE_BITS, PUNCT, REMOVE, SMALL_SIGMA,
                                                SPACE, graph_tables)


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
    return tf_text.FastWordpieceTokenizer(
        vocab=tokens,
        suffix_indicator="##",
        max_bytes_per_word=max_bytes_per_word,
        token_out_type=tf.int64,
        unknown_token=unk_token,
        no_pretokenization=True,
    )


def _select(keep, *tensors):
    """Keeps the entries where `keep` is true, in each of several 1-D tensors."""
    index = tf.reshape(tf.where(keep), [-1])
    return [tf.gather(t, index) for t in tensors]


class GraphTokenizer:
    """The original BERT tokenization on 1-D `tf.string` tensors (module doc).

    Args:
        tokens: the vocabulary, a list of strings in id order.
        lowercase: lower-case and strip accents (the "uncased" models).
        unk_token: the unknown token (in `tokens`).
        max_input_chars_per_word: longer words become `unk_token` (200 in the original).
    """

    def __init__(self, tokens, lowercase=True, unk_token="[UNK]", max_input_chars_per_word=200):
        self._tokens = list(tokens)
        self._lowercase = bool(lowercase)
        self._unk_token = unk_token
        self._unk_id = self._tokens.index(unk_token)
        self._max_chars = int(max_input_chars_per_word)
        tables = graph_tables(self._lowercase)
        self._page_offset = tf.constant(tables["page_offset"])
        self._pages = tf.constant(tables["pages"])
        if self._lowercase:
            self._map_splits = tf.constant(tables["row_splits"])
            self._mapped = tf.constant(tables["mapped"])
            self._mapped_classes = tf.constant(tables["mapped_classes"])
        # The WordPiece op is built on first use in a graph (`_wordpiece_op`): it takes
        # a moment for large vocabularies, and pure-Python use never needs it.
        self._wordpiece = None

    def _info(self, cps):
        """The int32 info (class, case bits, lower-casing row) of each code point."""
        page = tf.bitwise.right_shift(cps, PAGE_BITS)
        within = tf.bitwise.bitwise_and(cps, (1 << PAGE_BITS) - 1)
        return tf.gather(self._pages, tf.gather(self._page_offset, page) + within)

    def _final_sigmas(self, cps, info, classes, rows):
        """Replaces each capital sigma by the final or the ordinary small sigma, as
        `str.lower()` does on each whitespace token."""
        cased = tf.not_equal(tf.bitwise.bitwise_and(info, INFO_CASED), 0)
        significant = tf.equal(tf.bitwise.bitwise_and(info, INFO_IGNORABLE), 0)
        n = tf.size(cps)
        # Whitespace tokens: a separator char, a CJK char, or a new string starts one.
        separator = tf.logical_or(tf.equal(classes, SPACE), tf.equal(classes, CJK))
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
        sigma = tf.where(final, FINAL_SIGMA, SMALL_SIGMA)
        return tf.where(tf.equal(cps, CAPITAL_SIGMA), sigma, cps)

    def _lower_and_strip(self, cps, classes, info):
        """Maps code points through lower(), NFD and removal of Mn characters.

        Returns the new code points, their classes and the index of each one's source.
        """
        row = tf.bitwise.right_shift(info, INFO_MAP_SHIFT) - 1
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
        if self._wordpiece is None:
            with tf.init_scope():
                self._wordpiece = _build_fast_wordpiece(
                    self._tokens,
                    unk_token=self._unk_token,
                    # Words are limited in characters below; this byte limit never binds.
                    max_bytes_per_word=4 * self._max_chars + 4,
                )
        return self._wordpiece

    def tokenize_with_offsets(self, strings):
        """Tokenizes a 1-D string tensor.

        Returns:
            `(ids, starts, ends)`: RaggedTensors [batch, None] of int32 ids and int64
            byte offsets into each input string (`ends` exclusive). A sub-word piece spans
            its own characters, an unknown-token word the whole word.
        """
        n_rows = tf.shape(strings, out_type=tf.int64)[0]
        decoded, offsets = tf.strings.unicode_decode_with_offsets(
            strings, "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        cps = tf.cast(decoded.flat_values, tf.int32)
        rows = decoded.value_rowids()
        char_start = offsets.flat_values

        # Clean: drop NUL, U+FFFD and control characters.
        info = self._info(cps)
        classes = tf.bitwise.bitwise_and(info, INFO_CLASS_MASK)
        cps, info, classes, rows, char_start = _select(
            tf.not_equal(classes, REMOVE), cps, info, classes, rows, char_start
        )
        char_end = char_start + tf.cast(_utf8_length(cps), tf.int64)

        if self._lowercase:
            has_sigma = tf.reduce_any(tf.equal(cps, CAPITAL_SIGMA))
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
        alone = tf.logical_or(tf.equal(classes, PUNCT), tf.equal(classes, CJK))
        starts_word = tf.logical_or(
            alone, tf.not_equal(_shift_right(classes, SPACE), OTHER)
        )
        starts_word = tf.logical_or(
            starts_word, tf.not_equal(rows, _shift_right(rows, -1))
        )
        cps, rows, char_start, char_end, starts_word = _select(
            tf.not_equal(classes, SPACE), cps, rows, char_start, char_end, starts_word
        )

        word = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
        n_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
        words = tf.RaggedTensor.from_value_rowids(cps, word, nrows=n_words, validate=False)
        word_first = words.row_starts()
        word_last = words.row_limits() - 1
        word_row = tf.gather(rows, word_first)
        word_text = tf.strings.unicode_encode(words, "UTF-8")
        too_long = words.row_lengths() > self._max_chars
        word_text = tf.where(too_long, self._unk_token, word_text)

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
        unknown = tf.equal(ids, self._unk_id)
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

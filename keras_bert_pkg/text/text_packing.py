"""Packing tokenized text into BERT's inputs in the graph, keeping each token's offsets.

`[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, padded to the longest row of the batch, with
core TensorFlow ops only (ragged ranges, gathers, concatenation): `BertPreprocessor` and
the exported serving signatures both pack here (`pack_texts`), so the only op outside
core TensorFlow on the text path is the tokenizer's `FastWordpieceTokenizeWithOffsets`.
A pair loses tokens from its longer segment first, as the original `_truncate_seq_pair`
does; SQuAD cuts the question to `max_query_length` first and the context to what is
left (`truncate` with its own lengths).

Example:
>>> from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"])
>>> packed = pack_texts(tokenizer, [tf.constant(["a a a", "b"]), tf.constant(["b b", "a"])], 6)
>>> packed["token_ids"].numpy().tolist()
[[2, 5, 5, 3, 6, 3], [2, 6, 3, 5, 3, 0]]
>>> packed["segment_ids"].numpy().tolist()
[[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]]
"""

import tensorflow as tf

# The backbone's inputs, in the order of its input dict.
MODEL_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def tokenize(tokenizer, strings):
    """`{ids, starts, ends}` ragged [batch, None] of a 1-D string batch (byte offsets)."""
    ids, starts, ends = tokenizer.tokenize_with_offsets(strings)
    return {"ids": tf.cast(ids, tf.int32), "starts": starts, "ends": ends}


def truncate(segment, lengths):
    """Keeps the first `lengths[i]` tokens of row i of every ragged tensor of `segment`."""
    ids = segment["ids"]
    lengths = tf.minimum(tf.cast(lengths, tf.int64), ids.row_lengths())
    begin = ids.row_starts()
    index = tf.ragged.range(begin, begin + lengths)
    return {
        key: tf.RaggedTensor.from_row_splits(
            tf.gather(value.flat_values, index.flat_values), index.row_splits, validate=False
        )
        for key, value in segment.items()
    }


def pair_lengths(length_a, length_b, budget):
    """Segment lengths after longest-first truncation of a pair to `budget` tokens.

    Equal to popping one token at a time from the longer segment (from the second on a
    tie) until the pair fits, as google-research/bert's `_truncate_seq_pair` does.
    """
    budget = tf.cast(budget, tf.int64)
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
    keep_b = tf.minimum(length_b, budget - keep_a)
    return keep_a, keep_b


def pack(segments, cls_id, sep_id, pad_id):
    """Packs already truncated segments into padded model inputs.

    Args:
        segments: one or two dicts of ragged `ids`, `starts`, `ends` [batch, None].
        cls_id, sep_id, pad_id: special token ids.

    Returns:
        dict of dense tensors [batch, length] (length: the longest packed row):
        `token_ids`, `segment_ids`, `padding_mask` (int32), and per position the token's
        `starts`/`ends` byte offsets in its own input string (int64, -1 for [CLS], [SEP]
        and padding) and `segment` (int32: 0 or 1 for text tokens, -1 otherwise).
    """
    ids0 = segments[0]["ids"]
    batch = ids0.nrows()
    column = tf.RaggedTensor.from_row_lengths(
        tf.zeros([batch], tf.int64), tf.ones([batch], tf.int64), validate=False
    )

    def const(value, dtype):
        return tf.cast(column, dtype) + tf.cast(value, dtype)

    parts = {"token_ids": [const(cls_id, tf.int32)], "segment_ids": [const(0, tf.int32)],
             "starts": [const(-1, tf.int64)], "ends": [const(-1, tf.int64)],
             "segment": [const(-1, tf.int32)]}
    for k, segment in enumerate(segments):
        ids = tf.cast(segment["ids"], tf.int32)
        parts["token_ids"] += [ids, const(sep_id, tf.int32)]
        parts["segment_ids"] += [tf.zeros_like(ids) + k, const(k, tf.int32)]
        parts["starts"] += [segment["starts"], const(-1, tf.int64)]
        parts["ends"] += [segment["ends"], const(-1, tf.int64)]
        parts["segment"] += [tf.zeros_like(ids) + k, const(-1, tf.int32)]
    packed = {key: tf.concat(values, axis=1) for key, values in parts.items()}
    defaults = {"token_ids": pad_id, "segment_ids": 0, "starts": -1, "ends": -1, "segment": -1}
    out = {
        key: value.to_tensor(default_value=tf.cast(defaults[key], value.dtype))
        for key, value in packed.items()
    }
    out["padding_mask"] = tf.cast(
        tf.sequence_mask(packed["token_ids"].row_lengths(), tf.shape(out["token_ids"])[1]),
        tf.int32,
    )
    return out


def pack_texts(tokenizer, strings, sequence_length):
    """Tokenizes and packs one or two 1-D string batches as BERT's inputs.

    A single segment keeps its first `sequence_length - 2` tokens; a pair is cut
    longest-first to `sequence_length - 3` tokens (`pair_lengths`). Rows are padded to
    the longest packed row of the batch.

    Args:
        tokenizer: a `BertTokenizer`.
        strings: a list of one or two 1-D `tf.string` tensors of the same length.
        sequence_length: the longest packed row, `[CLS]` and `[SEP]`s included.

    Returns: `pack`'s dict.
    """
    if len(strings) not in (1, 2):
        raise ValueError(f"BERT packs one or two text segments, got {len(strings)}.")
    segments = [tokenize(tokenizer, s) for s in strings]
    if len(segments) == 1:
        segments = [truncate(segments[0], sequence_length - 2)]
    else:
        keep_a, keep_b = pair_lengths(segments[0]["ids"].row_lengths(),
                                      segments[1]["ids"].row_lengths(), sequence_length - 3)
        segments = [truncate(segments[0], keep_a), truncate(segments[1], keep_b)]
    return pack(segments, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)


def pack_choices(tokenizer, contexts, endings, sequence_length):
    """Packs multiple-choice pairs `[CLS] context [SEP] ending [SEP]` (SWAG).

    Args:
        tokenizer: a `BertTokenizer`.
        contexts: string [batch].
        endings: string [batch, choices].
        sequence_length: the longest packed row.

    Returns: `pack_texts`' dict with every tensor shaped [batch, choices, length].
    """
    choices = tf.shape(endings)[1]
    packed = pack_texts(tokenizer, [tf.repeat(contexts, choices), tf.reshape(endings, [-1])],
                        sequence_length)
    return {key: tf.reshape(value, [-1, choices, tf.shape(value)[-1]]) for key, value in packed.items()}


def model_inputs(packed):
    """The backbone's input dict out of `pack`'s output."""
    return {key: packed[key] for key in MODEL_INPUTS}


def byte_to_char_offsets(strings, byte_offsets):
    """Character (Unicode code point) offsets of byte offsets into UTF-8 strings.

    `strings` and `byte_offsets` have the same shape; negative offsets stay -1.
    """
    safe = tf.maximum(byte_offsets, 0)
    prefix = tf.strings.substr(strings, tf.zeros_like(safe), safe)
    chars = tf.cast(tf.strings.length(prefix, unit="UTF8_CHAR"), tf.int64)
    return tf.where(byte_offsets < 0, tf.constant(-1, tf.int64), chars)

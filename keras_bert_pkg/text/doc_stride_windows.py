"""Doc-stride windows of long text, in the graph (SQuAD and NER input, served).

`question_windows` is the in-graph twin of
`data.squad_features.convert_examples_to_features`: the question
keeps its first `max_query_length` tokens, and the context is split into windows of
`sequence_length - 3 - question length` tokens, each starting `doc_stride` tokens
after the previous one (the last window ends at the context's end), packed as
`[CLS] question [SEP] window [SEP]`. Every context token of a window says whether this
window gives it its most centred context (original BERT's rule: the largest
`min(tokens on the left, tokens on the right) + 0.01 * window length`, the first such
window on a tie), so that a span is taken from one window only. The windows of all
questions of a batch form one batch; `example_index` says whose each window is.

`text_windows` does the same for single texts (`[CLS] window [SEP]`, the windows of
`data.token_alignment.TokenAligner`). Texts longer than `max_context_tokens` tokens are
cut there (`truncated` says so): the bound keeps one request's work finite.

Example:
>>> from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"])
>>> w = question_windows(tokenizer, tf.constant(["a"]), tf.constant(["b c b c b c"]),
...                      sequence_length=8, doc_stride=2, max_query_length=4)
>>> w["token_ids"].numpy().tolist()
[[2, 5, 3, 6, 7, 6, 7, 3], [2, 5, 3, 6, 7, 6, 7, 3]]
>>> w["starts"].numpy().tolist()  # byte offsets in the question, then in the context
[[-1, 0, -1, 0, 2, 4, 6, -1], [-1, 0, -1, 4, 6, 8, 10, -1]]
>>> w["max_context"].numpy().astype(int).tolist()
[[0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 0]]
>>> w["example_index"].numpy().tolist(), w["num_windows"].numpy().tolist()
([0, 0], [2])
"""

import tensorflow as tf

from keras_bert_pkg.text import text_packing

# The default bound on a context's length, in tokens.
MAX_CONTEXT_TOKENS = 4096


def check_window_sizes(sequence_length, doc_stride, max_query_length, max_context_tokens):
    """Raises ValueError when the sizes leave no context token or are not positive."""
    for name, value in (("doc_stride", doc_stride), ("max_query_length", max_query_length),
                        ("max_context_tokens", max_context_tokens)):
        if int(value) < 1:
            raise ValueError(f"{name} must be positive, got {value}.")
    if int(sequence_length) - 3 - int(max_query_length) < 1:
        raise ValueError(f"sequence_length {sequence_length} leaves no room for the context "
                         f"after a {max_query_length}-token question: max_query_length must be "
                         f"below sequence_length - 3.")


def _gather_rows(segment, rows):
    return {key: tf.gather(value, rows) for key, value in segment.items()}


def _split(tokens, room, stride, max_tokens):
    """Windows of each row of `tokens` (ragged `ids`, `starts`, `ends`), `room[i]` tokens
    wide and `min(stride, room[i])` apart, the row cut at `max_tokens` first.

    Returns: `(window, info)`: the windows' tokens (ragged, one row a window) and a dict
    of `example_index`, `window_index` [W], `num_windows`, `truncated` [batch],
    `token_index` (ragged like `window`: each token's index in the flat tokens of the
    cut rows), `max_context` (ragged bool: the token's most centred window) and
    `num_tokens` (the cut rows' token count).
    """
    truncated = tokens["ids"].row_lengths() > max_tokens
    tokens = text_packing.truncate(tokens, max_tokens)
    n = tokens["ids"].row_lengths()  # int64 [batch]
    room = tf.cast(room, tf.int64)
    stride = tf.minimum(tf.cast(stride, tf.int64), room)
    num_windows = tf.where(n > room, 1 + (n - room + stride - 1) // stride, 1)

    example_index = tf.repeat(tf.range(tf.size(n, out_type=tf.int64)), num_windows)
    window_index = tf.ragged.range(num_windows).flat_values
    start = window_index * tf.gather(stride, example_index)
    length = tf.minimum(tf.gather(room, example_index), tf.gather(n, example_index) - start)
    first = tf.gather(tokens["ids"].row_starts(), example_index) + start
    token_index = tf.ragged.range(first, first + length)  # into the rows' flat tokens
    window = {
        key: tf.RaggedTensor.from_row_splits(tf.gather(value.flat_values, token_index.flat_values),
                                             token_index.row_splits, validate=False)
        for key, value in tokens.items()
    }

    # The most centred window of every token: the best score, then the first window
    # with it.
    k = tf.ragged.range(length)
    row_length = tf.cast(tf.gather(length, k.value_rowids()), tf.float64)
    k = tf.cast(k.flat_values, tf.float64)
    score = tf.minimum(k, row_length - 1 - k) + 0.01 * row_length
    token = token_index.flat_values
    num_tokens = tf.size(tokens["ids"].flat_values, out_type=tf.int64)
    best = tf.math.unsorted_segment_max(score, token, num_tokens)
    token_window = tf.gather(window_index, token_index.value_rowids())
    is_best = tf.equal(score, tf.gather(best, token))
    first_best = tf.math.unsorted_segment_min(
        tf.where(is_best, token_window, tf.reduce_max(num_windows)), token, num_tokens)
    max_context = tf.logical_and(is_best, tf.equal(token_window, tf.gather(first_best, token)))
    info = {"example_index": example_index, "window_index": window_index, "num_windows": num_windows,
            "truncated": truncated, "token_index": token_index,
            "max_context": token_index.with_flat_values(max_context), "num_tokens": num_tokens,
            "tokens": tokens}
    return window, info


def _finish(packed, info, offset):
    """Adds the windows' bookkeeping to `pack`'s output; the window's tokens sit at
    packed positions `offset[w] + k`."""
    shape = tf.cast(tf.shape(packed["token_ids"]), tf.int64)
    rows = info["token_index"].value_rowids()
    columns = tf.gather(offset, rows) + tf.ragged.range(info["token_index"].row_lengths()).flat_values
    where = tf.stack([rows, columns], axis=1)
    packed["max_context"] = tf.scatter_nd(where, info["max_context"].flat_values, shape)
    packed["token_index"] = tf.tensor_scatter_nd_update(
        tf.fill(shape, tf.constant(-1, tf.int64)), where, info["token_index"].flat_values)
    packed["example_index"] = tf.cast(info["example_index"], tf.int32)
    packed["window_index"] = tf.cast(info["window_index"], tf.int32)
    packed["num_windows"] = tf.cast(info["num_windows"], tf.int32)
    packed["truncated"] = info["truncated"]
    packed["tokens"] = info["tokens"]
    return packed


def question_windows(tokenizer, questions, contexts, sequence_length, doc_stride=128,
                     max_query_length=64, max_context_tokens=MAX_CONTEXT_TOKENS):
    """Tokenizes, windows and packs question/context pairs as `[CLS] question [SEP]
    window [SEP]`.

    Args:
        tokenizer: a `BertTokenizer`.
        questions, contexts: string [batch].
        sequence_length: the packed length of a window.
        doc_stride: tokens between the starts of consecutive windows.
        max_query_length: the question keeps this many tokens at most.
        max_context_tokens: the context keeps this many tokens at most.

    Returns:
        dict, per window (`W` windows in all) `token_ids`, `segment_ids`, `padding_mask`
        (int32 [W, length], length the longest window), `starts`/`ends` (int64 byte offsets
        of each token in its own string, -1 on [CLS], [SEP] and padding), `segment` (0
        on question tokens, 1 on context tokens, -1 elsewhere), `max_context` (bool, the
        token's most centred window), `token_index` (int64, a context token's index in
        the flat values of `tokens`, -1 elsewhere), `example_index` and `window_index`
        (int32 [W]); per question `num_windows` (int32 [batch]), `truncated` (bool
        [batch], the context was cut at `max_context_tokens`) and `tokens` (the cut
        contexts' ragged `ids`, `starts`, `ends`).
    """
    check_window_sizes(sequence_length, doc_stride, max_query_length, max_context_tokens)
    question = text_packing.truncate(text_packing.tokenize(tokenizer, questions), max_query_length)
    room = sequence_length - 3 - question["ids"].row_lengths()
    window, info = _split(text_packing.tokenize(tokenizer, contexts), room, doc_stride, max_context_tokens)
    packed = text_packing.pack([_gather_rows(question, info["example_index"]), window],
                               tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)
    offset = 2 + tf.gather(question["ids"].row_lengths(), info["example_index"])  # [CLS] question [SEP]
    return _finish(packed, info, offset)


def text_windows(tokenizer, texts, sequence_length, stride, max_tokens=MAX_CONTEXT_TOKENS):
    """Tokenizes, windows and packs single texts as `[CLS] window [SEP]` (token tagging).

    Args:
        tokenizer: a `BertTokenizer`.
        texts: string [batch].
        sequence_length: the packed length of a window (windows of `sequence_length - 2`).
        stride: tokens between the starts of consecutive windows.
        max_tokens: a text keeps this many tokens at most.

    Returns: `question_windows`' dict (`segment` 0 on the text's tokens).
    """
    if int(sequence_length) < 3 or int(stride) < 1 or int(max_tokens) < 1:
        raise ValueError(f"text_windows needs sequence_length >= 3, stride >= 1 and max_tokens "
                         f">= 1, got {sequence_length}, {stride}, {max_tokens}.")
    room = tf.fill(tf.shape(texts, out_type=tf.int64), tf.cast(sequence_length - 2, tf.int64))
    window, info = _split(text_packing.tokenize(tokenizer, texts), room, stride, max_tokens)
    packed = text_packing.pack([window], tokenizer.cls_token_id, tokenizer.sep_token_id,
                               tokenizer.pad_token_id)
    return _finish(packed, info, tf.ones_like(info["example_index"]))

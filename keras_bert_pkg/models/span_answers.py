"""Answers to questions over contexts of any length, in the graph (SQuAD decoding).

`answer_questions` is what `BertSpanLabeler.answer` and the exported SQuAD text
signature both run: the contexts are split into doc-stride windows
(`text.doc_stride_windows`), the windows of the whole batch go through the model together
(in chunks of at most `window_batch_size`), and the answer is chosen across windows by
the rule of the offline post-processing (`data.squad_postprocessing`):

- in each window, the `n_best_size` best start and the `n_best_size` best end positions
  (over the window's real tokens) are paired;
- a pair counts when both ends are context tokens, the start token has its most centred
  context in this window, `start <= end` and the span is at most `max_answer_length`
  tokens; its score is start logit + end logit;
- the best pair over all windows is the answer, cut from the original context by the
  tokens' offsets (an exact substring, with character offsets); `top_k` answers are the
  best pairs with distinct texts;
- SQuAD v2.0 (`null_score_diff_threshold` set): the null score is the lowest `[CLS]`
  start + end logit over the windows, and the answer is empty when null score − best
  span score exceeds the threshold (or when no span counts).

Unlike the offline post-processing, a question without any valid span answers "" (the
offline one writes "empty", as the original `run_squad.py` does), and the distinct
`top_k` texts are looked for among the `max(n_best_size, 2 * top_k)` best pairs.

Example:
>>> model = BertSpanLabeler(BertBackbone.from_architecture("bert_tiny", vocabulary_size=110),
...                         BertPreprocessor(BertTokenizer(vocab_file), sequence_length=32))
>>> decoding = SpanDecoding(doc_stride=8, max_query_length=8, top_k=2)
>>> out = answer_questions(model, model.preprocessor.tokenizer, tf.constant(["who wrote it ?"]),
...                        tf.constant(["it was written by george orwell . " * 20]), 32, decoding)
>>> int(out["num_windows"][0]), out["top_answers"].shape
(16, TensorShape([1, 2]))
"""

import dataclasses
import weakref

import tensorflow as tf

from keras_bert_pkg.models.window_batches import WINDOW_BATCH_SIZE, run_windows
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.text.doc_stride_windows import MAX_CONTEXT_TOKENS, check_window_sizes, question_windows

# Score of a question with no valid span at all, and its null odds.
NO_SPAN_SCORE = -1e9
NO_SPAN_NULL_ODDS = 1e6


def _window_pairs(logits, windows, n_best_size, max_answer_length):
    """Per window, the n-best start × end pairs: `(score, start, end)` [W, K*K], with
    -inf scores where the pair does not count."""
    real = tf.equal(windows["padding_mask"], 1)
    context = tf.equal(windows["segment"], 1)
    k = tf.minimum(n_best_size, tf.shape(real)[1])
    minus_inf = tf.constant(float("-inf"))
    start_value, start = tf.math.top_k(tf.where(real, logits["start_logits"], minus_inf), k)
    end_value, end = tf.math.top_k(tf.where(real, logits["end_logits"], minus_inf), k)
    start_ok = tf.gather(tf.logical_and(context, windows["max_context"]), start, batch_dims=1)
    end_ok = tf.gather(context, end, batch_dims=1)
    span = end[:, None, :] - start[:, :, None] + 1
    valid = (start_ok[:, :, None] & end_ok[:, None, :]
             & (span >= 1) & (span <= max_answer_length))
    score = tf.where(valid, start_value[:, :, None] + end_value[:, None, :], minus_inf)
    pairs = k * k
    flat = lambda t: tf.reshape(t, [-1, pairs])  # noqa: E731
    return (flat(score), flat(tf.repeat(start[:, :, None], k, axis=2)),
            flat(tf.repeat(end[:, None, :], k, axis=1)))


def _distinct_first(texts, valid, top_k):
    """Positions of the first `top_k` valid, distinct texts of each row: (index, found)."""
    same = tf.equal(texts[:, :, None], texts[:, None, :]) & valid[:, None, :]
    count = tf.shape(texts)[1]
    earlier = tf.linalg.band_part(tf.ones([count, count], tf.bool), -1, 0) & ~tf.eye(count, dtype=tf.bool)
    keep = valid & ~tf.reduce_any(same & earlier[None], axis=2)
    order = tf.argsort(tf.where(keep, 0, 1), axis=1, stable=True)[:, :top_k]
    found = tf.gather(keep, order, batch_dims=1)
    missing = top_k - tf.shape(order)[1]
    return tf.pad(order, [[0, 0], [0, missing]]), tf.pad(found, [[0, 0], [0, missing]])


def best_spans(logits, windows, n_best_size=20, max_answer_length=30, num_candidates=1):
    """The best spans of every question over its windows, best first.

    Args:
        logits: `start_logits`, `end_logits` float [W, length].
        windows: dict of `padding_mask`, `segment` (1 on context tokens), `max_context`
            (bool) [W, length] and `num_windows` [batch] (a question's windows are
            consecutive rows), as `question_windows` gives.
        n_best_size, max_answer_length: as in `postprocess_squad_predictions`.
        num_candidates: spans per question.

    Returns: `(score, window, start, end, valid)`, each [batch, num_candidates]: the
    span score (start + end logit), its window row and token positions (int32), and
    whether the span counts (rows with fewer spans are padded with invalid ones).
    """
    score, start, end = _window_pairs(logits, windows, n_best_size, max_answer_length)
    pairs = tf.shape(score)[1]
    per_question = tf.RaggedTensor.from_row_lengths(
        tf.reshape(score, [-1]), tf.cast(windows["num_windows"] * pairs, tf.int64), validate=False)
    most = tf.reduce_max(tf.concat([per_question.row_lengths(), [0]], 0))  # 0 for an empty batch
    count = tf.cast(tf.minimum(tf.cast(num_candidates, tf.int64), most), tf.int32)
    top_score, position = tf.math.top_k(per_question.to_tensor(float("-inf")), count)
    padding = [[0, 0], [0, num_candidates - count]]  # every row num_candidates wide
    top_score = tf.pad(top_score, padding, constant_values=float("-inf"))
    position = tf.pad(position, padding)
    valid = top_score > float("-inf")
    flat = tf.where(valid, tf.cast(per_question.row_starts()[:, None], tf.int32) + position, 0)
    return (top_score, flat // pairs, tf.gather(tf.reshape(start, [-1]), flat),
            tf.gather(tf.reshape(end, [-1]), flat), valid)


def null_scores(logits, windows):
    """The lowest [CLS] start + end logit over each question's windows (v2.0's null score)."""
    # [:, :1] and a sum: rows of width 0 (an empty batch) give an empty result, not an error.
    per_window = tf.reduce_sum(logits["start_logits"][:, :1] + logits["end_logits"][:, :1], axis=1)
    example = tf.repeat(tf.range(tf.size(windows["num_windows"])), windows["num_windows"])
    return tf.math.unsorted_segment_min(per_window, example, tf.size(windows["num_windows"]))


def best_answers(logits, windows, contexts, n_best_size=20, max_answer_length=30, top_k=1,
                 null_score_diff_threshold=None):
    """The answers of every question from its windows' logits (module doc).

    Args:
        logits: `start_logits`, `end_logits` float [W, length].
        windows: `question_windows`' dict.
        contexts: string [batch], the original contexts.
        n_best_size, max_answer_length: as in `postprocess_squad_predictions`.
        top_k: answers per question in `top_answers`.
        null_score_diff_threshold: None for SQuAD v1.1; a float: v2.0's null rule.

    Returns: dict per question: `answer_text` (string), `answer_start`, `answer_end`
    (int64 character offsets in the context, end exclusive, -1 without an answer),
    `score` (start + end logit of the best span, `NO_SPAN_SCORE` if none), `null_score`
    (float32, lowest [CLS] start + end logit over the windows), `top_answers` (string
    [batch, top_k], "" where there are fewer), `top_scores`, `top_starts`, `top_ends`.
    """
    top_score, window, start, end, valid = best_spans(
        logits, windows, n_best_size, max_answer_length, max(n_best_size, 2 * top_k))
    byte_start = tf.where(valid, tf.gather_nd(windows["starts"], tf.stack([window, start], -1)), 0)
    byte_end = tf.where(valid, tf.gather_nd(windows["ends"], tf.stack([window, end], -1)), 0)
    texts = tf.strings.substr(tf.broadcast_to(contexts[:, None], tf.shape(byte_start)),
                              byte_start, byte_end - byte_start)

    null_score = null_scores(logits, windows)
    found = valid[:, 0]
    best_score = tf.where(found, top_score[:, 0], NO_SPAN_SCORE)
    answered = found
    if null_score_diff_threshold is not None:
        null_odds = tf.where(found, null_score - best_score, NO_SPAN_NULL_ODDS)
        answered = found & (null_odds <= null_score_diff_threshold)

    def char(offsets, ok):
        strings = tf.broadcast_to(contexts[:, None], tf.shape(offsets))
        return tf.where(ok, text_packing.byte_to_char_offsets(strings, offsets), tf.constant(-1, tf.int64))

    order, kept = _distinct_first(texts, valid, top_k)
    top = lambda t: tf.gather(t, order, batch_dims=1)  # noqa: E731
    return {
        "answer_text": tf.where(answered, texts[:, 0], ""),
        "answer_start": char(byte_start[:, :1], answered[:, None])[:, 0],
        "answer_end": char(byte_end[:, :1], answered[:, None])[:, 0],
        "score": best_score,
        "null_score": null_score,
        "top_answers": tf.where(kept, top(texts), ""),
        "top_scores": tf.where(kept, top(top_score), NO_SPAN_SCORE),
        "top_starts": char(top(byte_start), kept),
        "top_ends": char(top(byte_end), kept),
    }


@dataclasses.dataclass(frozen=True)
class SpanDecoding:
    """How questions are answered over long contexts (module doc).

    Args:
        doc_stride: tokens between the starts of consecutive windows.
        max_query_length: question tokens kept.
        max_answer_length: the longest answer, in tokens.
        n_best_size: start and end candidates per window.
        top_k: answers per question in `top_answers`.
        null_score_diff_threshold: None for SQuAD v1.1 (always a span when there is
            one); a float for v2.0 (no answer when null score − best span score is above it).
        max_context_tokens: contexts are cut at this many tokens (`truncated` says so).
        window_batch_size: windows per model call, at most.
    """

    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best_size: int = 20
    top_k: int = 1
    null_score_diff_threshold: float = None
    max_context_tokens: int = MAX_CONTEXT_TOKENS
    window_batch_size: int = WINDOW_BATCH_SIZE

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name != "null_score_diff_threshold" and (not isinstance(value, int) or value < 1):
                raise ValueError(f"SpanDecoding.{field.name} must be a positive integer, got {value!r}.")

    def check(self, sequence_length):
        """Raises ValueError when `sequence_length` leaves no context after the question."""
        check_window_sizes(sequence_length, self.doc_stride, self.max_query_length, self.max_context_tokens)


def answer_questions(model, tokenizer, questions, contexts, sequence_length, decoding=SpanDecoding()):
    """Windows, model, answers: `best_answers`' dict plus `truncated` (the context was cut
    at `max_context_tokens`) and `num_windows` per question.

    Args:
        model: maps the backbone's input dict to `start_logits` / `end_logits` (a
            `BertSpanLabeler`).
        tokenizer: its `BertTokenizer`.
        questions, contexts: string [batch].
        sequence_length: the packed length of a window.
        decoding: a `SpanDecoding`.
    """
    d = decoding
    windows = question_windows(tokenizer, questions, contexts, sequence_length, d.doc_stride,
                               d.max_query_length, d.max_context_tokens)
    logits = run_windows(model, windows, d.window_batch_size)
    out = best_answers(logits, windows, contexts, d.n_best_size, d.max_answer_length, d.top_k,
                       d.null_score_diff_threshold)
    out["truncated"] = windows["truncated"]
    out["num_windows"] = windows["num_windows"]
    return out


# model -> {(tokenizer, sequence_length, decoding): traced answer_questions}
_ANSWER_FUNCTIONS = weakref.WeakKeyDictionary()


def answer_function(model, tokenizer, sequence_length, decoding=SpanDecoding()):
    """`answer_questions` of `model` traced once for string [batch] questions and
    contexts, and cached per model and options."""
    decoding.check(sequence_length)
    functions = _ANSWER_FUNCTIONS.setdefault(model, {})
    key = (id(tokenizer), int(sequence_length), decoding)
    if key not in functions:
        reference = weakref.ref(model)  # the cache must not keep its key alive

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        def answer(questions, contexts):
            return answer_questions(reference(), tokenizer, questions, contexts, sequence_length, decoding)

        functions[key] = answer
    return functions[key]

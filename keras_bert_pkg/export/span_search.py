"""In-graph best answer span over start/end logits (the SQuAD decoding of the paper).

The score of a span (i, j) is `start_logits[i] + end_logits[j]`; valid spans have
`i <= j < i + max_answer_length` with both ends on allowed positions (the context
tokens). All valid pairs are scored at once ([batch, L, L]), so the result is the
exact best span, not a search among the n best starts and ends.
"""

import tensorflow as tf

# Score of a row that has no valid span at all (no context token).
NO_SPAN_SCORE = -1e9


def best_spans(start_logits, end_logits, allowed, max_answer_length):
    """The best valid span of every row.

    Args:
        start_logits, end_logits: float [batch, L].
        allowed: bool [batch, L], the positions a span may start and end on.
        max_answer_length: longest span, in tokens.

    Returns:
        `(start, end, score, found)`: int32 token positions (0 when nothing was found),
        float32 scores (`NO_SPAN_SCORE` when nothing was found), bool `found` [batch].
        Ties go to the smallest start, then the smallest end.
    """
    start_logits = tf.cast(start_logits, tf.float32)
    end_logits = tf.cast(end_logits, tf.float32)
    length = tf.shape(start_logits)[1]
    positions = tf.range(length)
    gap = positions[None, :] - positions[:, None]  # [i, j] = j - i
    shape_ok = tf.logical_and(gap >= 0, gap < max_answer_length)
    valid = tf.logical_and(
        shape_ok[None], tf.logical_and(allowed[:, :, None], allowed[:, None, :])
    )
    scores = start_logits[:, :, None] + end_logits[:, None, :]
    scores = tf.where(valid, scores, tf.constant(float("-inf")))
    flat = tf.reshape(scores, [tf.shape(scores)[0], -1])
    best = tf.argmax(flat, axis=1, output_type=tf.int32)
    found = tf.reduce_any(tf.reshape(valid, [tf.shape(valid)[0], -1]), axis=1)
    start = tf.where(found, best // length, 0)
    end = tf.where(found, best % length, 0)
    score = tf.where(found, tf.reduce_max(flat, axis=1), NO_SPAN_SCORE)
    return start, end, score, found

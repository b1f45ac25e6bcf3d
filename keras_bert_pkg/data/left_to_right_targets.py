"""Left-to-right language-model targets from masked pre-training batches (the paper's
"LTR & No NSP" ablation, section 5.1).

The ablation trains a left-context-only model with a standard next-token objective. With
`BertBackbone(causal=True)` and `BertPretrainer(..., next_sentence=False)` the model
side is unchanged: its masked-LM head predicts at the positions it is given. This map
makes the batch: the masked tokens are put back (the records store their original ids),
and every position `i < length - 1` predicts the token at `i + 1`, weighted by whether
that token is real (not padding).
"""

import tensorflow as tf


def left_to_right_targets(x, y):
    """Turns a masked batch `(x, y)` into a left-to-right LM batch.

    Args:
        x: dict `token_ids`, `segment_ids`, `padding_mask`, `masked_lm_positions`
            ([batch, length] / [batch, predictions]).
        y: dict `masked_lm_ids`, `masked_lm_weights`, `next_sentence_labels`.

    Returns: `(x, y)` of the same structure: `token_ids` unmasked,
    `masked_lm_positions = [0, ..., length - 2]`, `masked_lm_ids` the next tokens,
    `masked_lm_weights` 1.0 where the next token is real; `next_sentence_labels` kept.

    Example:
    >>> import numpy as np
    >>> x = {"token_ids": np.array([[101, 103, 7, 102, 0]]), "segment_ids": np.zeros((1, 5), "int32"),
    ...      "padding_mask": np.array([[1, 1, 1, 1, 0]]), "masked_lm_positions": np.array([[1, 0]])}
    >>> y = {"masked_lm_ids": np.array([[5, 0]]), "masked_lm_weights": np.array([[1.0, 0.0]]),
    ...      "next_sentence_labels": np.array([0])}
    >>> x2, y2 = left_to_right_targets(x, y)
    >>> x2["token_ids"].numpy().tolist(), y2["masked_lm_ids"].numpy().tolist()
    ([[101, 5, 7, 102, 0]], [[5, 7, 102, 0]])
    """
    token_ids = tf.convert_to_tensor(x["token_ids"])
    positions = tf.cast(x["masked_lm_positions"], token_ids.dtype)
    labels = tf.cast(y["masked_lm_ids"], token_ids.dtype)
    real = tf.convert_to_tensor(y["masked_lm_weights"]) > 0
    rows = tf.broadcast_to(tf.range(tf.shape(positions)[0], dtype=positions.dtype)[:, None],
                           tf.shape(positions))
    indices = tf.stack([tf.boolean_mask(rows, real), tf.boolean_mask(positions, real)], axis=-1)
    token_ids = tf.tensor_scatter_nd_update(token_ids, indices, tf.boolean_mask(labels, real))

    length = tf.shape(token_ids)[1]
    batch = tf.shape(token_ids)[0]
    padding = tf.convert_to_tensor(x["padding_mask"])
    x = dict(x)
    y = dict(y)
    x["token_ids"] = token_ids
    x["masked_lm_positions"] = tf.broadcast_to(
        tf.range(length - 1, dtype=tf.int32)[None, :], tf.stack([batch, length - 1]))
    y["masked_lm_ids"] = tf.cast(token_ids[:, 1:], tf.int32)
    y["masked_lm_weights"] = tf.cast(padding[:, 1:], tf.float32)
    return x, y

"""The `serve_examples` input: serialized `tf.Example` protos holding token ids.

Feature names (all `int64_list`, one value per token, any length up to the model's
maximum; rows of a batch may differ in length and are padded with 0):

- `token_ids` (required): WordPiece ids, `[CLS] ... [SEP]` included;
- `segment_ids` (optional, default all 0): 0 for the first segment, 1 for the second;
- `padding_mask` (optional, default all 1): 1 for real tokens, 0 for padding.

For multiple choice the features hold the `num_choices` packed sequences one after the
other (choice-major, all of the same length), `num_choices * length` values each.
These are the names of the backbone's inputs, so pre-tokenized TFRecords feed the
server as they are.
"""

import numpy as np
import tensorflow as tf

FEATURE_NAMES = ("token_ids", "segment_ids", "padding_mask")


def make_example(token_ids, segment_ids=None, padding_mask=None):
    """A serialized `tf.Example` for `serve_examples` (flattened for multiple choice).

    Example:
    >>> parse_examples(tf.constant([make_example([101, 7592, 102])]))["token_ids"].numpy()
    array([[ 101, 7592,  102]], dtype=int32)
    """
    feature = {}
    for name, values in zip(FEATURE_NAMES, (token_ids, segment_ids, padding_mask)):
        if values is None:
            continue
        values = np.asarray(values, np.int64).reshape([-1])
        feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
    if "token_ids" not in feature:
        raise ValueError("make_example: token_ids are required.")
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_examples(serialized, num_choices=None):
    """Parses a batch of serialized examples into the model's int32 input dict.

    Args:
        serialized: 1-D string tensor of serialized `tf.Example`s.
        num_choices: for multiple choice, the number of packed sequences per example.

    Returns:
        dict `token_ids`, `segment_ids`, `padding_mask`: int32 [batch, length] (or
        [batch, num_choices, length]), padded with 0 to the longest example.
    """
    spec = {name: tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64)
            for name in FEATURE_NAMES}
    parsed = tf.io.parse_example(serialized, spec)
    tokens = parsed["token_ids"]
    lengths = tokens.row_lengths()
    checks = [tf.debugging.assert_greater(
        lengths, tf.constant(0, tf.int64),
        message="serve_examples: every example needs a non-empty `token_ids` feature")]
    for name in ("segment_ids", "padding_mask"):
        other = parsed[name].row_lengths()
        checks.append(tf.debugging.assert_equal(
            tf.logical_or(tf.equal(other, 0), tf.equal(other, lengths)), True,
            message=f"serve_examples: feature `{name}` must have as many values as "
                    "`token_ids` (or be absent)"))
    with tf.control_dependencies(checks):
        width = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
    shape = tf.stack([tokens.nrows(), width])
    segments = parsed["segment_ids"].to_tensor(shape=shape)
    masks = parsed["padding_mask"]
    default_mask = tf.sequence_mask(lengths, width, dtype=tf.int64)
    mask = tf.where(
        tf.equal(masks.row_lengths(), 0)[:, None], default_mask, masks.to_tensor(shape=shape)
    )
    out = {"token_ids": tokens.to_tensor(shape=shape), "segment_ids": segments,
           "padding_mask": mask}
    if num_choices is not None:
        out = {name: _unflatten_choices(value, lengths, num_choices)
               for name, value in out.items()}
    return {name: tf.cast(value, tf.int32) for name, value in out.items()}


def _unflatten_choices(dense, lengths, num_choices):
    """[batch, choices * L_i] (padded) → [batch, choices, max L_i]."""
    check = tf.debugging.assert_equal(
        lengths % num_choices, tf.constant(0, tf.int64),
        message=f"serve_examples: each feature must hold {num_choices} sequences of equal "
                f"length (a multiple of {num_choices} values)")
    with tf.control_dependencies([check]):
        per_choice = lengths // num_choices
    ragged = tf.RaggedTensor.from_tensor(dense, lengths=lengths)
    nested = tf.RaggedTensor.from_uniform_row_length(
        tf.RaggedTensor.from_row_lengths(
            ragged.flat_values, tf.repeat(per_choice, num_choices), validate=False),
        num_choices, validate=False)
    return nested.to_tensor()

"""Length bucketing: batches of similar-length examples, padded only to their longest.

The original code pads every example to `max_seq_length` (128 for GLUE, 384 for SQuAD).
Most sentences are far shorter (SST-2's training phrases average ~13 WordPieces), so
most of that compute goes to padding. Here examples are kept unpadded (ragged): training
batches come from `bucketed_dataset` (shuffled, then grouped in buckets 8 tokens wide, so
each batch is a random draw from one length bucket), prediction batches from
`length_sorted_dataset` (sorted by length). Every batch is padded to its own longest
row. Attention is masked, so the model computes the same function of each example
either way. Every task (GLUE, SQuAD, NER, pre-training records aside) trains through
`bucketed_dataset`; `models.predict_by_length` predicts through `length_sorted_dataset`.

Features are a dict of `tf.RaggedTensor` [examples, None] (`token_ids`, `segment_ids`,
`padding_mask`), from `tokenize_to_ragged` (raw text), `ragged_features` (token-id
lists) or `padded_to_ragged` (arrays padded to one length).

Example:
>>> features = ragged_features([[101, 7, 102], [101, 7, 8, 9, 102]])
>>> ds = bucketed_dataset(features, labels=[0, 1], batch_size=2, shuffle=False)
>>> [x["token_ids"].shape.as_list() for x, _ in ds]
[[2, 5]]
"""

import weakref

import numpy as np
import tensorflow as tf

from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL

FEATURE_KEYS = ("token_ids", "segment_ids", "padding_mask")
BUCKET_WIDTH = 8

# preprocessor -> {number of segments: traced packing function}; tracing the in-graph
# tokenizer is the slow part, so train, dev and test sets share one trace.
_PACK_FUNCTIONS = weakref.WeakKeyDictionary()


def _pack_function(preprocessor, num_segments):
    functions = _PACK_FUNCTIONS.setdefault(preprocessor, {})
    if num_segments not in functions:
        layer = weakref.ref(preprocessor)  # the cache must not keep its key alive

        def pack(*texts):
            packed = layer()(texts if len(texts) == 2 else texts[0])
            lengths = tf.reduce_sum(tf.cast(packed["padding_mask"], tf.int32), axis=-1)
            return {k: tf.RaggedTensor.from_tensor(packed[k], lengths=lengths)
                    for k in FEATURE_KEYS}

        signature = [tf.TensorSpec([None], tf.string)] * num_segments
        functions[num_segments] = tf.function(pack, input_signature=signature)
    return functions[num_segments]


def tokenize_to_ragged(preprocessor, features, batch_size=1024):
    """Tokenizes and packs raw text once, keeping each example at its own length.

    Args:
        preprocessor: a `BertPreprocessor` (its `sequence_length` is the truncation
            length; its padding is removed here).
        features: a list/array of strings, or a tuple `(a, b)` of them for pairs.
        batch_size: tokenization batch size (memory only; results don't depend on it).

    Returns: dict `token_ids`, `segment_ids` (int32) and `padding_mask` (bool) of
    `tf.RaggedTensor` [num_examples, None].
    """
    segments = features if isinstance(features, tuple) else (features,)
    segments = tuple(tf.convert_to_tensor(np.asarray(s), tf.string) for s in segments)
    if not 1 <= len(segments) <= 2:
        raise ValueError(f"Expected one or two text segments, got {len(segments)}.")
    sizes = {int(s.shape[0]) for s in segments}
    if len(sizes) != 1:
        raise ValueError(f"The two text segments differ in length: {sorted(sizes)}.")

    pack = _pack_function(preprocessor, len(segments))
    parts = {k: [] for k in FEATURE_KEYS}
    total = sizes.pop()
    for start in range(0, total, batch_size):
        chunk = pack(*(s[start:start + batch_size] for s in segments))
        for k in FEATURE_KEYS:
            parts[k].append(chunk[k])
    if not parts["token_ids"]:
        raise ValueError("No examples to tokenize.")
    out = {k: tf.concat(v, axis=0) for k, v in parts.items()}
    out["token_ids"] = tf.cast(out["token_ids"], tf.int32)
    out["segment_ids"] = tf.cast(out["segment_ids"], tf.int32)
    return out


def ragged_features(token_ids, segment_ids=None):
    """The ragged feature dict of token-id lists (segment ids 0 unless given)."""
    if not len(token_ids):
        raise ValueError("No examples.")
    lengths = np.array([len(row) for row in token_ids], np.int64)

    def ragged(rows):
        flat = np.concatenate([np.asarray(row, np.int32) for row in rows])
        return tf.RaggedTensor.from_row_lengths(flat, lengths)

    ids = ragged(token_ids)
    if segment_ids is None:
        segments = tf.zeros_like(ids)
    else:
        if [len(row) for row in segment_ids] != lengths.tolist():
            raise ValueError("token_ids and segment_ids differ in length.")
        segments = ragged(segment_ids)
    return {"token_ids": ids, "segment_ids": segments,
            "padding_mask": tf.ones_like(ids, dtype=tf.bool)}


def padded_to_ragged(features, keys=None):
    """Cuts every [examples, length] array of a padded dict to the example's length
    (its `padding_mask` count); `keys` (default: all) are the arrays to cut."""
    lengths = np.asarray(features["padding_mask"]).astype(bool).sum(-1)
    out = {}
    for key in keys or features:
        value = np.asarray(features[key])
        out[key] = tf.RaggedTensor.from_tensor(value, lengths=lengths)
    out["padding_mask"] = tf.cast(out["padding_mask"], tf.bool)
    return out


def example_lengths(features):
    """Number of real tokens of each example of a ragged feature dict (numpy int)."""
    return features["token_ids"].row_lengths().numpy()


def default_boundaries(max_length, bucket_width=BUCKET_WIDTH):
    """Bucket boundaries every `bucket_width` tokens up to `max_length`."""
    return list(range(bucket_width + 1, int(max_length) + 1, bucket_width))


def num_bucketed_batches(lengths, batch_size, boundaries, drop_remainder=False):
    """The exact number of batches `bucketed_dataset` yields per epoch (the shuffle
    changes which examples share a batch, never how many batches each bucket gives)."""
    counts = np.bincount(np.searchsorted(boundaries, lengths, side="right"),
                         minlength=len(boundaries) + 1)
    if drop_remainder:
        return int(np.sum(counts // batch_size))
    return int(np.sum(-(-counts // batch_size)))


def _label_tensors(labels):
    """Labels as a tensor structure: per example ([N] arrays, or a dict of them) or per
    token (a RaggedTensor [N, None])."""
    if labels is None or isinstance(labels, tf.RaggedTensor):
        return labels
    if isinstance(labels, dict):
        return {name: tf.constant(np.asarray(value)) for name, value in labels.items()}
    return tf.constant(np.asarray(labels))


def _examples(features, labels=None, order=None, shuffle=False, seed=None):
    """An unbatched dataset of per-example (unpadded) feature dicts (and labels), read
    from the ragged tensors' flat values by index, so shuffling moves only indices."""
    splits = features["token_ids"].row_splits
    values = {k: features[k].flat_values for k in FEATURE_KEYS}
    count = int(splits.shape[0]) - 1
    index = tf.data.Dataset.from_tensor_slices(
        np.arange(count, dtype="int64") if order is None else np.asarray(order, "int64"))
    if shuffle:
        index = index.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    label_tensors = _label_tensors(labels)

    def lookup(i):
        start, end = splits[i], splits[i + 1]
        example = {k: v[start:end] for k, v in values.items()}
        if label_tensors is None:
            return example
        if isinstance(label_tensors, tf.RaggedTensor):
            return example, label_tensors.flat_values[start:end]
        return example, tf.nest.map_structure(lambda t: t[i], label_tensors)

    return index.map(lookup, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _padding_values(pad_token_id, labels):
    pads = {"token_ids": tf.constant(pad_token_id, tf.int32),
            "segment_ids": tf.constant(0, tf.int32),
            "padding_mask": tf.constant(False)}
    label_tensors = _label_tensors(labels)
    if label_tensors is None:
        return pads
    if isinstance(label_tensors, tf.RaggedTensor):
        return pads, tf.constant(IGNORE_LABEL, label_tensors.dtype)
    return pads, tf.nest.map_structure(lambda t: tf.constant(0, t.dtype), label_tensors)


def bucketed_dataset(features, labels=None, batch_size=32, boundaries=None, max_length=None,
                     shuffle=True, seed=None, pad_token_id=0, drop_remainder=False):
    """A training dataset of length-bucketed, dynamically padded batches.

    Args:
        features: ragged feature dict.
        labels: None; one label per example (class ids or scores, an array [N], or a
            dict of such arrays, e.g. SQuAD's start and end positions); or one label
            per token (a RaggedTensor [N, None] shaped like the tokens, padded with
            -100, which losses skip).
        batch_size: examples per batch (the last batch of a bucket may be smaller).
        boundaries: bucket boundaries in tokens; default every 8 tokens up to
            `max_length` (default: the longest example).
        shuffle: reshuffle the examples every epoch before bucketing.
        seed: shuffle seed.
        pad_token_id: the `[PAD]` id.
        drop_remainder: drop each bucket's last partial batch.

    Returns: a `tf.data.Dataset` of `(features, labels)` (or `features`) batches whose
    tensors are [batch, longest-in-batch].
    """
    lengths = example_lengths(features)
    if boundaries is None:
        boundaries = default_boundaries(max_length or int(lengths.max()))
    ds = _examples(features, labels, shuffle=shuffle, seed=seed)
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda f, *_: tf.shape(f["token_ids"])[0],
        bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=_padding_values(pad_token_id, labels),
        drop_remainder=drop_remainder,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def length_sorted_dataset(features, batch_size=128, pad_token_id=0):
    """Batches in increasing length order, each padded to its longest row.

    Returns: `(dataset, order)`: `order[i]` is the original index of the i-th example the
    dataset yields (use `restore_order` on the outputs).
    """
    lengths = example_lengths(features)
    order = np.argsort(lengths, kind="stable")
    ds = _examples(features, order=order).padded_batch(
        batch_size, padding_values=_padding_values(pad_token_id, None))
    return ds.prefetch(tf.data.AUTOTUNE), order


def restore_order(outputs, order):
    """Undoes the sorting of `length_sorted_dataset` on per-example outputs (an array
    or a list)."""
    if isinstance(outputs, list):
        restored = [None] * len(outputs)
        for position, index in enumerate(order):
            restored[index] = outputs[position]
        return restored
    outputs = np.asarray(outputs)
    restored = np.empty_like(outputs)
    restored[order] = outputs
    return restored

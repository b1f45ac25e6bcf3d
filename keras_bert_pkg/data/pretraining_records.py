"""BERT pre-training TFRecords: written and read with the original feature names.

Each record is a `tf.train.Example` with exactly the features of google-research/bert's
`create_pretraining_data.py` (what its `run_pretraining.py` reads), so records made by
the original tool train here and records made here train there:

| feature | type | length | meaning |
|---|---|---|---|
| `input_ids` | int64 | `max_seq_length` | `[CLS] A [SEP] B [SEP]` after masking, 0-padded |
| `input_mask` | int64 | `max_seq_length` | 1 for real tokens, 0 for padding |
| `segment_ids` | int64 | `max_seq_length` | 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`, 0 padding |
| `masked_lm_positions` | int64 | `max_predictions_per_seq` | masked positions, 0-padded |
| `masked_lm_ids` | int64 | `max_predictions_per_seq` | original ids there, 0-padded |
| `masked_lm_weights` | float | `max_predictions_per_seq` | 1.0 real prediction, 0.0 padding |
| `next_sentence_labels` | int64 | 1 | **1 when B is a random segment**, 0 when B follows A |

The reader also accepts Model Garden's "v2" names (`input_word_ids`, `input_type_ids`
instead of `input_ids`, `segment_ids`).

`pretraining_record_dataset` turns records into batches for `BertPretrainer.fit`:
`(x, y)` with `x = {token_ids, segment_ids, padding_mask, masked_lm_positions}` (int32)
and `y = {masked_lm_ids (int32), masked_lm_weights (float32), next_sentence_labels
(int32, [batch])}`.
"""

import collections

import tensorflow as tf

from keras_bert_pkg.broken_files import BrokenFileError, error_text
from keras_bert_pkg.data.left_to_right_targets import left_to_right_targets

FEATURE_NAMES = (
    "input_ids",
    "input_mask",
    "segment_ids",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
    "next_sentence_labels",
)
_V2_NAMES = {"input_word_ids": "input_ids", "input_type_ids": "segment_ids"}


def _int_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def instance_to_example(instance, max_seq_length, max_predictions_per_seq):
    """A `PretrainingInstance` as a padded `tf.train.Example` (module doc table).

    Raises:
        ValueError: when the instance is longer than `max_seq_length` or has more than
            `max_predictions_per_seq` predictions.
    """
    n = len(instance.token_ids)
    p = len(instance.masked_lm_positions)
    if n > max_seq_length:
        raise ValueError(f"Instance of {n} tokens does not fit max_seq_length={max_seq_length}.")
    if p > max_predictions_per_seq:
        raise ValueError(
            f"Instance with {p} predictions does not fit max_predictions_per_seq="
            f"{max_predictions_per_seq}.")
    pad = max_seq_length - n
    pad_p = max_predictions_per_seq - p
    features = collections.OrderedDict()
    features["input_ids"] = _int_feature(list(instance.token_ids) + [0] * pad)
    features["input_mask"] = _int_feature([1] * n + [0] * pad)
    features["segment_ids"] = _int_feature(list(instance.segment_ids) + [0] * pad)
    features["masked_lm_positions"] = _int_feature(list(instance.masked_lm_positions) + [0] * pad_p)
    features["masked_lm_ids"] = _int_feature(list(instance.masked_lm_ids) + [0] * pad_p)
    features["masked_lm_weights"] = _float_feature([1.0] * p + [0.0] * pad_p)
    features["next_sentence_labels"] = _int_feature([1 if instance.is_random_next else 0])
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_instances(instances, output_files, max_seq_length, max_predictions_per_seq,
                    compression_type=None):
    """Writes instances as TFRecords, round-robin over `output_files` (as the original).

    Examples are serialized deterministically (features in name order), so the same
    instances give byte-identical files in any process.

    Args:
        instances: an iterable of `PretrainingInstance`.
        output_files: a path or a list of paths.
        max_seq_length, max_predictions_per_seq: the padded lengths.
        compression_type: None, `"GZIP"` or `"ZLIB"`.

    Returns: the number of records written.
    """
    if isinstance(output_files, (str, bytes)) or hasattr(output_files, "__fspath__"):
        output_files = [output_files]
    writers = [tf.io.TFRecordWriter(str(path), options=compression_type or "") for path in output_files]
    count = 0
    try:
        for instance in instances:
            example = instance_to_example(instance, max_seq_length, max_predictions_per_seq)
            writers[count % len(writers)].write(example.SerializeToString(deterministic=True))
            count += 1
    finally:
        for writer in writers:
            writer.close()
    return count


def expand_file_patterns(patterns):
    """Sorted files matching a glob, a comma-separated list of globs, or a list of them.

    Raises:
        FileNotFoundError: naming the patterns that matched nothing.
    """
    if isinstance(patterns, (str, bytes)) or hasattr(patterns, "__fspath__"):
        patterns = str(patterns).split(",")
    files, empty = [], []
    for pattern in patterns:
        pattern = str(pattern).strip()
        if not pattern:
            continue
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            empty.append(pattern)
        files.extend(matched)
    if empty or not files:
        raise FileNotFoundError(f"No files match {empty or list(patterns)!r}.")
    return files


def inspect_record_file(path, compression_type=None):
    """Reads the first record of `path`.

    Returns: `(lengths, v2_names)`: `{feature name: length}` under the original names,
    and whether the file uses Model Garden's v2 names.

    Raises:
        BrokenFileError (a ValueError): naming the file, when it is empty, not a TFRecord of
            `tf.train.Example`, or lacks a pre-training feature.
    """
    try:
        first = next(iter(tf.data.TFRecordDataset(path, compression_type=compression_type or "").take(1)), None)
    except tf.errors.OpError as e:
        raise BrokenFileError(f"{path}: cannot read TFRecords ({error_text(e)}).") from None
    if first is None:
        raise BrokenFileError(f"{path}: the file holds no records.")
    example = tf.train.Example()
    try:
        example.ParseFromString(first.numpy())
    except Exception as e:  # noqa: BLE001 (protobuf's DecodeError)
        raise BrokenFileError(f"{path}: the first record is not a tf.train.Example ({e}).") from None
    lengths = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = getattr(feature, kind).value if kind else []
        lengths[_V2_NAMES.get(name, name)] = len(values)
    missing = [name for name in FEATURE_NAMES if name not in lengths]
    if missing:
        raise BrokenFileError(
            f"{path}: not a BERT pre-training record; missing feature(s) {missing} "
            f"(found {sorted(example.features.feature)}).")
    return lengths, any(name in _V2_NAMES for name in example.features.feature)


def _parse_batch(serialized, seq_length, max_predictions, v2_names):
    ids_name, seg_name = ("input_word_ids", "input_type_ids") if v2_names else ("input_ids", "segment_ids")
    spec = {
        ids_name: tf.io.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
        seg_name: tf.io.FixedLenFeature([seq_length], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([max_predictions], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([max_predictions], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    f = tf.io.parse_example(serialized, spec)
    x = {
        "token_ids": tf.cast(f[ids_name], tf.int32),
        "segment_ids": tf.cast(f[seg_name], tf.int32),
        "padding_mask": tf.cast(f["input_mask"], tf.int32),
        "masked_lm_positions": tf.cast(f["masked_lm_positions"], tf.int32),
    }
    y = {
        "masked_lm_ids": tf.cast(f["masked_lm_ids"], tf.int32),
        "masked_lm_weights": f["masked_lm_weights"],
        "next_sentence_labels": tf.cast(tf.squeeze(f["next_sentence_labels"], -1), tf.int32),
    }
    return x, y


def pretraining_record_dataset(file_patterns, batch_size, seq_length=None, max_predictions_per_seq=None,
                               shuffle=True, shuffle_buffer=10000, seed=0, repeat=True, skip_batches=0,
                               drop_remainder=True, compression_type=None, left_to_right=False):
    """Batches of BERT pre-training records for `BertPretrainer`.

    The order is a deterministic function of the files and `seed`, so a run resumed at
    step `n` continues on exactly the batches an uninterrupted run would see with
    `skip_batches=n`.

    Args:
        file_patterns: a glob, comma-separated globs, or a list of them.
        batch_size: examples per batch.
        seq_length, max_predictions_per_seq: the record lengths; read from the first
            record when None, checked against it otherwise.
        shuffle: shuffle records with a `shuffle_buffer`-sized buffer seeded by `seed`.
        repeat: repeat forever (training); False for one pass (evaluation).
        skip_batches: batches to skip (the data position of a resumed run).
        drop_remainder: drop a last partial batch.
        compression_type: None, `"GZIP"` or `"ZLIB"`.
        left_to_right: turn the batches into left-to-right LM targets (the paper's LTR
            ablation; see `left_to_right_targets`).

    Returns: a `tf.data.Dataset` of `(x, y)` (module doc).

    Raises:
        FileNotFoundError: no file matches; ValueError: naming the file whose records
        are not pre-training records or have other lengths than asked.

    Example:
    >>> import tempfile
    >>> from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data
    >>> summary = create_pretraining_data([text_file], tempfile.mkdtemp(), vocab_file,
    ...                                   max_seq_length=32, max_predictions_per_seq=4,
    ...                                   num_workers=1, progress=False)
    >>> x, y = next(iter(pretraining_record_dataset(summary["output_files"], batch_size=8)))
    >>> x["token_ids"].shape, sorted(y)
    (TensorShape([8, 32]), ['masked_lm_ids', 'masked_lm_weights', 'next_sentence_labels'])
    """
    files = expand_file_patterns(file_patterns)
    lengths, v2_names = inspect_record_file(files[0], compression_type)
    for name, want, feature in (("seq_length", seq_length, "input_ids"),
                                ("max_predictions_per_seq", max_predictions_per_seq, "masked_lm_ids")):
        if want is not None and int(want) != lengths[feature]:
            raise ValueError(
                f"{files[0]}: records have {feature} of length {lengths[feature]}, but "
                f"{name}={want} was asked for.")
    seq_length = lengths["input_ids"]
    max_predictions_per_seq = lengths["masked_lm_ids"]

    ds = tf.data.TFRecordDataset(files, compression_type=compression_type or "")
    if repeat:
        ds = ds.repeat()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if skip_batches:
        ds = ds.skip(int(skip_batches))
    ds = ds.map(lambda s: _parse_batch(s, seq_length, max_predictions_per_seq, v2_names),
                num_parallel_calls=tf.data.AUTOTUNE)
    if left_to_right:
        ds = ds.map(left_to_right_targets, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def count_records(file_patterns, compression_type=None):
    """Number of records in the files (a full read, which also checks every file).

    Raises:
        BrokenFileError: naming the file that is cut short or not TFRecords.
    """
    total = 0
    for path in expand_file_patterns(file_patterns):
        ds = tf.data.TFRecordDataset(path, compression_type=compression_type or "")
        try:  # (records, bytes): each record is a 12-byte header, its data and a 4-byte checksum
            count, size = ds.reduce((tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
                                    lambda n, r: (n[0] + 1, n[1] + 16 + tf.cast(tf.strings.length(r), tf.int64)))
        except tf.errors.OpError as e:
            raise BrokenFileError(f"{path}: cannot read TFRecords ({error_text(e)}); the file may be "
                                  "truncated (an interrupted write or copy?).") from None
        left = tf.io.gfile.stat(path).length - int(size)
        if not compression_type and left:
            raise BrokenFileError(f"{path}: {left} bytes after the last whole record ({int(count)}); the file "
                                  "was cut inside a record header (an interrupted write or copy?).")
        total += int(count)
    return total


def instances_dataset(instances, batch_size, max_seq_length, max_predictions_per_seq,
                      drop_remainder=False, left_to_right=False):
    """In-memory `PretrainingInstance`s as batches of the `pretraining_record_dataset`
    format (for a small fixed evaluation set without writing files).

    Args:
        instances: a list of `PretrainingInstance`.
        batch_size, drop_remainder, left_to_right: as in `pretraining_record_dataset`.
        max_seq_length, max_predictions_per_seq: the padded lengths.
    """
    if not instances:
        raise ValueError("instances_dataset: no instances.")
    serialized = [instance_to_example(x, max_seq_length, max_predictions_per_seq)
                  .SerializeToString(deterministic=True) for x in instances]
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(serialized, tf.string))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(lambda s: _parse_batch(s, max_seq_length, max_predictions_per_seq, False))
    if left_to_right:
        ds = ds.map(left_to_right_targets)
    return ds.prefetch(tf.data.AUTOTUNE)

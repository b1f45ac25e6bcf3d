"""BertPreprocessor: raw text (single or pair) → BERT's packed model inputs."""

import keras
import tensorflow as tf
from keras_hub.layers import MultiSegmentPacker


def _as_string_tensor(x):
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)) or keras.backend.is_keras_tensor(x):
        return x
    return tf.convert_to_tensor(x, dtype=tf.string)


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertPreprocessor(keras.layers.Layer):
    """Tokenizes and packs text as `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`.

    When a pair is too long, the longer segment is truncated first, one token at a
    time, as the original `_truncate_seq_pair` does (keras-hub's round-robin packer
    gives the same lengths). Works eagerly, inside `tf.data.Dataset.map`, and inside
    Keras models and SavedModels.

    Args:
        tokenizer: a `BertTokenizer`.
        sequence_length: the packed length (including [CLS] and [SEP]s).
        dynamic_padding: pad only to the longest row of the batch (at most
            `sequence_length`) instead of always to `sequence_length`.

    Call args:
        x: a string tensor / str / list of str (single sentences), or a **tuple**
            `(a, b)` of two such (sentence pairs). A list is always a batch.

    Returns: dict `token_ids` (int32), `segment_ids` (int32), `padding_mask` (bool).

    Example:
    >>> pre = BertPreprocessor(BertTokenizer("vocab.txt"), sequence_length=16)  # doctest: +SKIP
    >>> pre(("Who wrote it?", "Orwell wrote it."))["token_ids"]  # doctest: +SKIP
    """

    def __init__(self, tokenizer, sequence_length=128, dynamic_padding=False, **kwargs):
        super().__init__(**kwargs)
        if sequence_length is None or int(sequence_length) < 2:
            raise ValueError(f"sequence_length must be an integer >= 2, got {sequence_length!r}.")
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.dynamic_padding = bool(dynamic_padding)
        self.packer = MultiSegmentPacker(
            sequence_length=self.sequence_length,
            start_value=tokenizer.cls_token_id,
            end_value=tokenizer.sep_token_id,
            pad_value=tokenizer.pad_token_id,
            truncate="round_robin",
        )

    def __call__(self, x, *args, **kwargs):
        # Python strings and lists become string tensors (Keras takes only tensors).
        if isinstance(x, tuple):
            x = tuple(_as_string_tensor(s) for s in x)
        else:
            x = _as_string_tensor(x)
        return super().__call__(x, *args, **kwargs)

    def _tokenize(self, x):
        x = tf.convert_to_tensor(x, dtype=tf.string)
        return self.tokenizer(x)

    def call(self, x):
        # A tuple holds segments (a, b); a list is a batch of single sentences.
        segments = x if isinstance(x, tuple) else (x,)
        if len(segments) not in (1, 2):
            raise ValueError(f"BertPreprocessor takes one or two segments, got {len(segments)}.")
        tokenized = tuple(self._tokenize(s) for s in segments)
        token_ids, segment_ids = self.packer(tokenized)
        # The tokenizer never emits [PAD] for text, so [PAD] marks padding exactly.
        padding_mask = tf.not_equal(token_ids, self.tokenizer.pad_token_id)
        if self.dynamic_padding:
            rank = token_ids.shape.rank
            lengths = tf.reduce_sum(tf.cast(padding_mask, tf.int32), axis=-1)
            longest = tf.maximum(tf.reduce_max(lengths), 2)
            if rank == 2:
                token_ids = token_ids[:, :longest]
                segment_ids = segment_ids[:, :longest]
                padding_mask = padding_mask[:, :longest]
            else:
                token_ids, segment_ids, padding_mask = (
                    t[:longest] for t in (token_ids, segment_ids, padding_mask)
                )
        return {
            "token_ids": tf.cast(token_ids, tf.int32),
            "segment_ids": tf.cast(segment_ids, tf.int32),
            "padding_mask": padding_mask,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
                "sequence_length": self.sequence_length,
                "dynamic_padding": self.dynamic_padding,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)

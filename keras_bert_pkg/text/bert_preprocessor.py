"""BertPreprocessor: raw text (single or pair) → BERT's packed model inputs."""

import keras
import tensorflow as tf

from keras_bert_pkg.checkpoints.presets import read_preset, tokenizer_config
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer


def _as_string_tensor(x):
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)) or keras.backend.is_keras_tensor(x):
        return x
    return tf.convert_to_tensor(x, dtype=tf.string)


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertPreprocessor(keras.layers.Layer):
    """Tokenizes and packs text as `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`.

    When a pair is too long, the longer segment is truncated first, one token at a
    time, as the original `_truncate_seq_pair` does (`text_packing.pack_texts`, the
    same packing the exported SavedModels run). Works eagerly, inside
    `tf.data.Dataset.map`, and inside Keras models and SavedModels.

    Args:
        tokenizer: a `BertTokenizer`.
        sequence_length: the packed length (including [CLS] and [SEP]s).
        dynamic_padding: pad only to the longest row of the batch (at most
            `sequence_length`) instead of always to `sequence_length`.

    Call args:
        x: a string tensor / str / list of str (single sentences), or a **tuple**
            `(a, b)` of two such (sentence pairs). A list is always a batch. With `b` of
            shape [batch, choices] (multiple choice), every `(a[i], b[i, j])` is packed.

    Returns: dict `token_ids` (int32), `segment_ids` (int32), `padding_mask` (bool), each
    [batch, length] ([batch, choices, length] for multiple choice).

    Example:
    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who",
    ...                            "wrote", "it", "orwell", "?", "."])
    >>> preprocessor = BertPreprocessor(tokenizer, sequence_length=10)
    >>> out = preprocessor((["Who wrote it?"], ["Orwell wrote it."]))
    >>> out["token_ids"].numpy().tolist()
    [[2, 5, 6, 7, 9, 3, 8, 6, 7, 3]]
    >>> out["segment_ids"].numpy().tolist()
    [[0, 0, 0, 0, 0, 0, 1, 1, 1, 1]]
    """

    def __init__(self, tokenizer, sequence_length=128, dynamic_padding=False, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # no weights
        if sequence_length is None or int(sequence_length) < 3:
            raise ValueError(f"sequence_length must be an integer >= 3, got {sequence_length!r}.")
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.dynamic_padding = bool(dynamic_padding)

    @classmethod
    def from_preset(cls, preset, sequence_length=None, dynamic_padding=True, **kwargs):
        """The preprocessor of a pretrained model: its tokenizer (vocabulary, casing).

        Args:
            preset: a published checkpoint name or a checkpoint directory / file (see
                `BertTokenizer.from_preset`).
            sequence_length: the packed length; default the checkpoint's positions (512
                for BERT's checkpoints; text is truncated beyond it).
            dynamic_padding: pad each batch only to its longest row (default here, so
                short text does not pay for `sequence_length` positions).
            **kwargs: more constructor arguments.

        Example:
        >>> preprocessor = BertPreprocessor.from_preset(checkpoint_dir, sequence_length=32)
        >>> preprocessor(["hello world"])["token_ids"].shape
        TensorShape([1, 4])
        """
        contents = read_preset(preset)
        tokenizer = BertTokenizer(**tokenizer_config(contents))
        sequence_length = sequence_length or contents.config.get("max_sequence_length", 512)
        return cls(tokenizer, sequence_length=sequence_length,
                   dynamic_padding=dynamic_padding, **kwargs)

    def __call__(self, x, *args, **kwargs):
        # Python strings and lists become string tensors (Keras takes only tensors).
        if isinstance(x, tuple):
            x = tuple(_as_string_tensor(s) for s in x)
        else:
            x = _as_string_tensor(x)
        return super().__call__(x, *args, **kwargs)

    def call(self, x):
        # A tuple holds segments (a, b); a list is a batch of single sentences.
        segments = list(x) if isinstance(x, tuple) else [x]
        if len(segments) not in (1, 2):
            raise ValueError(f"BertPreprocessor takes one or two segments, got {len(segments)}.")
        scalar = segments[0].shape.rank == 0
        if scalar:
            segments = [tf.expand_dims(s, 0) for s in segments]
        if len(segments) == 2 and segments[1].shape.rank == 2:
            packed = text_packing.pack_choices(self.tokenizer, segments[0], segments[1],
                                               self.sequence_length)
        else:
            packed = text_packing.pack_texts(self.tokenizer, segments, self.sequence_length)
        outputs = {
            "token_ids": packed["token_ids"],
            "segment_ids": packed["segment_ids"],
            "padding_mask": tf.cast(packed["padding_mask"], tf.bool),
        }
        if not self.dynamic_padding:
            rank = packed["token_ids"].shape.rank
            width = self.sequence_length - tf.shape(packed["token_ids"])[-1]
            pads = {"token_ids": self.tokenizer.pad_token_id, "segment_ids": 0,
                    "padding_mask": False}
            outputs = {key: tf.pad(value, [[0, 0]] * (rank - 1) + [[0, width]],
                                   constant_values=pads[key])
                       for key, value in outputs.items()}
            outputs = {key: tf.ensure_shape(value, [None] * (rank - 1) + [self.sequence_length])
                       for key, value in outputs.items()}
        if scalar:
            outputs = {key: value[0] for key, value in outputs.items()}
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "sequence_length": self.sequence_length,
            "dynamic_padding": self.dynamic_padding,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)

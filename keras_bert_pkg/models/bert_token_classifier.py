"""BertTokenClassifier: one label per token (named-entity recognition, section 4.3)."""

import keras
import tensorflow as tf

from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL, masked_token_accuracy
from keras_bert_pkg.models.bert_task import BertTask
from keras_bert_pkg.models.window_batches import concatenate_outputs
from keras_bert_pkg.models.word_tags import TagDecoding, tag_function


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertTokenClassifier(BertTask):
    """A tag for every token: dropout and a dense layer on the backbone's sequence output.

    The paper tags the first sub-token of each word and leaves the others out of the
    loss; `keras_bert_pkg.data.token_alignment.TokenAligner` builds such labels (-100
    for the tokens left out) and reads the word tags back. `compile()` defaults the
    loss to sparse softmax cross-entropy averaged over the tokens whose label is not
    -100, and the metric to the accuracy over the same tokens. The logits are computed
    in float32 under a mixed precision policy.

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of tags (e.g. 9 for CoNLL-2003's IOB2 tags).
        preprocessor: optional `BertPreprocessor` (then `predict` takes raw strings and
            returns logits for its tokens).
        dropout: dropout on the sequence output before the classifier.

    Inputs: the backbone's dict (`token_ids`, `segment_ids`, `padding_mask`).
    Output: logits `[batch, length, num_classes]`.

    `tag(texts, labels)` tags raw texts of any length word by word and lists their
    entities (windows joined as the offline decoder does: `models.word_tags`), the same
    computation as the exported NER model.

    Example:
    >>> model = BertTokenClassifier.from_preset(checkpoint_dir, num_classes=9)
    >>> model.predict(["George lived in London"], verbose=0).shape
    (1, 6, 9)
    """

    uses_pooled_output = False

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes!r}.")
        inputs = backbone.input
        x = backbone(inputs)["sequence_output"]
        x = keras.layers.Dropout(dropout, name="logits_dropout")(x)
        logits = keras.layers.Dense(
            int(num_classes),
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=getattr(backbone, "initializer_range", 0.02)),
            dtype="float32",
            name="logits",
        )(x)
        super().__init__(inputs=inputs, outputs=logits, backbone=backbone,
                         preprocessor=preprocessor, **kwargs)
        self.num_classes = int(num_classes)
        self.dropout = dropout

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """`compile` with defaults: cross-entropy and accuracy over labelled tokens."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=IGNORE_LABEL)
        if metrics == "auto":
            metrics = [masked_token_accuracy]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def tag(self, texts, labels, batch_size=32, **decoding):
        """Word tags and entities of raw texts of any length (`models.word_tags`).

        Args:
            texts: a list of strings (or one string).
            labels: the tag names in id order (IOB2, e.g. `data.conll.tag_list`).
            batch_size: texts per call (their windows run together).
            **decoding: `TagDecoding` options (`stride`, `aggregation`, `constrained`, `max_tokens`, ...).

        Returns: dict of numpy arrays, one row per text, padded to the most words /
        entities: `words`, `word_tags` (str), `word_starts`, `word_ends` (character
        offsets, -1 in the padding), `num_words`; `entity_types`, `entity_texts`,
        `entity_starts`, `entity_ends`, `num_entities`; `num_windows`, `truncated`.

        Example:
        >>> model = BertTokenClassifier.from_preset(checkpoint_dir, num_classes=3)
        >>> out = model.tag(["George lived in London ."], ["O", "B-PER", "I-PER"], aggregation="max")
        >>> out["words"][0].tolist(), int(out["num_windows"][0])
        (['George', 'lived', 'in', 'London', '.'], 1)
        """
        if self.preprocessor is None:
            raise ValueError("tag() needs the model's preprocessor (for its tokenizer and "
                             "sequence length): build the model with one, or use from_preset.")
        texts = [texts] if isinstance(texts, str) else list(texts)
        run = tag_function(self, self.preprocessor.tokenizer, self.preprocessor.sequence_length,
                           labels, TagDecoding(**decoding))
        parts = [run(tf.constant(texts[i:i + batch_size], tf.string))
                 for i in range(0, len(texts), batch_size)] or [run(tf.constant([], tf.string))]
        return concatenate_outputs(parts)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config


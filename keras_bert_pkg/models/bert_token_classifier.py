"""BertTokenClassifier: one label per token (named-entity recognition, section 4.3)."""

import keras

from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL, masked_token_accuracy
from keras_bert_pkg.models.bert_task import BertTask

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

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config


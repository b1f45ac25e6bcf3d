"""BertMultipleChoice: one score per candidate, softmax over the candidates (SWAG)."""

import keras
from keras import ops

from keras_bert_pkg.models.bert_task import BertTask

_INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FoldChoices(keras.layers.Layer):
    """Folds `[batch, choices, length]` into `[batch * choices, length]` (any length)."""

    def call(self, x):
        return ops.reshape(x, (-1, ops.shape(x)[-1]))

    def compute_output_shape(self, input_shape):
        batch, choices = input_shape[0], input_shape[1]
        folded = batch * choices if batch is not None and choices is not None else None
        return (folded, input_shape[-1])


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertMultipleChoice(BertTask):
    """Scores `num_choices` candidate sequences per example and compares them.

    As in section 4.4 of the paper (SWAG), each candidate is packed as its own sequence
    `[CLS] context [SEP] ending [SEP]`; the `[batch, choices, length]` inputs are folded
    to `[batch * choices, length]` for the backbone, a dense layer scores each pooled
    `[CLS]` vector, and the scores are unfolded to logits `[batch, choices]`.
    `compile()` defaults to softmax cross-entropy over the choices and accuracy. The
    scores are computed in float32 under a mixed precision policy.

    Args:
        backbone: a `BertBackbone`.
        num_choices: candidates per example (4 in SWAG).
        preprocessor: must be None: multiple-choice inputs are token-id dicts (build
            them with `keras_bert_pkg.data.swag.swag_features`); the argument exists
            for the common task-model interface.
        dropout: dropout on the pooled output before the scoring layer.

    Inputs: dict `token_ids`, `segment_ids`, `padding_mask`, each `[batch, choices, L]`.
    Output: logits `[batch, choices]`.

    Example:
    >>> model = BertMultipleChoice(BertBackbone.from_preset("bert_tiny"), 4)  # doctest: +SKIP
    >>> model.compile(optimizer="adam")  # doctest: +SKIP
    >>> model.fit(features, labels)  # features from swag_features(...)  # doctest: +SKIP
    """

    def __init__(self, backbone, num_choices, preprocessor=None, dropout=0.1, **kwargs):
        if int(num_choices) < 2:
            raise ValueError(f"num_choices must be >= 2, got {num_choices!r}.")
        num_choices = int(num_choices)
        if preprocessor is not None:
            raise ValueError(
                "BertMultipleChoice takes token-id dicts [batch, choices, length], not raw "
                "text: pack the (context, ending) pairs with "
                "keras_bert_pkg.data.swag.swag_features(examples, preprocessor) and pass "
                "preprocessor=None."
            )
        inputs = {
            name: keras.Input(shape=(num_choices, None), dtype="int32", name=name)
            for name in _INPUT_NAMES
        }
        fold = FoldChoices(name="fold_choices")
        flat = {name: fold(t) for name, t in inputs.items()}
        pooled = backbone(flat)["pooled_output"]
        pooled = keras.layers.Dropout(dropout, name="logits_dropout")(pooled)
        scores = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=getattr(backbone, "initializer_range", 0.02)),
            dtype="float32",
            name="logits",
        )(pooled)
        logits = ops.reshape(scores, (-1, num_choices))
        super().__init__(inputs=inputs, outputs=logits, backbone=backbone,
                         preprocessor=preprocessor, **kwargs)
        self.num_choices = num_choices
        self.dropout = dropout

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """`compile` with defaults: cross-entropy over the choices, and accuracy."""
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"num_choices": self.num_choices, "dropout": self.dropout})
        return config


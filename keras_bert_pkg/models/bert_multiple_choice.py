"""BertMultipleChoice: one score per candidate, softmax over the candidates (SWAG)."""

import keras
from keras import ops

from keras_bert_pkg.layers.fold_choices import FoldChoices
from keras_bert_pkg.models.bert_task import BertTask

_INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


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
        preprocessor: an optional `BertPreprocessor`; with one, `fit`/`evaluate`/
            `predict` take raw text: a tuple `(contexts, endings)` of a string batch
            [batch] and a string batch [batch, num_choices].
        dropout: dropout on the pooled output before the scoring layer.

    Inputs: dict `token_ids`, `segment_ids`, `padding_mask`, each `[batch, choices, L]`
    (`keras_bert_pkg.data.swag.swag_features` builds them), or raw text as above.
    Output: logits `[batch, choices]`.

    Example:
    >>> model = BertMultipleChoice.from_preset(checkpoint_dir, num_choices=2)
    >>> model.predict((["the cat sat on the"], [["mat .", "cloud ."]]), verbose=0).shape
    (1, 2)
    """

    def __init__(self, backbone, num_choices, preprocessor=None, dropout=0.1, **kwargs):
        if int(num_choices) < 2:
            raise ValueError(f"num_choices must be >= 2, got {num_choices!r}.")
        num_choices = int(num_choices)
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


"""BertClassifier: sentence / sentence-pair classification and regression (GLUE)."""

import keras

from keras_bert_pkg.models.bert_task import BertTask


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertClassifier(BertTask):
    """BERT with a classification (or regression) layer on the pooled [CLS] output.

    As in section 4.1 of the paper: the pooled output C (tanh dense on the final [CLS]
    vector) goes through dropout and one dense layer W, giving logits `C W^T`. With
    `num_classes=1` the single output is a regression score (STS-B), trained with mean
    squared error. The logits are computed in float32 under a mixed precision policy.

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of classes; 1 for regression.
        preprocessor: optional `BertPreprocessor`; with one, `fit`/`evaluate`/`predict`
            take raw strings (a tuple `(a, b)` of string lists for pairs).
        dropout: dropout rate on the pooled output (0.1 in the paper).

    Inputs: the backbone's dict (`token_ids`, `segment_ids`, `padding_mask`).
    Outputs: logits [batch, num_classes] (no softmax).

    Example:
    >>> model = BertClassifier.from_preset(checkpoint_dir, num_classes=2)
    >>> model.compile(optimizer=kb.create_optimizer(3e-5, total_steps=10))
    >>> history = model.fit(["a gripping film", "tedious"], [1, 0], batch_size=2, verbose=0)
    >>> model.predict(["what a film"], verbose=0).shape
    (1, 2)
    """

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.1, **kwargs):
        num_classes = int(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (1 for regression), got {num_classes}.")
        dropout_layer = keras.layers.Dropout(dropout, name="classifier_dropout")
        logits_layer = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=getattr(backbone, "initializer_range", 0.02)
            ),
            dtype="float32",
            name="logits",
        )
        inputs = backbone.input
        pooled = backbone(inputs)["pooled_output"]
        logits = logits_layer(dropout_layer(pooled))
        super().__init__(
            inputs=inputs, outputs=logits, backbone=backbone, preprocessor=preprocessor, **kwargs
        )
        self.num_classes = num_classes
        self.dropout = dropout

    @property
    def is_regression(self):
        return self.num_classes == 1

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """`compile` with defaults: sparse categorical cross-entropy on logits and
        accuracy (mean squared error for `num_classes=1`)."""
        if loss == "auto":
            loss = (keras.losses.MeanSquaredError() if self.is_regression
                    else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        if metrics == "auto":
            metrics = ([] if self.is_regression
                       else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config

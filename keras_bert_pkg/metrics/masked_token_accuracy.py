"""Token accuracy over the labelled tokens only (label -100 marks the others)."""

import keras
from keras import ops

IGNORE_LABEL = -100


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
def masked_token_accuracy(y_true, y_pred):
    """Accuracy over the tokens whose label is not -100 (the ignored sub-tokens,
    special tokens and padding), `BertTokenClassifier`'s default metric.

    Example:
    >>> import numpy as np
    >>> labels = np.array([[1, -100, 0]])
    >>> logits = np.array([[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]], "float32")
    >>> float(masked_token_accuracy(labels, logits))
    0.5
    """
    y_true = ops.cast(y_true, "int32")
    mask = ops.cast(ops.not_equal(y_true, IGNORE_LABEL), "float32")
    correct = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true),
                       "float32")
    return ops.sum(correct * mask) / ops.maximum(ops.sum(mask), 1.0)

"""FoldChoices: multiple-choice inputs `[batch, choices, length]` as `[batch * choices, length]`."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FoldChoices(keras.layers.Layer):
    """Folds `[batch, choices, length]` into `[batch * choices, length]` (any length), so
    every candidate runs through the backbone as its own sequence.

    Example:
    >>> import numpy as np
    >>> FoldChoices()(np.zeros((2, 4, 7), "int32")).shape
    TensorShape([8, 7])
    """

    def call(self, x):
        return ops.reshape(x, (-1, ops.shape(x)[-1]))

    def compute_output_shape(self, input_shape):
        batch, choices = input_shape[0], input_shape[1]
        folded = batch * choices if batch is not None and choices is not None else None
        return (folded, input_shape[-1])

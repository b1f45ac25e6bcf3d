"""The left-to-right attention mask of the paper's "LTR" ablation."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class CausalAttentionMask(keras.layers.Layer):
    """Builds a [batch, length, length] boolean mask where position i sees j <= i.

    Combined with the padding mask inside each encoder block, it turns BERT's
    bidirectional encoder into the left-to-right model of the paper's ablation (Table 5).

    Example:
    >>> import numpy as np
    >>> CausalAttentionMask()(np.zeros((1, 3, 4))).shape
    TensorShape([1, 3, 3])
    """

    def call(self, x):
        batch = ops.shape(x)[0]
        length = ops.shape(x)[1]
        rows = ops.expand_dims(ops.arange(length), 1)
        cols = ops.expand_dims(ops.arange(length), 0)
        mask = ops.greater_equal(rows, cols)
        return ops.broadcast_to(ops.expand_dims(mask, 0), (batch, length, length))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[1])

    def compute_output_spec(self, x):
        return keras.KerasTensor((x.shape[0], x.shape[1], x.shape[1]), dtype="bool")

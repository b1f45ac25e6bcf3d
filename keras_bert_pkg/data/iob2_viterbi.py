"""The most probable valid IOB2 tag sequence of a sentence, by Viterbi, in core TensorFlow ops.

A tagger that takes each word's arg-max tag can write `I-X` after `O` or after a word of
another type: an ill-formed sequence, which conlleval and seqeval read as the start of an
entity. `iob2_viterbi` instead returns, for each sentence, the sequence of tags that
maximises the sum of the words' tag log-probabilities among the valid ones: a sentence
starts with `O`, `B-X` or any tag without a `B-`/`I-` prefix, and `I-X` follows only
`B-X` or `I-X`. Where the arg-max sequence is valid it is returned unchanged. There are no
learned transition scores: the model's own probabilities decide, under the constraint.

One implementation for both paths: `data.token_alignment.TokenAligner.decode` (the
offline scores) calls it eagerly, `models.word_tags` (`BertTokenClassifier.tag` and the
exported NER signature) inside its graph; it uses core ops only, so the exported model
needs no op beyond the tokenizer's.

Example:
>>> log_probs = np.log([[0.3, 0.1, 0.6], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]])  # O, B-PER, I-PER
>>> tags = ["O", "B-PER", "I-PER"]
>>> np.argmax(log_probs, -1).tolist()  # I-PER after nothing: ill-formed
[2, 2, 0]
>>> iob2_viterbi(tf.RaggedTensor.from_row_lengths(log_probs.astype("float32"), [3]), tags).to_list()
[[1, 2, 0]]
"""

import numpy as np
import tensorflow as tf

# Added to the score of a transition IOB2 forbids: far below any sum of log-probabilities
# of float32 softmax outputs (each >= -104), and finite, so no inf - inf arises.
FORBIDDEN = -1e9


def iob2_transitions(tags):
    """Penalties of the IOB2 constraint (0 allowed, `FORBIDDEN` not), as float32 numpy:
    `[from, to]` between tags and `[to]` for the first word of a sentence.

    Args:
        tags: the tag names, indexed by id (`O`, `B-X`, `I-X`; other names are
            unconstrained, like `O`).
    """
    tags = list(tags)
    inside_type = [tag[2:] if tag.startswith("I-") else None for tag in tags]
    entity_type = [tag[2:] if tag.startswith(("B-", "I-")) else None for tag in tags]
    start = np.array([FORBIDDEN if kind is not None else 0.0 for kind in inside_type], np.float32)
    transitions = np.zeros((len(tags), len(tags)), np.float32)
    for to, kind in enumerate(inside_type):
        if kind is not None:
            transitions[:, to] = [0.0 if entity_type[i] == kind else FORBIDDEN for i in range(len(tags))]
    return transitions, start


def _viterbi(scores, lengths, transitions, start):
    """Best tag ids int32 [batch, time] of right-padded `scores` [batch, time, tags], time >= 2.

    The rows are moved to end together, padded in front with an extra state that only
    padding takes and that leads into a row's first word under `start`; then every
    row runs the same steps, with no per-step test of where it ends."""
    time, num_tags = tf.shape(scores)[1], tf.shape(scores)[2]
    in_row = tf.sequence_mask(lengths, time)[:, :, tf.newaxis]
    padding_state = tf.where(in_row, FORBIDDEN, 0.0)
    scores = tf.concat([tf.where(in_row, scores, FORBIDDEN), padding_state], -1)
    scores = tf.reverse(tf.reverse_sequence(scores, lengths, seq_axis=1, batch_axis=0), [1])  # padding first
    transitions = tf.concat([tf.pad(transitions, [[0, 0], [0, 1]], constant_values=FORBIDDEN),
                             tf.concat([start, [0.0]], 0)[tf.newaxis]], 0)  # padding: to itself or to a start

    def forward(carry, score):
        candidates = carry[0][:, :, tf.newaxis] + transitions  # [batch, from, to]
        return tf.reduce_max(candidates, axis=1) + score, tf.argmax(candidates, axis=1, output_type=tf.int32)

    first = scores[:, 0] + tf.concat([start, [0.0]], 0)
    pointers = tf.zeros_like(first, tf.int32)
    best, pointers = tf.scan(forward, tf.transpose(scores[:, 1:], [1, 0, 2]), initializer=(first, pointers))
    last = tf.argmax(best[-1], axis=-1, output_type=tf.int32)
    earlier = tf.scan(lambda tag, pointer: tf.gather(pointer, tag, batch_dims=1), pointers,
                      initializer=last, reverse=True)  # earlier[t]: the tag at time t
    tags = tf.transpose(tf.concat([earlier, last[tf.newaxis]], 0))
    tags = tf.reverse_sequence(tf.reverse(tags, [1]), lengths, seq_axis=1, batch_axis=0)
    return tf.minimum(tags, num_tags - 1)  # past a row's end: the padding state, cut off by the caller


@tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32), tf.TensorSpec([None], tf.int64),
                              tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32)])
def _best_valid(scores, lengths, transitions, start):
    """`_viterbi` where the arg-max sequence is ill-formed; elsewhere the arg-max, which is
    then the best valid sequence too (the scan's steps cost far more than its width, so
    the rows a trained tagger gets right skip it)."""
    argmax = tf.argmax(scores, axis=-1, output_type=tf.int32)
    time = tf.shape(scores)[1]
    previous = tf.pad(argmax[:, :-1], [[0, 0], [1, 0]], constant_values=tf.shape(scores)[2])  # the start
    penalty = tf.gather_nd(tf.concat([transitions, start[tf.newaxis]], 0), tf.stack([previous, argmax], -1))
    in_row = tf.range(time, dtype=tf.int64) < lengths[:, tf.newaxis]
    ill_formed = tf.where(tf.reduce_any((penalty < 0) & in_row, axis=1))

    def repair():
        rows_lengths = tf.gather_nd(lengths, ill_formed)
        width = tf.cast(tf.maximum(tf.reduce_max(rows_lengths), 2), tf.int32)  # a scan of no steps cannot stack
        fixed = _viterbi(tf.gather_nd(scores, ill_formed)[:, :width], rows_lengths, transitions, start)
        return tf.tensor_scatter_nd_update(argmax, ill_formed, tf.pad(fixed, [[0, 0], [0, time - width]]))

    return tf.cond(tf.size(ill_formed) > 0, repair, lambda: argmax)


def iob2_viterbi(word_log_probs, tags):
    """The most probable valid IOB2 tag ids of each sentence (module doc).

    Args:
        word_log_probs: float32 ragged [batch, (words), len(tags)]: each word's tag
            log-probabilities.
        tags: the tag names, indexed by id.

    Returns:
        int32 ragged [batch, (words)] tag ids.
    """
    transitions, start = iob2_transitions(tags)
    lengths = word_log_probs.row_lengths()
    padded = word_log_probs.to_tensor()
    padded = tf.pad(padded, [[0, 0], [0, tf.maximum(2 - tf.shape(padded)[1], 0)], [0, 0]])
    return tf.RaggedTensor.from_tensor(_best_valid(padded, lengths, transitions, start), lengths=lengths)

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


@tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32), tf.TensorSpec([None], tf.int64),
                              tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32)])
def _viterbi(scores, lengths, transitions, start):
    """Best tag ids int32 [batch, time] of padded `scores` [batch, time, tags], time >= 2;
    past a row's length its tags repeat its last one."""
    identity = tf.broadcast_to(tf.range(tf.shape(scores)[2]), tf.shape(scores[:, 0]))

    def forward(carry, step):
        best, _ = carry
        score, t = step
        candidates = best[:, :, tf.newaxis] + transitions  # [batch, from, to]
        live = (t < lengths)[:, tf.newaxis]  # past a row's end: keep its scores, point to itself
        previous = tf.where(live, tf.argmax(candidates, axis=1, output_type=tf.int32), identity)
        return tf.where(live, tf.reduce_max(candidates, axis=1) + score, best), previous

    first = scores[:, 0] + start
    steps = (tf.transpose(scores[:, 1:], [1, 0, 2]), tf.range(1, tf.shape(scores, tf.int64)[1]))
    best, pointers = tf.scan(forward, steps, initializer=(first, identity))
    last = tf.argmax(tf.concat([first[tf.newaxis], best], 0)[-1], axis=-1, output_type=tf.int32)
    earlier = tf.scan(lambda tag, pointer: tf.gather(pointer, tag, batch_dims=1), pointers,
                      initializer=last, reverse=True)  # earlier[t]: the tag at time t
    return tf.transpose(tf.concat([earlier, last[tf.newaxis]], 0))


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
    short = tf.maximum(2 - tf.shape(padded)[1], 0)  # a scan of no steps cannot stack its outputs
    padded = tf.pad(padded, [[0, 0], [0, short], [0, 0]])
    return tf.RaggedTensor.from_tensor(_viterbi(padded, lengths, transitions, start), lengths=lengths)

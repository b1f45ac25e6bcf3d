"""In-graph IOB2 decoding: word tags → entity spans, as `data.token_alignment.entity_spans`.

A tag other than `O` starts an entity unless it is `I-X` right after a word of the
same entity type X (conlleval's and seqeval's default reading); the entity runs until
the next tag that does not continue it.
"""

import numpy as np
import tensorflow as tf


def tag_tables(tags):
    """Per tag id: `is_outside`, `is_inside` (an `I-` tag) and its entity type id, plus
    the list of entity type names (the part after `B-`/`I-`)."""
    types = []
    type_ids = []
    for tag in tags:
        if tag == "O":
            type_ids.append(-1)
            continue
        kind = tag[2:]
        if kind not in types:
            types.append(kind)
        type_ids.append(types.index(kind))
    outside = np.array([t == "O" for t in tags])
    inside = np.array([t.startswith("I-") for t in tags])
    return outside, inside, np.array(type_ids, np.int32), types


def decode_entities(word_tag_ids, tags):
    """Entities of ragged word tags.

    Args:
        word_tag_ids: int ragged [batch, None] tag ids (one per word).
        tags: the tag names, indexed by id.

    Returns:
        dict of ragged [batch, None] tensors: `type` (string), `first_word` and
        `last_word` (int64 indices of the entity's words in its row, inclusive).
    """
    outside, inside, type_ids, types = tag_tables(tags)
    ids = word_tag_ids.flat_values
    rows = word_tag_ids.value_rowids()
    n = tf.size(ids, out_type=tf.int64)
    is_outside = tf.gather(tf.constant(outside), ids)
    is_inside = tf.gather(tf.constant(inside), ids)
    kind = tf.gather(tf.constant(type_ids), ids)
    index = tf.range(n)
    previous = tf.maximum(index - 1, 0)
    same_row = tf.logical_and(index > 0, tf.equal(tf.gather(rows, previous), rows))
    continues = tf.logical_and(
        tf.logical_and(is_inside, same_row),
        tf.logical_and(tf.logical_not(tf.gather(is_outside, previous)),
                       tf.equal(tf.gather(kind, previous), kind)),
    )
    begins = tf.logical_and(tf.logical_not(is_outside), tf.logical_not(continues))
    entity = tf.cumsum(tf.cast(begins, tf.int64)) - 1
    num_entities = tf.reduce_sum(tf.cast(begins, tf.int64))
    member = tf.logical_not(is_outside)
    member_index = tf.boolean_mask(index, member)
    member_entity = tf.boolean_mask(entity, member)
    last = tf.math.unsorted_segment_max(member_index, member_entity, num_entities)
    first = tf.boolean_mask(index, begins)
    entity_rows = tf.gather(rows, first)
    row_start = tf.gather(word_tag_ids.row_starts(), entity_rows)
    type_names = tf.gather(tf.constant(types + [""], tf.string), tf.gather(kind, first))

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(
            values, entity_rows, nrows=word_tag_ids.nrows(), validate=False)

    return {"type": ragged(type_names), "first_word": ragged(first - row_start),
            "last_word": ragged(last - row_start)}

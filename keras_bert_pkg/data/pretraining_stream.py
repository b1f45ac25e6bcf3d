"""Dynamic masking: BERT pre-training batches built on the fly in `tf.data`.

The alternative to TFRecords: sentence pairs are cut from the documents in Python with
the original algorithm (`create_instances_from_document`, a fresh `random.Random` per
pass over the documents, so every pass has new pairs), then masked in the graph by
keras-hub's `MaskedLMMaskGenerator` (a fresh mask every time a pair is seen, like
RoBERTa's dynamic masking, instead of the `dupe_factor` static copies) and batched.

`MaskedLMMaskGenerator` applies BERT's 80% `[MASK]` / 10% random id / 10% unchanged
rule over the whole vocabulary, never selects `[CLS]`, `[SEP]` or padding, and selects
`ceil(masked_lm_prob * n)` of the `n` selectable tokens (capped at
`max_predictions_per_seq`). The original counts
`max(1, round(masked_lm_prob * (n + 3)))` (`[CLS]` and the two `[SEP]` included): the two
agree on full-length sequences (19 of 125 tokens at length 128) and differ by at most one
prediction on short ones. With `whole_word_masking=True` the masks are made in Python by
the original algorithm instead (the graph masker has no notion of words).

The stream is deterministic under `seed` once a global TensorFlow seed is set
(`keras.utils.set_random_seed`, which `recipes/pretrain.py` does): a run resumed at step `n`
with `skip_batches=n` sees the batches an uninterrupted run would.
"""

import random

import tensorflow as tf
from keras_hub.layers import MaskedLMMaskGenerator

from keras_bert_pkg.data.left_to_right_targets import left_to_right_targets
from keras_bert_pkg.data.pretraining_instances import create_instances_from_document


def iterate_pair_instances(documents, vocab, max_seq_length, seed=0, short_seq_prob=0.1,
                           mask=False, masked_lm_prob=0.15, max_predictions_per_seq=20,
                           whole_word_masking=False, passes=None):
    """Yields `PretrainingInstance`s forever (or for `passes` passes over the documents).

    Pass `p` shuffles the documents and cuts them with `random.Random(seed * 1000003 + p)`.

    Args:
        documents: documents of sentences of token ids.
        vocab: a `MaskingVocabulary`.
        max_seq_length, short_seq_prob: pair construction, as in the original.
        seed: the stream's seed.
        mask: mask in Python with the original algorithm (needed for whole words).
        masked_lm_prob, max_predictions_per_seq, whole_word_masking: masking settings
            when `mask=True`.
        passes: stop after this many passes (None: never).
    """
    documents = [doc for doc in documents if doc]
    if not documents:
        raise ValueError("No documents with text: nothing to stream pre-training pairs from.")
    p = 0
    while passes is None or p < passes:
        rng = random.Random(seed * 1000003 + p)
        docs = list(documents)
        rng.shuffle(docs)
        for index in range(len(docs)):
            yield from create_instances_from_document(
                docs, index, max_seq_length, short_seq_prob, masked_lm_prob,
                max_predictions_per_seq, vocab, rng, whole_word_masking, mask=mask)
        p += 1


def pretraining_stream_dataset(documents, vocab, batch_size, seq_length=128,
                               max_predictions_per_seq=20, seed=0, short_seq_prob=0.1,
                               masked_lm_prob=0.15, whole_word_masking=False,
                               shuffle_buffer=1000, skip_batches=0, left_to_right=False,
                               passes=None):
    """An endless `tf.data.Dataset` of dynamically masked pre-training batches.

    Args:
        documents: documents of sentences of token ids (`read_documents`).
        vocab: a `MaskingVocabulary` (`MaskingVocabulary.from_tokenizer(tokenizer)`).
        batch_size: pairs per batch.
        seq_length: the packed length.
        max_predictions_per_seq: masked positions per sequence (padded to this).
        seed: seed of the pairs and of the pair shuffle buffer.
        short_seq_prob, masked_lm_prob, whole_word_masking: as in the original tool.
        shuffle_buffer: pairs mixed across documents before batching.
        skip_batches: batches to skip (the data position of a resumed run).
        left_to_right: left-to-right LM targets (the LTR ablation).
        passes: stop after this many passes over the documents (None: endless).

    Returns: a `tf.data.Dataset` of `(x, y)`, the format of `pretraining_record_dataset`.

    Example:
    >>> from keras_bert_pkg.data.pretraining_documents import read_documents
    >>> from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary
    >>> tokenizer = BertTokenizer(vocab_file)
    >>> ds = pretraining_stream_dataset(read_documents(text_file, tokenizer),
    ...                                 MaskingVocabulary.from_tokenizer(tokenizer),
    ...                                 batch_size=4, seq_length=32, max_predictions_per_seq=4)
    >>> x, y = next(iter(ds))
    >>> x["token_ids"].shape, y["masked_lm_ids"].shape
    (TensorShape([4, 32]), TensorShape([4, 4]))
    """
    pad = vocab.pad_token_id

    def generate():
        for inst in iterate_pair_instances(
                documents, vocab, seq_length, seed, short_seq_prob, mask=whole_word_masking,
                masked_lm_prob=masked_lm_prob, max_predictions_per_seq=max_predictions_per_seq,
                whole_word_masking=whole_word_masking, passes=passes):
            label = 1 if inst.is_random_next else 0
            if whole_word_masking:
                n = len(inst.masked_lm_positions)
                pad_p = max_predictions_per_seq - n
                yield (inst.token_ids, inst.segment_ids, [1] * len(inst.token_ids), label,
                       inst.masked_lm_positions + [0] * pad_p, inst.masked_lm_ids + [0] * pad_p,
                       [1.0] * n + [0.0] * pad_p)
            else:
                yield inst.token_ids, inst.segment_ids, [1] * len(inst.token_ids), label

    ids_spec = tf.TensorSpec([None], tf.int32)
    signature = (ids_spec, ids_spec, ids_spec, tf.TensorSpec([], tf.int32))
    if whole_word_masking:
        pred_spec = tf.TensorSpec([max_predictions_per_seq], tf.int32)
        signature += (pred_spec, pred_spec, tf.TensorSpec([max_predictions_per_seq], tf.float32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if shuffle_buffer and shuffle_buffer > 1:
        ds = ds.shuffle(shuffle_buffer, seed=seed)

    if not whole_word_masking:
        masker = MaskedLMMaskGenerator(
            vocabulary_size=vocab.vocabulary_size,
            mask_selection_rate=masked_lm_prob,
            mask_token_id=vocab.mask_token_id,
            mask_selection_length=max_predictions_per_seq,
            unselectable_token_ids=sorted({vocab.cls_token_id, vocab.sep_token_id, pad}),
            mask_token_rate=0.8,
            random_token_rate=0.1,
        )

        def mask_one(token_ids, segment_ids, input_mask, label):
            masked = masker(token_ids)
            return (tf.cast(masked["token_ids"], tf.int32), segment_ids, input_mask, label,
                    tf.cast(masked["mask_positions"], tf.int32), tf.cast(masked["mask_ids"], tf.int32),
                    tf.cast(masked["mask_weights"], tf.float32))

        # One pair at a time and sequentially, on purpose: the masker's stateful random
        # ops then run in a fixed order (on a batch, its per-row shuffles run in
        # parallel iterations of a `map_fn`, in an order that varies), which makes the
        # stream reproducible.
        ds = ds.map(mask_one)

    ds = ds.padded_batch(
        batch_size,
        padded_shapes=([seq_length], [seq_length], [seq_length], [],
                       [max_predictions_per_seq], [max_predictions_per_seq], [max_predictions_per_seq]),
        padding_values=(pad, 0, 0, 0, 0, 0, 0.0),
        drop_remainder=True)
    ds = ds.map(_features, num_parallel_calls=tf.data.AUTOTUNE)
    if skip_batches:
        ds = ds.skip(int(skip_batches))
    if left_to_right:
        ds = ds.map(left_to_right_targets, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _features(token_ids, segment_ids, input_mask, labels, positions, ids, weights):
    """Padded batch tuple → the `(x, y)` of `pretraining_record_dataset`."""
    x = {
        "token_ids": tf.cast(token_ids, tf.int32),
        "segment_ids": tf.cast(segment_ids, tf.int32),
        "padding_mask": tf.cast(input_mask, tf.int32),
        "masked_lm_positions": tf.cast(positions, tf.int32),
    }
    y = {
        "masked_lm_ids": tf.cast(ids, tf.int32),
        "masked_lm_weights": tf.cast(weights, tf.float32),
        "next_sentence_labels": tf.cast(labels, tf.int32),
    }
    return x, y

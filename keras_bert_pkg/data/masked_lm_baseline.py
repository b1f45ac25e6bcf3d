"""The most-frequent-token baseline of masked-LM accuracy: always predict the token that
is most often a masked-LM label in the training data. Pre-training should beat it by far.
"""

import numpy as np


def masked_lm_label_counts(dataset, vocabulary_size, max_batches=None):
    """Counts the real masked-LM labels (`masked_lm_weights > 0`) of a dataset.

    Args:
        dataset: batches `(x, y)` as `pretraining_record_dataset` gives them.
        vocabulary_size: length of the count vector.
        max_batches: stop after this many batches (needed for endless datasets).

    Returns: an int64 numpy vector of counts per token id.
    """
    counts = np.zeros([vocabulary_size], np.int64)
    for k, (_, y) in enumerate(dataset):
        if max_batches is not None and k >= max_batches:
            break
        ids = np.asarray(y["masked_lm_ids"]).reshape(-1)
        real = np.asarray(y["masked_lm_weights"]).reshape(-1) > 0
        counts += np.bincount(ids[real], minlength=vocabulary_size)[:vocabulary_size]
    return counts


def most_frequent_token_baseline(train_dataset, eval_dataset, vocabulary_size, max_train_batches=None,
                                 max_eval_batches=None):
    """Accuracy on `eval_dataset` of always predicting the most frequent training label.

    Returns: dict `token_id` (the majority label), `accuracy` (on the eval labels),
    `train_labels`, `eval_labels` (counts).

    Example:
    >>> def batches(ids):
    ...     labels = {"masked_lm_ids": [ids], "masked_lm_weights": [[1.0] * len(ids)]}
    ...     return tf.data.Dataset.from_tensors(({}, labels))
    >>> most_frequent_token_baseline(batches([7, 7, 9]), batches([7, 8, 9, 9]), 10)
    {'token_id': 7, 'accuracy': 0.25, 'train_labels': 3, 'eval_labels': 4}
    """
    train = masked_lm_label_counts(train_dataset, vocabulary_size, max_train_batches)
    if not train.sum():
        raise ValueError("No masked-LM labels in the training data.")
    evaluation = masked_lm_label_counts(eval_dataset, vocabulary_size, max_eval_batches)
    if not evaluation.sum():
        raise ValueError("No masked-LM labels in the evaluation data.")
    token = int(np.argmax(train))
    return {
        "token_id": token,
        "accuracy": float(evaluation[token] / evaluation.sum()),
        "train_labels": int(train.sum()),
        "eval_labels": int(evaluation.sum()),
    }

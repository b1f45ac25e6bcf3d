"""The start of one fine-tuning run (a search trial): a freshly built model compiled with
BERT's optimizer for the trial's schedule, and its length-bucketed training data.

Every recipe whose examples are token sequences (GLUE, SQuAD, NER) starts its trials the
same way: the seed first (new layers' weights, dropout, data order), then the model from
the same checkpoint, the batches of the trial's size, and AdamW with linear warm-up and
decay over the trial's steps.

Example:
>>> import argparse
>>> from keras_bert_pkg.data.length_bucketing import ragged_features
>>> from keras_bert_pkg.training.hyperparameter_search import Trial
>>> args = argparse.Namespace(max_seq_length=16, warmup_fraction=0.1, weight_decay=0.01)
>>> features = ragged_features([[2, 5, 3], [2, 6, 7, 3]], [[0, 0, 0], [0, 0, 0, 0]])
>>> build = lambda: keras.Sequential([keras.layers.Dense(1)])
>>> start = start_trial(args, Trial(1e-3, 2, 3.0, 0), build, features, [0, 1], pad_token_id=0)
>>> start.steps_per_epoch, start.total_steps
(1, 3)
"""

import collections

import keras

from keras_bert_pkg.data.length_bucketing import (bucketed_dataset, default_boundaries, example_lengths,
                                                  num_bucketed_batches)
from keras_bert_pkg.training.optimizers import create_optimizer

TrialStart = collections.namedtuple("TrialStart", "model dataset steps_per_epoch total_steps")


def start_trial(args, trial, build_model, features, labels, pad_token_id):
    """Seeds, builds and compiles a model for `trial` and makes its endless training data.

    Args:
        args: the recipe's flags (`max_seq_length`, `warmup_fraction`, `weight_decay`).
        trial: the `hyperparameter_search.Trial` (learning rate, batch size, epochs, seed).
        build_model: `() -> model`, a fresh model from the checkpoint.
        features: the training examples' ragged model inputs (`data.length_bucketing`).
        labels: their labels.
        pad_token_id: the padding id of the batches.

    Returns: a `TrialStart` (model, dataset, steps_per_epoch, total_steps).
    """
    keras.utils.set_random_seed(trial.seed)
    model = build_model()
    boundaries = default_boundaries(args.max_seq_length)
    steps_per_epoch = num_bucketed_batches(example_lengths(features), trial.batch_size, boundaries)
    total_steps = max(1, round(trial.epochs * steps_per_epoch))
    model.compile(optimizer=create_optimizer(trial.learning_rate, total_steps,
                                             int(args.warmup_fraction * total_steps),
                                             weight_decay=args.weight_decay))
    dataset = bucketed_dataset(features, labels, trial.batch_size, boundaries, seed=trial.seed,
                               pad_token_id=pad_token_id).repeat()
    return TrialStart(model, dataset, steps_per_epoch, total_steps)

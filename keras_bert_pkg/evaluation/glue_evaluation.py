"""A classifier scored on GLUE dev sets with the leaderboard's metrics.

Example:
>>> from keras_bert_pkg.data.glue import GlueSplit
>>> model = BertClassifier.from_preset(checkpoint_dir, num_classes=2)
>>> split = GlueSplit("sst2", "dev", "dev.tsv", ids=[1, 2], texts=(["good", "bad"],),
...                   labels=np.array([1, 0], "int32"))
>>> result = evaluate_glue(model, "sst2", {"sst2": split})
>>> sorted(result["metrics"]["sst2"]), result["predictions"]["sst2"].shape
(['accuracy', 'score'], (2,))
"""

import os

import numpy as np

from keras_bert_pkg.data.glue import glue_file_path, glue_task
from keras_bert_pkg.data.length_bucketing import tokenize_to_ragged
from keras_bert_pkg.metrics.glue import glue_metrics, predictions_from_logits
from keras_bert_pkg.models.predict_by_length import predict_by_length


def glue_dev_splits(task):
    """`{dev set name: split}`: MNLI has two (matched, mismatched), other tasks `dev`."""
    name = glue_task(task).name
    if name == "mnli":
        return {"mnli_matched": "dev_matched", "mnli_mismatched": "dev_mismatched"}
    return {name: "dev"}


def glue_test_splits(task, data_dir):
    """`(task, split)` of every test file of `task` that exists; MNLI also predicts AX."""
    spec = glue_task(task)
    wanted = [(spec.name, split) for split in spec.submission_files]
    if spec.name == "mnli":
        wanted.append(("ax", "test"))
    return [(t, s) for t, s in wanted if os.path.isfile(glue_file_path(t, data_dir, s)[0])]


def predict_glue(model, task, split, batch_size=128):
    """`(logits, predictions)` of a classifier with a preprocessor on a `GlueSplit`."""
    features = tokenize_to_ragged(model.preprocessor, split.features)
    logits = predict_by_length(model, features, batch_size,
                               pad_token_id=model.preprocessor.tokenizer.pad_token_id)
    return logits, predictions_from_logits(glue_task(task).name, logits)


def evaluate_glue(model, task, dev_sets, batch_size=128):
    """Scores a classifier (with its preprocessor) on labelled GLUE splits.

    Args:
        model: a `BertClassifier` with a `BertPreprocessor`.
        task: the GLUE task.
        dev_sets: `{name: GlueSplit}` (`glue_dev_splits` names them; MNLI's metrics are
            named by the dev set, `mnli_matched` / `mnli_mismatched`).
        batch_size: prediction batch size.

    Returns: dict `score` (the GLUE score averaged over the dev sets), `metrics`
    (`{name: glue_metrics}`), `logits` and `predictions` (`{name: array}`).
    """
    spec = glue_task(task)
    result = {"metrics": {}, "logits": {}, "predictions": {}}
    for name, split in dev_sets.items():
        logits, predictions = predict_glue(model, spec.name, split, batch_size)
        metric_task = name if spec.name == "mnli" else spec.name
        result["metrics"][name] = glue_metrics(metric_task, split.labels, predictions)
        result["logits"][name], result["predictions"][name] = logits, predictions
    result["score"] = float(np.mean([m["score"] for m in result["metrics"].values()]))
    return result

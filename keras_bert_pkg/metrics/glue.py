"""GLUE metrics as the GLUE leaderboard reports them.

- accuracy: SST-2, MNLI (matched / mismatched), QNLI, RTE, WNLI
- F1 (positive class 1) and accuracy: MRPC, QQP
- Matthews correlation: CoLA (and the AX diagnostics, three-class R3)
- Pearson and Spearman correlation: STS-B

Every metric is computed by scikit-learn / SciPy; values are fractions in [0, 1]
(correlations in [-1, 1]), not percentages.
"""

import numpy as np
from scipy import stats
from sklearn import metrics as sk_metrics

# The leaderboard's metrics of each task; the first one is the task's headline figure.
GLUE_TASK_METRICS = {
    "cola": ("matthews_corrcoef",),
    "sst2": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "stsb": ("pearson", "spearman"),
    "qqp": ("f1", "accuracy"),
    "mnli": ("accuracy",),
    "mnli_matched": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
    "ax": ("matthews_corrcoef",),
}


def _as_1d(x, name):
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D (one value per example), got shape {x.shape}.")
    return x


def _check(labels, predictions):
    labels = _as_1d(labels, "labels")
    predictions = _as_1d(predictions, "predictions")
    if labels.shape[0] != predictions.shape[0]:
        raise ValueError(
            f"labels and predictions differ in length: {labels.shape[0]} vs {predictions.shape[0]}."
        )
    if labels.shape[0] == 0:
        raise ValueError("Cannot score an empty set of predictions.")
    return labels, predictions


def accuracy(labels, predictions):
    """Fraction of exact matches between class ids."""
    labels, predictions = _check(labels, predictions)
    return float(sk_metrics.accuracy_score(labels, predictions))


def f1(labels, predictions, positive_label=1):
    """Binary F1 of the positive class (MRPC / QQP: 1 = paraphrase / duplicate)."""
    labels, predictions = _check(labels, predictions)
    return float(sk_metrics.f1_score(labels, predictions, pos_label=positive_label,
                                     average="binary", zero_division=0.0))


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient (binary for CoLA, multiclass R3 for AX)."""
    labels, predictions = _check(labels, predictions)
    return float(sk_metrics.matthews_corrcoef(labels, predictions))


def pearson(labels, predictions):
    """Pearson correlation of two score vectors (NaN when either is constant)."""
    labels, predictions = _check(labels, predictions)
    if np.all(labels == labels[0]) or np.all(predictions == predictions[0]):
        return float("nan")
    return float(stats.pearsonr(labels.astype("float64"), predictions.astype("float64"))[0])


def spearman(labels, predictions):
    """Spearman rank correlation of two score vectors (NaN when either is constant)."""
    labels, predictions = _check(labels, predictions)
    if np.all(labels == labels[0]) or np.all(predictions == predictions[0]):
        return float("nan")
    return float(stats.spearmanr(labels.astype("float64"), predictions.astype("float64"))[0])


_FUNCTIONS = {
    "accuracy": accuracy,
    "f1": f1,
    "matthews_corrcoef": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}


def predictions_from_logits(task, logits):
    """Class ids (argmax) from classifier logits, or the scores themselves for STS-B.

    Args:
        task: GLUE task name (`"stsb"` is regression).
        logits: [n, num_classes] logits or probabilities ([n, 1] or [n] for STS-B).
    """
    logits = np.asarray(logits)
    if task == "stsb":
        return _as_1d(logits, "logits").astype("float32")
    if logits.ndim != 2:
        raise ValueError(f"Expected [n, num_classes] logits for {task!r}, got shape {logits.shape}.")
    return np.argmax(logits, axis=-1).astype("int32")


def glue_metrics(task, labels, predictions):
    """The GLUE leaderboard metrics of `task`.

    Args:
        task: one of `GLUE_TASK_METRICS` (`"cola"`, `"sst2"`, `"mrpc"`, `"stsb"`, `"qqp"`,
            `"mnli"`, `"qnli"`, `"rte"`, `"wnli"`, `"ax"`).
        labels: gold class ids (int) or STS-B scores (float), one per example.
        predictions: predicted class ids or scores, same length (see
            `predictions_from_logits`).

    Returns: dict metric name → float; it also holds `"score"`, the task's GLUE score
    (the mean of its metrics, as the leaderboard averages F1/accuracy and
    Pearson/Spearman).

    Example:
    >>> glue_metrics("mrpc", [1, 0, 1, 1], [1, 0, 0, 1])
    {'f1': 0.8, 'accuracy': 0.75, 'score': 0.775}
    """
    if task not in GLUE_TASK_METRICS:
        raise ValueError(f"Unknown GLUE task {task!r}. Known tasks: {sorted(GLUE_TASK_METRICS)}.")
    result = {name: _FUNCTIONS[name](labels, predictions) for name in GLUE_TASK_METRICS[task]}
    result["score"] = float(np.mean(list(result.values())))
    return result

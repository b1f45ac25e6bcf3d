"""Entity-level precision, recall and F1 for named-entity recognition, with seqeval.

An entity counts as found only when both its span and its type match exactly. The
default mode is seqeval's conlleval-compatible one (the CoNLL-2003 shared task's
scorer, used by the BERT paper); `mode="strict"` checks IOB2 well-formedness too.
"""

from seqeval import metrics as seqeval_metrics
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Entities


def ner_scores(true_tags, predicted_tags, mode="conlleval"):
    """Entity-level scores of predicted tag sequences against the gold ones.

    Args:
        true_tags: list of gold tag lists (one tag per word).
        predicted_tags: list of predicted tag lists, same shapes.
        mode: `"conlleval"` (seqeval's default, lenient about `I-` starts) or
            `"strict"` (seqeval's strict IOB2 mode).

    Returns:
        A dict with `precision`, `recall`, `f1` (micro-averaged over entities),
        `accuracy` (per word), `num_true_entities`, `num_predicted_entities` and
        `per_type` (`{type: {"precision", "recall", "f1", "support"}}`).

    Example:
    >>> ner_scores([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])["f1"]
    1.0
    """
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"ner_scores: {len(true_tags)} gold sentences but {len(predicted_tags)} predicted."
        )
    for i, (t, p) in enumerate(zip(true_tags, predicted_tags)):
        if len(t) != len(p):
            raise ValueError(
                f"ner_scores: sentence {i} has {len(t)} gold tags but {len(p)} predicted."
            )
    true_tags = [list(t) for t in true_tags]
    predicted_tags = [list(p) for p in predicted_tags]
    if mode == "conlleval":
        kwargs = {}
    elif mode == "strict":
        kwargs = {"mode": "strict", "scheme": IOB2}
    else:
        raise ValueError(f"ner_scores: mode must be 'conlleval' or 'strict', got {mode!r}.")
    # One report: its "micro avg" row is seqeval's precision_score / recall_score /
    # f1_score (each of which would extract every entity again: 4x the time).
    report = seqeval_metrics.classification_report(
        true_tags, predicted_tags, output_dict=True, zero_division=0, **kwargs)
    micro = report["micro avg"]
    per_type = {
        name: {"precision": float(v["precision"]), "recall": float(v["recall"]),
               "f1": float(v["f1-score"]), "support": int(v["support"])}
        for name, v in report.items() if not name.endswith(" avg")
    }
    scores = {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(seqeval_metrics.accuracy_score(true_tags, predicted_tags)),
        "num_true_entities": sum(v["support"] for v in per_type.values()),
        "num_predicted_entities": _count_entities(predicted_tags, kwargs),
        "per_type": per_type,
    }
    return scores


def _count_entities(tag_lists, kwargs):
    if kwargs:
        return sum(len(s) for s in Entities(tag_lists, IOB2).entities)
    return len(get_entities(tag_lists))

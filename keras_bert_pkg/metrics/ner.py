"""Entity-level precision, recall and F1 for named-entity recognition, with seqeval.

An entity counts as found only when both its span and its type match exactly. The
default mode is seqeval's conlleval-compatible one (the CoNLL-2003 shared task's
scorer, used by the BERT paper); `mode="strict"` checks IOB2 well-formedness too.
`seen_and_unseen_scores` splits the same figures by whether an entity's words and type
occur as an entity in the training data: what a tagger recalls against what it
generalizes to.
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


def seen_and_unseen_scores(train_words, train_tags, words, true_tags, predicted_tags):
    """Entity-level scores split by whether each entity was seen in training.

    An entity (gold or predicted) is *seen* when an entity of the same type and the same
    words is tagged somewhere in the training sentences, and *unseen* otherwise; a
    correct prediction is the gold entity itself, so it falls on its gold entity's side.
    Entities are read as `ner_scores` reads them by default (seqeval's conlleval mode),
    so the two sides' counts add up to its `num_true_entities` and
    `num_predicted_entities`.

    Args:
        train_words, train_tags: the training sentences' words and gold tags (lists of
            lists).
        words, true_tags, predicted_tags: the scored sentences' words, gold tags and
            predicted tags, one list per sentence, all of the same lengths.

    Returns:
        `{"seen": {...}, "unseen": {...}}`, each with `precision`, `recall`, `f1`,
        `num_true_entities` and `num_predicted_entities` (scores are 0 where a count is),
        and `gold_outcomes`: what became of that side's gold entities, counted as
        `found` (span and type), `cut_short`, `overrun` or `shifted` (a prediction of
        the same type overlaps it, inside it, around it, or across one of its ends),
        `other_type` (only predictions of other types overlap it) and `not_found`
        (no predicted entity overlaps it).

    Example:
    >>> train = [["Paris", "is", "big"]], [["B-LOC", "O", "O"]]
    >>> scores = seen_and_unseen_scores(*train, [["Paris", "and", "Rome"]],
    ...                                 [["B-LOC", "O", "B-LOC"]], [["B-LOC", "O", "O"]])
    >>> scores["seen"]["recall"], scores["unseen"]["recall"], scores["unseen"]["num_true_entities"]
    (1.0, 0.0, 1)
    >>> scores["unseen"]["gold_outcomes"]["not_found"]
    1
    """
    seen = set()
    for sentence, tags in _checked("training", train_words, train_tags):
        seen.update(entity[:2] for entity in _entities(sentence, tags))
    gold, predicted = list(_checked("gold", words, true_tags)), list(_checked("predicted", words, predicted_tags))
    counts = {side: {"true": 0, "predicted": 0, "correct": 0} for side in ("seen", "unseen")}
    outcomes = {side: dict.fromkeys(GOLD_OUTCOMES, 0) for side in counts}
    for (sentence, true), (_, tags) in zip(gold, predicted):
        true_set, predicted_set = set(_entities(sentence, true)), set(_entities(sentence, tags))
        for entity in true_set:
            side = "seen" if entity[:2] in seen else "unseen"
            counts[side]["true"] += 1
            counts[side]["correct"] += entity in predicted_set
            outcomes[side][_gold_outcome(entity, predicted_set)] += 1
        for entity in predicted_set:
            counts["seen" if entity[:2] in seen else "unseen"]["predicted"] += 1
    return {side: {**_scores(c["true"], c["predicted"], c["correct"]), "gold_outcomes": outcomes[side]}
            for side, c in counts.items()}


GOLD_OUTCOMES = ("found", "cut_short", "overrun", "shifted", "other_type", "not_found")


def _gold_outcome(entity, predicted):
    """What became of a gold `(type, words, start)` entity among one sentence's predicted
    entities: one of `GOLD_OUTCOMES` (`seen_and_unseen_scores`)."""
    if entity in predicted:
        return "found"
    kind, start = entity[0], entity[2]
    end = start + len(entity[1])
    overlapping = sorted((p[2], p[2] + len(p[1]), p[0]) for p in predicted
                         if p[2] < end and start < p[2] + len(p[1]))
    same_type = [(s, e) for s, e, k in overlapping if k == kind]
    if not same_type:
        return "other_type" if overlapping else "not_found"
    s, e = same_type[0]
    if start <= s and e <= end:
        return "cut_short"
    return "overrun" if s <= start and end <= e else "shifted"


def _checked(name, words, tags):
    """`zip(words, tags)`, refusing a sentence whose tags do not match its words."""
    if len(words) != len(tags):
        raise ValueError(f"seen_and_unseen_scores: {len(words)} sentences but {len(tags)} {name} tag lists.")
    for i, (sentence, sentence_tags) in enumerate(zip(words, tags)):
        if len(sentence) != len(sentence_tags):
            raise ValueError(f"seen_and_unseen_scores: sentence {i} has {len(sentence)} words "
                             f"but {len(sentence_tags)} {name} tags.")
        yield sentence, sentence_tags


def _entities(words, tags):
    """`(type, words, start)` of each entity of one sentence (conlleval reading)."""
    return [(kind, tuple(words[start:end + 1]), start) for kind, start, end in get_entities(list(tags))]


def _scores(num_true, num_predicted, num_correct):
    precision = num_correct / num_predicted if num_predicted else 0.0
    recall = num_correct / num_true if num_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "num_true_entities": num_true, "num_predicted_entities": num_predicted}

"""SQuAD post-processing: start/end logits of every window → answer texts.

For each question, the n-best start and end positions of every window are paired
(start ≤ end, both in the context, at most `max_answer_length` tokens, the start
token in its best-centred window), ranked by start + end logit across all windows, and
the answer is cut from the original context by the tokens' character offsets. For
SQuAD v2.0 the null answer ([CLS], the lowest null score over the windows) competes
with the best non-null span: `null_odds = null score - best span score`, and the
prediction is "" when `null_odds > null_score_diff_threshold`.
"""

import collections
import json
import math
import os

import numpy as np

from keras_bert_pkg.atomic_files import atomic_write

# `null_odds` of a question with no valid span at all (the null answer wins outright).
NO_SPAN_NULL_ODDS = 1e6


def _top_indexes(logits, n):
    """Indexes of the `n` largest logits, best first (ties: lower index first)."""
    return [int(i) for i in np.argsort(-np.asarray(logits), kind="stable")[:n]]


def _softmax(scores):
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def postprocess_squad_predictions(
    examples,
    features,
    start_logits,
    end_logits,
    n_best_size=20,
    max_answer_length=30,
    version_2_with_negative=False,
    null_score_diff_threshold=0.0,
):
    """Turns per-feature logits into SQuAD predictions, n-best lists and null odds.

    Args:
        examples: the `SquadExample`s the features were built from.
        features: the `SquadFeature`s (any subset and order).
        start_logits, end_logits: per feature, a 1-D array at least as long as the
            feature (e.g. from `predict_squad_logits`), or 2-D arrays [features, length].
        n_best_size: start and end candidates per window, and n-best list length.
        max_answer_length: longest answer, in tokens.
        version_2_with_negative: SQuAD v2.0: add the null answer and compare it with
            the best span.
        null_score_diff_threshold: predict "" when null score − best span score is
            above this (v2.0).

    Returns:
        `(predictions, nbest, null_odds)`: `{qas_id: text}`, `{qas_id: [{"text",
        "probability", "start_logit", "end_logit"}, ...]}` (best first), and
        `{qas_id: null score − best span score}` (empty for v1.1), in the formats of the
        official `predictions.json`, `nbest_predictions.json` and `null_odds.json`.
        Every example with at least one feature gets an entry.
    """
    if len(start_logits) != len(features) or len(end_logits) != len(features):
        raise ValueError(
            f"Got {len(start_logits)} start and {len(end_logits)} end logit rows for "
            f"{len(features)} features."
        )
    by_example = collections.defaultdict(list)
    for k, feature in enumerate(features):
        if len(start_logits[k]) < len(feature) or len(end_logits[k]) < len(feature):
            raise ValueError(
                f"Feature {feature.unique_id} has {len(feature)} tokens but only "
                f"{len(start_logits[k])} start / {len(end_logits[k])} end logits."
            )
        by_example[feature.example_index].append(k)

    predictions = collections.OrderedDict()
    all_nbest = collections.OrderedDict()
    null_odds = collections.OrderedDict()
    for example_index in sorted(by_example):
        example = examples[example_index]
        candidates = []  # (score, start_logit, end_logit, char_start, char_end)
        null_score = null_start = null_end = None
        for k in by_example[example_index]:
            feature = features[k]
            n = len(feature)
            starts = np.asarray(start_logits[k][:n], np.float64)
            ends = np.asarray(end_logits[k][:n], np.float64)
            if version_2_with_negative:
                score = starts[0] + ends[0]
                if null_score is None or score < null_score:
                    null_score, null_start, null_end = score, starts[0], ends[0]
            spans = feature.token_to_char
            for s in _top_indexes(starts, n_best_size):
                if s not in spans or not feature.token_is_max_context.get(s, False):
                    continue
                for e in _top_indexes(ends, n_best_size):
                    if e not in spans or e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append(
                        (starts[s] + ends[e], starts[s], ends[e], spans[s][0], spans[e][1])
                    )
        candidates.sort(key=lambda c: c[0], reverse=True)

        nbest = []  # (text, start_logit, end_logit)
        seen = set()
        for _, start_logit, end_logit, char_start, char_end in candidates:
            if len(nbest) >= n_best_size:
                break
            text = example.context_text[char_start:char_end]
            if text in seen:
                continue
            seen.add(text)
            nbest.append((text, start_logit, end_logit))
        best_span = nbest[0] if nbest else None
        if version_2_with_negative:
            # The null answer joins the list at its rank; when it ranks below the
            # n-best spans it is kept anyway, last (as the original run_squad.py does).
            null = ("", null_start, null_end)
            ranked = sorted(nbest + [null], key=lambda c: c[1] + c[2], reverse=True)
            nbest = ranked[:n_best_size]
            if null not in nbest:
                nbest.append(null)
        if not nbest:
            nbest.append(("empty", 0.0, 0.0))
        probabilities = _softmax([c[1] + c[2] for c in nbest])
        all_nbest[example.qas_id] = [
            {"text": text, "probability": p, "start_logit": float(sl), "end_logit": float(el)}
            for (text, sl, el), p in zip(nbest, probabilities)
        ]
        if version_2_with_negative:
            if best_span is None:
                odds = NO_SPAN_NULL_ODDS
            else:
                odds = float(null_score - best_span[1] - best_span[2])
            null_odds[example.qas_id] = odds
            predictions[example.qas_id] = "" if odds > null_score_diff_threshold else best_span[0]
        else:
            predictions[example.qas_id] = nbest[0][0]
    return predictions, all_nbest, null_odds


def write_squad_predictions(output_dir, predictions, nbest, null_odds=None):
    """Writes `predictions.json`, `nbest_predictions.json` and (v2.0) `null_odds.json`.

    Returns: dict of the written paths (`predictions`, `nbest`, `null_odds`).
    """
    os.makedirs(output_dir, exist_ok=True)
    paths = {
        "predictions": os.path.join(output_dir, "predictions.json"),
        "nbest": os.path.join(output_dir, "nbest_predictions.json"),
    }
    items = [("predictions", predictions), ("nbest", nbest)]
    if null_odds:
        paths["null_odds"] = os.path.join(output_dir, "null_odds.json")
        items.append(("null_odds", null_odds))
    for key, value in items:
        with atomic_write(paths[key]) as f:
            json.dump(value, f, indent=2, ensure_ascii=False)
    return paths

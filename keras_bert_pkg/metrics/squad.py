"""SQuAD scoring through the official v1.1 and v2.0 evaluation scripts.

The scorers are the ones shipped in tf-models-official
(`official/nlp/tools/squad_evaluate_v1_1.py` and `squad_evaluate_v2_0.py`, themselves
copies of the SQuAD leaderboard scripts); this module only reads the inputs, calls
them, and reports the figures in percent under one set of names.
"""

import json
import os

from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0


def _load_json(value, what):
    """A path (str/PathLike) is read as JSON; anything else is returned as it is."""
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        path = os.fspath(value)
        if isinstance(path, bytes):
            path = path.decode()
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"SQuAD {what} file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"SQuAD {what} file {path} is not valid JSON: {e}") from None
    return value


def _articles(dataset):
    dataset = _load_json(dataset, "dataset")
    if isinstance(dataset, dict):
        if "data" not in dataset:
            raise ValueError("A SQuAD dataset dict needs a 'data' list (the official JSON layout).")
        return dataset["data"]
    if isinstance(dataset, list):
        return dataset
    raise ValueError(f"Expected a SQuAD dataset (path, dict or list), got {type(dataset).__name__}.")


def evaluate_squad(dataset, predictions, version="1.1", null_odds=None):
    """Scores SQuAD predictions with the official evaluation script of `version`.

    Args:
        dataset: the gold data: a path to the official JSON, its parsed dict, or the
            dict's `"data"` list of articles.
        predictions: `{question_id: answer_text}` (or a path to `predictions.json`);
            for v2.0 an empty string predicts "no answer".
        version: `"1.1"` or `"2.0"`.
        null_odds: v2.0 only: `{question_id: score}` (or a path to `null_odds.json`),
            the official `na_prob` input: larger means more likely unanswerable. With
            it, the result also holds the best-threshold search. Without it every
            question gets 0.0, as the official script does.

    Returns:
        v1.1: dict `exact_match`, `f1` (percent) and `total`.
        v2.0: dict `exact_match`, `f1`, `total`, `HasAns_exact`, `HasAns_f1`,
        `HasAns_total`, `NoAns_exact`, `NoAns_f1`, `NoAns_total` (when such questions
        are present), `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`
        (the official search for the `null_odds` threshold that maximises EM / F1),
        and, with `null_odds`, the precision-recall figures `pr_*_ap`.

    Example:
    >>> gold = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{
    ...     "context": "The novel was written by George Orwell.",
    ...     "qas": [{"id": "q1", "question": "Who wrote it?",
    ...              "answers": [{"text": "George Orwell", "answer_start": 25}]}]}]}]}
    >>> scores = evaluate_squad(gold, {"q1": "Orwell"})
    >>> scores["exact_match"], round(scores["f1"], 2), scores["total"]
    (0.0, 66.67, 1)
    """
    articles = _articles(dataset)
    predictions = _load_json(predictions, "predictions")
    if not isinstance(predictions, dict):
        raise ValueError("SQuAD predictions must be a dict {question_id: answer_text}.")
    version = str(version)
    total = sum(len(p["qas"]) for a in articles for p in a["paragraphs"])
    if version in ("1.1", "1", "v1.1"):
        scores = squad_evaluate_v1_1.evaluate(articles, predictions)
        # The v1.1 function returns fractions; the official script prints percent.
        return {
            "exact_match": 100.0 * scores["exact_match"],
            "f1": 100.0 * scores["final_f1"],
            "total": total,
        }
    if version in ("2.0", "2", "v2.0"):
        null_odds = _load_json(null_odds, "null odds") if null_odds is not None else None
        if null_odds is not None:
            missing = [k for k in predictions if k not in null_odds]
            if missing:
                raise ValueError(
                    f"null_odds lacks {len(missing)} predicted question ids, e.g. {missing[0]!r}."
                )
        raw = squad_evaluate_v2_0.evaluate(articles, predictions, na_probs=null_odds)
        result = {}
        for key, value in raw.items():
            if key in ("exact", "f1", "total"):
                key = {"exact": "exact_match"}.get(key, key)
            elif key.startswith("final_"):  # the best-threshold search
                key = "best_" + key[len("final_"):]
            result[key] = value
        return result
    raise ValueError(f"Unknown SQuAD version {version!r}; expected '1.1' or '2.0'.")

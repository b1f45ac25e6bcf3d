"""A span labeler scored on SQuAD with the official v1.1 / v2.0 scorers.

Example:
>>> from keras_bert_pkg.data.squad_examples import SquadExample
>>> from keras_bert_pkg.data.squad_features import convert_examples_to_features
>>> model = BertSpanLabeler.from_preset(checkpoint_dir)
>>> examples = [SquadExample("q1", "who lived there ?", "george lived in london .")]
>>> features = convert_examples_to_features(examples, model.preprocessor.tokenizer, 32, 16, 8)
>>> predictions, nbest, null_odds = predict_squad(model, examples, features)
>>> list(predictions)
['q1']
"""

from keras_bert_pkg.data.squad_features import squad_ragged_features
from keras_bert_pkg.data.squad_postprocessing import postprocess_squad_predictions
from keras_bert_pkg.metrics.squad import evaluate_squad
from keras_bert_pkg.models.predict_by_length import predict_by_length


def predict_squad(model, examples, features, batch_size=64, n_best_size=20, max_answer_length=30,
                  version_2_with_negative=False, null_score_diff_threshold=0.0):
    """Predicts answers for SQuAD examples from their doc-stride features.

    Returns: `(predictions, nbest, null_odds)` in the official files' formats (see
    `data.squad_postprocessing.postprocess_squad_predictions`).
    """
    logits = predict_by_length(model, squad_ragged_features(features), batch_size, per_token=True)
    return postprocess_squad_predictions(
        examples, features, logits["start_logits"], logits["end_logits"], n_best_size=n_best_size,
        max_answer_length=max_answer_length, version_2_with_negative=version_2_with_negative,
        null_score_diff_threshold=null_score_diff_threshold)


def evaluate_squad_model(model, dataset, examples, features, version="1.1", **options):
    """Predicts and scores with the official scorer of `version`.

    Args:
        model: a `BertSpanLabeler`.
        dataset: the gold SQuAD JSON (path or parsed) the examples were read from.
        examples, features: `read_squad_examples` / `convert_examples_to_features` of it.
        version: `"1.1"` or `"2.0"` (then the null odds and best threshold are used).
        **options: `predict_squad`'s options.

    Returns: dict `score` (F1), `metrics` (the official scores), `predictions`, `nbest`
    and `null_odds`.
    """
    v2 = version == "2.0"
    predictions, nbest, null_odds = predict_squad(model, examples, features,
                                                  version_2_with_negative=v2, **options)
    scores = evaluate_squad(dataset, predictions, version, null_odds=null_odds if v2 else None)
    return {"score": scores["f1"], "metrics": scores, "predictions": predictions, "nbest": nbest,
            "null_odds": null_odds}

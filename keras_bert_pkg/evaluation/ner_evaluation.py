"""A token classifier scored on tagged sentences: one tag per word, entity-level P/R/F1.

Example:
>>> from keras_bert_pkg.data.token_alignment import TokenAligner
>>> model = BertTokenClassifier.from_preset(checkpoint_dir, num_classes=3)
>>> aligner = TokenAligner(model.preprocessor.tokenizer, ["O", "B-PER", "I-PER"], 16)
>>> features = aligner.encode([["George", "lived"]])
>>> result = evaluate_ner(model, aligner, features, [["B-PER", "O"]])
>>> len(result["predicted"][0]), sorted(result["metrics"])[:3]
(2, ['accuracy', 'f1', 'num_predicted_entities'])
"""

from keras_bert_pkg.metrics.ner import ner_scores
from keras_bert_pkg.models.predict_by_length import predict_by_length
from keras_bert_pkg.models.word_tags import TagDecoding


def predict_word_tags(model, aligner, features, batch_size=64, decoding=TagDecoding()):
    """One tag per word of every sentence `aligner.encode` made `features` of, read from
    the tokens' logits as `decoding` says (its `aggregation` and `constrained`: the same
    reading as the exported model's; the windows are the aligner's)."""
    logits = predict_by_length(model, features, batch_size, per_token=True,
                               pad_token_id=aligner.tokenizer.pad_token_id)
    return aligner.decode(logits, features, decoding.aggregation, decoding.constrained)


def evaluate_ner(model, aligner, features, tags, batch_size=64, decoding=TagDecoding()):
    """Tags the sentences of `features` (`aligner.encode(sentences)`) and scores them
    against the gold `tags` (one list per sentence), `decoding` as `predict_word_tags`.

    Returns: dict `score` (entity F1), `metrics` (`metrics.ner.ner_scores`) and
    `predicted` (the tag lists).
    """
    predicted = predict_word_tags(model, aligner, features, batch_size, decoding)
    metrics = ner_scores(tags, predicted)
    return {"score": metrics["f1"], "metrics": metrics, "predicted": predicted}

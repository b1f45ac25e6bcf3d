"""BertSpanLabeler: BERT for extractive question answering (SQuAD)."""

import keras
import tensorflow as tf
from keras import ops

from keras_bert_pkg.models.bert_task import BertTask
from keras_bert_pkg.models.span_answers import SpanDecoding, answer_function
from keras_bert_pkg.models.window_batches import concatenate_outputs

# Logit given to padding positions: far below any real logit, finite in float32.
PADDING_LOGIT = -1e9

_LABEL_KEYS = {"start_positions": "start_logits", "end_positions": "end_logits"}


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertSpanLabeler(BertTask):
    """A backbone and one `Dense(2)` over every token: answer start and end logits.

    Section 4.2 of the paper: a start vector S and an end vector E score each token
    (`S·T_i`, `E·T_j`); the span with the best `S·T_i + E·T_j` (j ≥ i) is the answer,
    and unanswerable questions (SQuAD v2.0) point both at [CLS]. The training loss is
    the mean of the start and end cross-entropies.

    Args:
        backbone: a `BertBackbone`.
        preprocessor: an optional `BertPreprocessor` (question/context pairs as a
            tuple of strings); SQuAD training uses token ids from
            `keras_bert_pkg.data.squad_features` instead, which keep character offsets.
        initializer_range: stddev of the truncated-normal initializer of the head.

    Inputs: the backbone's dict (`token_ids`, `segment_ids`, `padding_mask`).
    Outputs: dict `start_logits`, `end_logits`, float32 [batch, length]; padding
    positions hold `PADDING_LOGIT`.

    Labels for `fit`: a dict `{"start_positions": [batch], "end_positions": [batch]}`
    of token positions (0 for [CLS]); `compile()` defaults to that loss.

    `answer(questions, contexts)` answers raw questions over contexts of any length
    (doc-stride windows, the best span across them: `models.span_answers`), the same
    computation as the exported SQuAD model.

    Example:
    >>> model = BertSpanLabeler(BertBackbone.from_architecture("bert_tiny"))
    >>> out = model.predict(model.backbone.dummy_inputs(2, 8), verbose=0)
    >>> sorted(out), out["start_logits"].shape
    (['end_logits', 'start_logits'], (2, 8))
    """

    uses_pooled_output = False

    def __init__(self, backbone, preprocessor=None, initializer_range=0.02, **kwargs):
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        span_logits = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=getattr(backbone, "layer_dtype_policy", None) or backbone.dtype_policy,
            name="span_logits",
        )
        logits = ops.cast(span_logits(sequence), "float32")
        mask = ops.cast(inputs["padding_mask"], "bool")
        start_logits = ops.where(mask, logits[..., 0], PADDING_LOGIT)
        end_logits = ops.where(mask, logits[..., 1], PADDING_LOGIT)
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start_logits, "end_logits": end_logits},
            backbone=backbone,
            preprocessor=preprocessor,
            **kwargs,
        )
        self.initializer_range = initializer_range
        self.span_logits = span_logits

    def compile(self, optimizer="adam", loss="auto", loss_weights=None, metrics=None, **kwargs):
        """`compile` with the span loss by default: sparse cross-entropy from logits on
        each of start and end, weighted 0.5 each (the paper's mean)."""
        if loss == "auto":
            loss = {
                "start_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "end_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            }
            if loss_weights is None:
                loss_weights = {"start_logits": 0.5, "end_logits": 0.5}
        super().compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights,
                        metrics=metrics, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, _rename_labels(y), y_pred, sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, _rename_labels(y), y_pred, sample_weight)

    def answer(self, questions, contexts, batch_size=32, **decoding):
        """Answers each question from its context, however long (`models.span_answers`).

        Args:
            questions, contexts: lists of strings (or one string each).
            batch_size: questions per call (their windows run together).
            **decoding: `SpanDecoding` options (`doc_stride`, `top_k`,
                `null_score_diff_threshold`, ...).

        Returns: dict of numpy arrays, one row per question: `answer_text` (str),
        `answer_start` / `answer_end` (character offsets in the context, -1 without an
        answer), `score`, `null_score`, `top_answers`, `top_scores`, `top_starts`,
        `top_ends` ([questions, top_k]), `truncated`, `num_windows`.

        Example:
        >>> model = BertSpanLabeler.from_preset(checkpoint_dir)
        >>> out = model.answer("who lived there ?", "george lived in london . " * 40, doc_stride=32,
        ...                    max_query_length=16)
        >>> out["answer_text"][0] in "george lived in london . " * 40, int(out["num_windows"][0]) > 1
        (True, True)
        """
        if self.preprocessor is None:
            raise ValueError("answer() needs the model's preprocessor (for its tokenizer and "
                             "sequence length): build the model with one, or use from_preset.")
        questions = [questions] if isinstance(questions, str) else list(questions)
        contexts = [contexts] if isinstance(contexts, str) else list(contexts)
        if len(questions) != len(contexts):
            raise ValueError(f"answer(): {len(questions)} questions but {len(contexts)} contexts.")
        run = answer_function(self, self.preprocessor.tokenizer, self.preprocessor.sequence_length,
                              SpanDecoding(**decoding))
        parts = [run(tf.constant(questions[i:i + batch_size], tf.string),
                     tf.constant(contexts[i:i + batch_size], tf.string))
                 for i in range(0, len(questions), batch_size)]
        return concatenate_outputs(parts or [run(tf.constant([], tf.string), tf.constant([], tf.string))])

    def get_config(self):
        config = super().get_config()
        config["initializer_range"] = self.initializer_range
        return config


def _rename_labels(y):
    """Accepts `start_positions`/`end_positions` label keys for the two outputs."""
    if isinstance(y, dict) and set(y) == set(_LABEL_KEYS):
        return {_LABEL_KEYS[k]: v for k, v in y.items()}
    return y

"""SpanLabelerSignatures: serving a `BertSpanLabeler` (SQuAD question answering)."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export.task_signatures import TaskSignatures
from keras_bert_pkg.models.span_answers import SpanDecoding, answer_questions, best_spans, null_scores


class SpanLabelerSignatures(TaskSignatures):
    """Signatures of a `BertSpanLabeler`: answers found inside the graph.

    Text inputs `question` and `context` (string [batch]). Contexts of any length up to
    `decoding.max_context_tokens` are split into doc-stride windows, the windows of the
    whole request run through the model together, and the answer is chosen across them
    as the offline SQuAD post-processing does (`models.span_answers`, the code
    `BertSpanLabeler.answer` runs too).

    Text outputs, per question: `answer_text` (an exact substring of the context),
    `answer_start`, `answer_end` (int64 character offsets, end exclusive; -1 without an
    answer), `score` (start + end logit of the answer), `null_score` (the lowest [CLS]
    start + end logit over the windows, SQuAD v2.0's "no answer"), `top_answers`,
    `top_scores`, `top_starts`, `top_ends` ([batch, top_k]), `num_windows` and
    `truncated` (the context was cut at `max_context_tokens`). With
    `decoding.null_score_diff_threshold` set (SQuAD v2.0 models) the answer is empty when
    `null_score - score` exceeds it.

    Token-id outputs (each row one window): `start_logits`, `end_logits` float32 [batch,
    length], and the best span over segment-1 tokens (the context, its closing [SEP]
    excluded) by the same n-best rule: `start_position`, `end_position` int32, `score`,
    `null_score`.

    Args: those of `TaskSignatures`, and `decoding`, a `SpanDecoding`.
    """

    default_name = "squad"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None,
                 decoding=None):
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        if len(self.text_inputs) != 2:
            raise ValueError(f"Question answering takes two text inputs (question, context), "
                             f"got {self.text_inputs!r}.")
        self.decoding = decoding or SpanDecoding()
        self.decoding.check(self.sequence_length)

    def default_text_inputs(self):
        return ("question", "context")

    def token_outputs(self, inputs):
        logits = self.run_model(inputs)
        context = (tf.equal(inputs["segment_ids"], 1) & tf.equal(inputs["padding_mask"], 1)
                   & tf.not_equal(inputs["token_ids"], self.tokenizer.sep_token_id))
        windows = {"padding_mask": inputs["padding_mask"], "segment": tf.cast(context, tf.int32),
                   "max_context": context, "num_windows": tf.ones_like(inputs["token_ids"][:, 0])}
        score, _, start, end, found = best_spans(
            logits, windows, self.decoding.n_best_size, self.decoding.max_answer_length)
        return {"start_logits": logits["start_logits"], "end_logits": logits["end_logits"],
                "start_position": start[:, 0], "end_position": end[:, 0],
                "score": tf.where(found[:, 0], score[:, 0], -1e9),
                "null_score": null_scores(logits, windows)}

    def text_outputs(self, texts):
        return answer_questions(self.model, self.tokenizer, texts[self.text_inputs[0]],
                                texts[self.text_inputs[1]], self.sequence_length, self.decoding)

    def warmup_texts(self):
        return {self.text_inputs[0]: np.array(["Who wrote the novel?"], dtype=object),
                self.text_inputs[1]: np.array(["The novel was written by George Orwell in 1948."],
                                              dtype=object)}

    def output_docs(self):
        top = f"[batch, top_k={self.decoding.top_k}]"
        return {
            "text": {
                "answer_text": "string [batch]: the answer, an exact substring of the context",
                "answer_start": "int64 [batch]: character offset of the answer in the context",
                "answer_end": "int64 [batch]: character end offset (exclusive); -1 if none",
                "score": "float32 [batch]: start + end logit of the answer span",
                "null_score": "float32 [batch]: lowest start + end logit at [CLS] over the windows",
                "top_answers": f"string {top}: the best distinct answers, best first",
                "top_scores": f"float32 {top}", "top_starts": f"int64 {top}", "top_ends": f"int64 {top}",
                "num_windows": "int32 [batch]: doc-stride windows the context was split into",
                "truncated": f"bool [batch]: the context was cut at {self.decoding.max_context_tokens} tokens"},
            "token_ids": {
                "start_logits": "float32 [batch, length]",
                "end_logits": "float32 [batch, length]",
                "start_position": "int32 [batch]: token position of the best span's start",
                "end_position": "int32 [batch]: token position of its end (inclusive)",
                "score": "float32 [batch]", "null_score": "float32 [batch]"}}

    def options(self):
        return dataclasses.asdict(self.decoding)

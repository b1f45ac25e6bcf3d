"""SpanLabelerSignatures: serving a `BertSpanLabeler` (SQuAD question answering)."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export import span_search
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.export.task_signatures import TaskSignatures


class SpanLabelerSignatures(TaskSignatures):
    """Signatures of a `BertSpanLabeler`: the answer span, found inside the graph.

    Text inputs `question` and `context` (string [batch]). Each pair is packed as
    `[CLS] question [SEP] context [SEP]`, the question cut to `max_query_length`
    tokens and the context to what is left of `sequence_length`: one window, no doc
    stride, so an answer beyond the first window cannot be found (the `truncated`
    output tells when the context was cut; split long documents on the client, or use
    `data.squad_features` + `data.squad_postprocessing` offline). The best span
    maximises start + end logit over context tokens, `start <= end < start +
    max_answer_length`, and is cut from the context by the tokenizer's offsets.

    Text outputs: `answer_text` string [batch] (exact substring of the context),
    `answer_start`, `answer_end` int64 [batch] (character offsets into the context, end
    exclusive; -1 when there is no answer), `score` float32 (start + end logit of the
    span), `null_score` float32 (start + end logit at [CLS], SQuAD v2.0's "no answer"),
    `truncated` bool. With `null_score_diff_threshold` set (SQuAD v2.0 models), the
    answer is empty when `null_score - score` exceeds it.

    Token-id outputs: `start_logits`, `end_logits` float32 [batch, length], and the best
    span over segment-1 tokens (the context, its closing [SEP] excluded):
    `start_position`, `end_position` int32, `score`, `null_score`.
    """

    default_name = "squad"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None,
                 max_query_length=64, max_answer_length=30, null_score_diff_threshold=None):
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        if len(self.text_inputs) != 2:
            raise ValueError(f"Question answering takes two text inputs (question, context), "
                             f"got {self.text_inputs!r}.")
        self.max_query_length = int(max_query_length)
        self.max_answer_length = int(max_answer_length)
        if self.max_query_length < 1 or self.max_answer_length < 1:
            raise ValueError("max_query_length and max_answer_length must be positive.")
        if self.sequence_length - min(self.max_query_length, self.sequence_length) - 3 < 1:
            raise ValueError(f"sequence_length {self.sequence_length} leaves no room for the "
                             f"context after a {self.max_query_length}-token question.")
        self.null_score_diff_threshold = (None if null_score_diff_threshold is None
                                          else float(null_score_diff_threshold))

    def default_text_inputs(self):
        return ("question", "context")

    def _span(self, logits, allowed):
        start, end, score, found = span_search.best_spans(
            logits["start_logits"], logits["end_logits"], allowed, self.max_answer_length)
        null_score = logits["start_logits"][:, 0] + logits["end_logits"][:, 0]
        return start, end, score, found, null_score

    def token_outputs(self, inputs):
        logits = self.run_model(inputs)
        allowed = tf.logical_and(
            tf.logical_and(tf.equal(inputs["segment_ids"], 1), tf.equal(inputs["padding_mask"], 1)),
            tf.not_equal(inputs["token_ids"], self.tokenizer.sep_token_id))
        start, end, score, _, null_score = self._span(logits, allowed)
        return {"start_logits": logits["start_logits"], "end_logits": logits["end_logits"],
                "start_position": start, "end_position": end, "score": score,
                "null_score": null_score}

    def text_outputs(self, texts):
        question, context = texts[self.text_inputs[0]], texts[self.text_inputs[1]]
        q = text_packing.truncate(self.tokenize(question), self.max_query_length)
        c = self.tokenize(context)
        room = self.sequence_length - 3 - q["ids"].row_lengths()
        truncated = c["ids"].row_lengths() > room
        c = text_packing.truncate(c, room)
        packed = self.pack([q, c])
        logits = self.run_model(text_packing.model_inputs(packed))
        start, end, score, found, null_score = self._span(logits, tf.equal(packed["segment"], 1))
        byte_start = tf.gather(packed["starts"], start, batch_dims=1)
        byte_end = tf.gather(packed["ends"], end, batch_dims=1)
        answer = found
        if self.null_score_diff_threshold is not None:
            answer = tf.logical_and(
                answer, null_score - score <= self.null_score_diff_threshold)
        byte_start = tf.where(answer, byte_start, -1)
        byte_end = tf.where(answer, byte_end, -1)
        text = tf.strings.substr(context, tf.maximum(byte_start, 0),
                                 tf.maximum(byte_end - byte_start, 0))
        return {
            "answer_text": tf.where(answer, text, ""),
            "answer_start": text_packing.byte_to_char_offsets(context, byte_start),
            "answer_end": text_packing.byte_to_char_offsets(context, byte_end),
            "score": score,
            "null_score": null_score,
            "truncated": truncated,
        }

    def warmup_texts(self):
        return {self.text_inputs[0]: np.array(["Who wrote the novel?"], dtype=object),
                self.text_inputs[1]: np.array(["The novel was written by George Orwell in 1948."],
                                              dtype=object)}

    def output_docs(self):
        return {
            "text": {
                "answer_text": "string [batch]: the answer, an exact substring of the context",
                "answer_start": "int64 [batch]: character offset of the answer in the context",
                "answer_end": "int64 [batch]: character end offset (exclusive); -1 if none",
                "score": "float32 [batch]: start + end logit of the answer span",
                "null_score": "float32 [batch]: start + end logit at [CLS] (no answer)",
                "truncated": "bool [batch]: the context was cut to fit sequence_length"},
            "token_ids": {
                "start_logits": "float32 [batch, length]",
                "end_logits": "float32 [batch, length]",
                "start_position": "int32 [batch]: token position of the best span's start",
                "end_position": "int32 [batch]: token position of its end (inclusive)",
                "score": "float32 [batch]", "null_score": "float32 [batch]"}}

"""TokenClassifierSignatures: serving a `BertTokenClassifier` (NER) with word tags."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export.task_signatures import TaskSignatures
from keras_bert_pkg.models.word_tags import TagDecoding, tag_texts


class TokenClassifierSignatures(TaskSignatures):
    """Signatures of a `BertTokenClassifier`: word tags and entity spans from raw text.

    Texts of any length up to `decoding.max_tokens` tokens are split into windows
    `decoding.stride` tokens apart, and each token is read from the window where it has
    the most context, as the offline `data.token_alignment.TokenAligner` does
    (`models.word_tags`, the code `BertTokenClassifier.tag` runs too). Words are BERT's
    basic words, as `TokenAligner.split_words` gives them: a word starts at every token
    that is not a `##` continuation, so punctuation stands alone ("U.S." is four words)
    and a CJK character is a word. A word's tag comes from its sub-tokens by
    `decoding.aggregation` (`"first"`: the paper's set-up; `"average"`, `"max"` as Hugging
    Face's pipeline defines them); entities are read from the IOB2 word tags as
    `token_alignment.entity_spans` does.

    Text outputs (`text` string [batch] in), padded per batch to the most words /
    entities (`""` and -1 in the padding): `words`, `word_tags` string [batch, words],
    `word_starts`, `word_ends` int64 (character offsets, end exclusive), `num_words`
    int32 [batch]; `entity_types`, `entity_texts` string [batch, entities] (the text is
    the exact substring of the input), `entity_starts`, `entity_ends` int64 (character
    offsets), `num_entities` int32; `num_windows` int32 and `truncated` bool [batch].

    Token-id outputs: `logits` float32 [batch, length, tags], `tag_ids` int32 and
    `tags` string [batch, length] (per token, padding included).
    """

    default_name = "ner"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None, decoding=None):
        if labels is None:
            raise ValueError("Exporting a BertTokenClassifier needs `labels`: its tag names "
                             "in id order (e.g. data.conll.tag_list(sentences)).")
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        if len(self.labels) != model.num_classes:
            raise ValueError(f"{len(self.labels)} tags given for a token classifier with "
                             f"num_classes={model.num_classes}.")
        if len(self.text_inputs) != 1:
            raise ValueError(f"NER takes one text input, got {self.text_inputs!r}.")
        self.decoding = decoding or TagDecoding()
        self.decoding.window_stride(self.sequence_length)

    def token_outputs(self, inputs):
        logits = self.run_model(inputs)
        tag_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "tag_ids": tag_ids,
                "tags": tf.gather(tf.constant(self.labels, tf.string), tag_ids)}

    def text_outputs(self, texts):
        return tag_texts(self.model, self.tokenizer, texts[self.text_inputs[0]], self.sequence_length,
                         self.labels, self.decoding)

    def warmup_texts(self):
        return {self.text_inputs[0]: np.array(
            ["George Orwell lived in London .", "EU rejects German call ."], dtype=object)}

    def output_docs(self):
        return {
            "text": {
                "words": "string [batch, words]: BERT basic words of the text",
                "word_tags": "string [batch, words]: the tag of each word's first token",
                "word_starts": "int64 [batch, words]: character offsets of the words",
                "word_ends": "int64 [batch, words]: character end offsets (exclusive)",
                "num_words": "int32 [batch]",
                "entity_types": "string [batch, entities]: e.g. PER, LOC",
                "entity_texts": "string [batch, entities]: exact substrings of the text",
                "entity_starts": "int64 [batch, entities]: character offsets",
                "entity_ends": "int64 [batch, entities]: character end offsets (exclusive)",
                "num_entities": "int32 [batch]",
                "num_windows": "int32 [batch]: windows the text was split into",
                "truncated": f"bool [batch]: the text was cut at {self.decoding.max_tokens} tokens"},
            "token_ids": {
                "logits": "float32 [batch, length, tags]",
                "tag_ids": "int32 [batch, length]: arg-max tag id of every position",
                "tags": "string [batch, length]: its tag name"}}

    def options(self):
        return dataclasses.asdict(self.decoding)

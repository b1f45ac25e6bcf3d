"""TokenClassifierSignatures: serving a `BertTokenClassifier` (NER) with word tags."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export import entity_decoding
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.export.task_signatures import TaskSignatures


class TokenClassifierSignatures(TaskSignatures):
    """Signatures of a `BertTokenClassifier`: word tags and entity spans from raw text.

    Words are BERT's basic words, as `data.token_alignment.TokenAligner.split_words`
    gives them: a word starts at every token that is not a `##` continuation, so
    punctuation stands alone ("U.S." is four words) and a CJK character is a word.
    Each word takes the tag of its first token (the paper's NER set-up); entities
    are read from the IOB2 word tags as `token_alignment.entity_spans` does. One window:
    text beyond `sequence_length - 2` tokens is not tagged (`truncated` says so).

    Text outputs (`text` string [batch] in), padded per batch to the most words /
    entities (`""` and -1 in the padding): `words`, `word_tags` string [batch, words],
    `word_starts`, `word_ends` int64 (character offsets, end exclusive), `num_words`
    int32 [batch]; `entity_types`, `entity_texts` string [batch, entities] (the text is
    the exact substring of the input), `entity_starts`, `entity_ends` int64 (character
    offsets), `num_entities` int32; `truncated` bool [batch].

    Token-id outputs: `logits` float32 [batch, length, tags], `tag_ids` int32 and
    `tags` string [batch, length] (per token, padding included).
    """

    default_name = "ner"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None):
        if labels is None:
            raise ValueError("Exporting a BertTokenClassifier needs `labels`: its tag names "
                             "in id order (e.g. data.conll.tag_list(sentences)).")
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        if len(self.labels) != model.num_classes:
            raise ValueError(f"{len(self.labels)} tags given for a token classifier with "
                             f"num_classes={model.num_classes}.")
        if len(self.text_inputs) != 1:
            raise ValueError(f"NER takes one text input, got {self.text_inputs!r}.")
        vocabulary = tokenizer.get_vocabulary()
        self._continuation = np.array([t.startswith("##") for t in vocabulary])

    def token_outputs(self, inputs):
        logits = self.run_model(inputs)
        tag_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "tag_ids": tag_ids,
                "tags": tf.gather(tf.constant(self.labels, tf.string), tag_ids)}

    def text_outputs(self, texts):
        text = texts[self.text_inputs[0]]
        tokens = self.tokenize(text)
        truncated = tokens["ids"].row_lengths() > self.sequence_length - 2
        tokens = text_packing.truncate(tokens, self.sequence_length - 2)
        packed = self.pack([tokens])
        logits = self.run_model(text_packing.model_inputs(packed))

        ids = tokens["ids"]
        rows = ids.value_rowids()
        position = tf.range(tf.size(rows, out_type=tf.int64)) - tf.gather(ids.row_starts(), rows)
        width = tf.shape(logits, out_type=tf.int64)[1]
        flat_logits = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
        token_tag = tf.argmax(tf.gather(flat_logits, rows * width + position + 1), axis=-1,
                              output_type=tf.int32)
        continuation = tf.gather(tf.constant(self._continuation), ids.flat_values)
        starts_word = tf.logical_or(tf.logical_not(continuation), tf.equal(position, 0))
        word = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
        num_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
        first = tf.reshape(tf.where(starts_word), [-1])
        word_rows = tf.gather(rows, first)
        word_start = tf.gather(tokens["starts"].flat_values, first)
        word_end = tf.math.unsorted_segment_max(tokens["ends"].flat_values, word, num_words)
        word_tag = tf.gather(token_tag, first)
        nrows = ids.nrows()

        def by_row(values, value_rows=word_rows):
            return tf.RaggedTensor.from_value_rowids(values, value_rows, nrows=nrows,
                                                     validate=False)

        word_text = tf.gather(text, word_rows)
        words = by_row(tf.strings.substr(word_text, word_start, word_end - word_start))
        word_tags = by_row(tf.gather(tf.constant(self.labels, tf.string), word_tag))
        char_start = text_packing.byte_to_char_offsets(word_text, word_start)
        char_end = text_packing.byte_to_char_offsets(word_text, word_end)

        entities = entity_decoding.decode_entities(by_row(word_tag), self.labels)
        row_offset = tf.gather(by_row(word_start).row_starts(), entities["first_word"].value_rowids())
        first_word = entities["first_word"].flat_values + row_offset
        last_word = entities["last_word"].flat_values + row_offset
        entity_rows = entities["type"].value_rowids()
        entity_byte_start = tf.gather(word_start, first_word)
        entity_byte_end = tf.gather(word_end, last_word)
        entity_source = tf.gather(text, entity_rows)

        def dense(values, default, value_rows):
            return by_row(values, value_rows).to_tensor(default_value=default)

        return {
            "words": words.to_tensor(default_value=""),
            "word_tags": word_tags.to_tensor(default_value=""),
            "word_starts": dense(char_start, tf.constant(-1, tf.int64), word_rows),
            "word_ends": dense(char_end, tf.constant(-1, tf.int64), word_rows),
            "num_words": tf.cast(words.row_lengths(), tf.int32),
            "entity_types": entities["type"].to_tensor(default_value=""),
            "entity_texts": dense(
                tf.strings.substr(entity_source, entity_byte_start,
                                  entity_byte_end - entity_byte_start), "", entity_rows),
            "entity_starts": dense(
                text_packing.byte_to_char_offsets(entity_source, entity_byte_start),
                tf.constant(-1, tf.int64), entity_rows),
            "entity_ends": dense(
                text_packing.byte_to_char_offsets(entity_source, entity_byte_end),
                tf.constant(-1, tf.int64), entity_rows),
            "num_entities": tf.cast(entities["type"].row_lengths(), tf.int32),
            "truncated": truncated,
        }

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
                "truncated": "bool [batch]: text beyond sequence_length - 2 tokens was cut"},
            "token_ids": {
                "logits": "float32 [batch, length, tags]",
                "tag_ids": "int32 [batch, length]: arg-max tag id of every position",
                "tags": "string [batch, length]: its tag name"}}

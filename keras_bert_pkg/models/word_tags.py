"""Word tags and entities of raw text of any length, in the graph (NER decoding).

`tag_texts` is what `BertTokenClassifier.tag` and the exported NER text signature both
run: each text is split into windows of `sequence_length - 2` tokens `stride` apart
(`text.doc_stride_windows`, the windows of `data.token_alignment.TokenAligner`), the
windows of the whole batch go through the model together, and every token takes its
logits from the window where it has the most context. Words are BERT's basic words (a
word starts at every token that is not a `##` continuation: punctuation stands alone, a
CJK character is a word) and get one tag each, by `aggregation` over their sub-tokens,
as Hugging Face's token-classification pipeline defines the strategies:

- `"first"`: the word's first sub-token's tag probabilities (the paper's NER set-up);
- `"average"`: the sub-tokens' softmax probabilities averaged;
- `"max"`: the probabilities of the sub-token whose best probability is the highest.

From those, `constrained` (the default) takes the most probable valid IOB2 sequence of
the text (`data.iob2_viterbi`), otherwise each word takes its arg-max tag; the offline
`TokenAligner.decode` does the same. Entities are read from the IOB2 word tags (`models.entity_decoding`). Texts longer than
`max_tokens` tokens are cut there (`truncated` says so).

Example:
>>> model = BertTokenClassifier(BertBackbone.from_architecture("bert_tiny", vocabulary_size=110),
...                             num_classes=3, preprocessor=BertPreprocessor(BertTokenizer(vocab_file), 16))
>>> out = tag_texts(model, model.preprocessor.tokenizer, tf.constant(["george lived in london . " * 5]), 16,
...                 ["O", "B-PER", "I-PER"], TagDecoding(stride=4, aggregation="average"))
>>> int(out["num_words"][0]), int(out["num_windows"][0])
(25, 4)
"""

import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.iob2_viterbi import iob2_viterbi
from keras_bert_pkg.models.entity_decoding import decode_entities
from keras_bert_pkg.models.window_batches import WINDOW_BATCH_SIZE, run_windows
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.text.doc_stride_windows import MAX_CONTEXT_TOKENS, text_windows

AGGREGATIONS = ("first", "average", "max")


@dataclasses.dataclass(frozen=True)
class TagDecoding:
    """How long texts are tagged (module doc).

    Args:
        stride: tokens between the starts of consecutive windows (default: half a window).
        aggregation: `"first"`, `"average"` or `"max"`: a word's tag from its sub-tokens.
        max_tokens: texts are cut at this many tokens (`truncated` says so).
        window_batch_size: windows per model call, at most.
        constrained: the most probable valid IOB2 sequence of each text
            (`data.iob2_viterbi`: no `I-X` after `O` or another type); `False`: each
            word's arg-max tag.
    """

    stride: int = None
    aggregation: str = "first"
    max_tokens: int = MAX_CONTEXT_TOKENS
    window_batch_size: int = WINDOW_BATCH_SIZE
    constrained: bool = True

    def __post_init__(self):
        if not isinstance(self.constrained, bool):
            raise ValueError(f"TagDecoding.constrained must be True or False, got {self.constrained!r}.")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"TagDecoding.aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}.")
        for name in ("stride", "max_tokens", "window_batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"TagDecoding.{name} must be a positive integer, got {value!r}.")

    def window_stride(self, sequence_length):
        """The stride for windows of `sequence_length - 2` tokens."""
        window = int(sequence_length) - 2
        if window < 1:
            raise ValueError(f"sequence_length {sequence_length} leaves no room for a token.")
        return min(self.stride, window) if self.stride else max(window // 2, 1)


def word_log_probabilities(token_logits, word, num_words, first_token, aggregation):
    """Each word's tag log-probabilities (float [num_words, tags]) from its sub-tokens' logits.

    Args:
        token_logits: float [tokens, tags], the tokens in order.
        word: int64 [tokens], each token's word.
        num_words: the number of words.
        first_token: int64 [num_words], the index of each word's first token.
        aggregation: `"first"`, `"average"` or `"max"` (module doc).
    """
    # float64, as the offline `TokenAligner.decode`: in float32 a confident token's best
    # log-probability rounds to 0 once its margin passes ~17, and "max" would tie it with
    # a more confident one. "average" as a log-sum-exp, so no word's score underflows to
    # -inf (which would leave the constrained decoding no valid path to prefer).
    log_probabilities = tf.nn.log_softmax(tf.cast(token_logits, tf.float64), axis=-1)
    if aggregation == "first":
        return tf.cast(tf.gather(log_probabilities, first_token), tf.float32)
    if aggregation == "average":
        peak = tf.math.unsorted_segment_max(log_probabilities, word, num_words)
        total = tf.math.unsorted_segment_sum(tf.exp(log_probabilities - tf.gather(peak, word)), word, num_words)
        count = tf.math.unsorted_segment_sum(tf.ones_like(word, tf.float64), word, num_words)
        return tf.cast(peak + tf.math.log(total) - tf.math.log(count)[:, None], tf.float32)
    best = tf.reduce_max(log_probabilities, axis=-1)
    is_best = tf.equal(best, tf.gather(tf.math.unsorted_segment_max(best, word, num_words), word))
    index = tf.range(tf.size(word, out_type=tf.int64))
    chosen = tf.math.unsorted_segment_min(tf.where(is_best, index, tf.size(word, out_type=tf.int64)),
                                          word, num_words)
    return tf.cast(tf.gather(log_probabilities, chosen), tf.float32)


def word_outputs(texts, tokens, token_logits, labels, continuation, decoding):
    """Words, their tags and the entities of each text.

    Args:
        texts: string [batch].
        tokens: ragged `ids`, `starts`, `ends` [batch, None] of the texts (byte offsets).
        token_logits: float [tokens, tags], for the flat tokens.
        labels: the tag names, indexed by id.
        continuation: bool numpy array over the vocabulary: `##` pieces.
        decoding: a `TagDecoding` (its `aggregation` and `constrained`).

    Returns: the dict of the NER text signature (`TokenClassifierSignatures`).
    """
    ids = tokens["ids"]
    rows = ids.value_rowids()
    position = tf.range(tf.size(rows, out_type=tf.int64)) - tf.gather(ids.row_starts(), rows)
    is_continuation = tf.gather(tf.constant(continuation), ids.flat_values)
    starts_word = tf.logical_or(tf.logical_not(is_continuation), tf.equal(position, 0))
    word = tf.cumsum(tf.cast(starts_word, tf.int64)) - 1
    num_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
    first = tf.reshape(tf.where(starts_word), [-1])
    word_rows = tf.gather(rows, first)
    word_start = tf.gather(tokens["starts"].flat_values, first)
    word_end = tf.math.unsorted_segment_max(tokens["ends"].flat_values, word, num_words)
    nrows = ids.nrows()

    def by_row(values, value_rows=word_rows):
        return tf.RaggedTensor.from_value_rowids(values, value_rows, nrows=nrows, validate=False)

    log_probabilities = word_log_probabilities(token_logits, word, num_words, first, decoding.aggregation)
    if decoding.constrained:
        word_tag = iob2_viterbi(by_row(log_probabilities), labels).flat_values
    else:
        word_tag = tf.argmax(log_probabilities, axis=-1, output_type=tf.int32)

    def dense(values, default, value_rows):
        return by_row(values, value_rows).to_tensor(default_value=default)

    minus_one = tf.constant(-1, tf.int64)
    word_text = tf.gather(texts, word_rows)
    words = by_row(tf.strings.substr(word_text, word_start, word_end - word_start))
    names = tf.constant(list(labels), tf.string)
    entities = decode_entities(by_row(word_tag), list(labels))
    row_offset = tf.gather(by_row(word_start).row_starts(), entities["first_word"].value_rowids())
    entity_rows = entities["type"].value_rowids()
    entity_start = tf.gather(word_start, entities["first_word"].flat_values + row_offset)
    entity_end = tf.gather(word_end, entities["last_word"].flat_values + row_offset)
    entity_source = tf.gather(texts, entity_rows)
    return {
        "words": words.to_tensor(default_value=""),
        "word_tags": by_row(tf.gather(names, word_tag)).to_tensor(default_value=""),
        "word_starts": dense(text_packing.byte_to_char_offsets(word_text, word_start), minus_one, word_rows),
        "word_ends": dense(text_packing.byte_to_char_offsets(word_text, word_end), minus_one, word_rows),
        "num_words": tf.cast(words.row_lengths(), tf.int32),
        "entity_types": entities["type"].to_tensor(default_value=""),
        "entity_texts": dense(tf.strings.substr(entity_source, entity_start, entity_end - entity_start),
                              "", entity_rows),
        "entity_starts": dense(text_packing.byte_to_char_offsets(entity_source, entity_start),
                               minus_one, entity_rows),
        "entity_ends": dense(text_packing.byte_to_char_offsets(entity_source, entity_end),
                             minus_one, entity_rows),
        "num_entities": tf.cast(entities["type"].row_lengths(), tf.int32),
    }


def continuation_table(tokenizer):
    """bool numpy array over the tokenizer's vocabulary: the `##` continuation pieces."""
    return np.array([token.startswith("##") for token in tokenizer.get_vocabulary()])


def tag_texts(model, tokenizer, texts, sequence_length, labels, decoding=TagDecoding()):
    """Windows, model, word tags and entities: `word_outputs`' dict plus `truncated` (the
    text was cut at `max_tokens`) and `num_windows` per text.

    Args:
        model: maps the backbone's input dict to logits [batch, length, tags] (a
            `BertTokenClassifier`).
        tokenizer: its `BertTokenizer`.
        texts: string [batch].
        sequence_length: the packed length of a window.
        labels: the tag names, indexed by id.
        decoding: a `TagDecoding`.
    """
    windows = text_windows(tokenizer, texts, sequence_length, decoding.window_stride(sequence_length),
                           decoding.max_tokens)
    logits = run_windows(model, windows, decoding.window_batch_size)
    chosen = windows["max_context"]
    token_logits = tf.math.unsorted_segment_sum(  # each token is chosen in exactly one window
        tf.boolean_mask(logits, chosen), tf.boolean_mask(windows["token_index"], chosen),
        tf.size(windows["tokens"]["ids"].flat_values, out_type=tf.int64))
    out = word_outputs(texts, windows["tokens"], token_logits, labels, continuation_table(tokenizer), decoding)
    out["truncated"] = windows["truncated"]
    out["num_windows"] = windows["num_windows"]
    return out


# model -> {(tokenizer, sequence_length, labels, decoding): traced tag_texts}
_TAG_FUNCTIONS = weakref.WeakKeyDictionary()


def tag_function(model, tokenizer, sequence_length, labels, decoding=TagDecoding()):
    """`tag_texts` of `model` traced once for string [batch] texts, cached per model and
    options."""
    labels = tuple(labels)
    if len(labels) != model.output.shape[-1]:
        raise ValueError(f"{len(labels)} tag names for a model of {model.output.shape[-1]} tags.")
    decoding.window_stride(sequence_length)
    functions = _TAG_FUNCTIONS.setdefault(model, {})
    key = (id(tokenizer), int(sequence_length), labels, decoding)
    if key not in functions:
        reference = weakref.ref(model)  # the cache must not keep its key alive

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def tag(texts):
            return tag_texts(reference(), tokenizer, texts, sequence_length, labels, decoding)

        functions[key] = tag
    return functions[key]

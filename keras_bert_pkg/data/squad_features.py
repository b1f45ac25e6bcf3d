"""SQuAD features: question + context windows (doc stride), their inputs and labels.

Each example becomes one or more windows `[CLS] question [SEP] context-piece [SEP]`.
Every context token keeps its character span in the original context, taken from the
tokenizer's own offsets (`BertTokenizer.encode_with_char_offsets`), so answers are cut
back from the context by offsets and the answer's token span comes from
`answer_start` directly, with no re-tokenising or text search.
"""

import dataclasses

import numpy as np

from keras_bert_pkg.data.length_bucketing import ragged_features


@dataclasses.dataclass
class SquadFeature:
    """One model input window of one `SquadExample`.

    Attributes:
        unique_id: running index of the feature.
        example_index: index of its example in the list given to
            `convert_examples_to_features`.
        window_index: index of the window within the example.
        token_ids, segment_ids: the unpadded packed input.
        token_to_char: `{position: (char_start, char_end)}` for context positions:
            the token's character span in the example's `context_text` (end exclusive).
        token_is_max_context: `{position: bool}` for context positions: whether this
            window gives the token its most centred context (the original BERT rule),
            so that each start token is predicted from one window only.
        start_position, end_position: the answer's token span in this window, both 0
            (the [CLS] position) for unanswerable questions and for windows that do
            not contain the whole answer; None when not built for training.
        is_impossible: True when the label points at [CLS].
    """

    unique_id: int
    example_index: int
    window_index: int
    token_ids: list
    segment_ids: list
    token_to_char: dict
    token_is_max_context: dict
    start_position: object = None
    end_position: object = None
    is_impossible: bool = False

    def __len__(self):
        return len(self.token_ids)


def answer_token_span(offsets, char_start, char_end):
    """Returns the smallest token span `(first, last)` (inclusive) whose characters
    cover `[char_start, char_end)`, or None when no token overlaps it.

    `offsets` are the `(start, end)` character spans of the context tokens.
    """
    first = last = None
    for i, (start, end) in enumerate(offsets):
        if end > char_start and start < char_end:
            if first is None:
                first = i
            last = i
        elif start >= char_end:
            break
    if first is None:
        return None
    return first, last


def _is_max_context(windows, window_index, position):
    """Original BERT's rule: the window where `position` has the most context on its
    shorter side (ties go to the longer window via a 0.01 * length term)."""
    best_score, best_window = None, None
    for index, (start, length) in enumerate(windows):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_window = score, index
    return best_window == window_index


class _ContextCache:
    """Tokenizes each distinct context once (questions share their paragraph)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache = {}

    def __call__(self, text):
        if text not in self.cache:
            self.cache[text] = self.tokenizer.encode_with_char_offsets(text)
        return self.cache[text]


def convert_examples_to_features(
    examples,
    tokenizer,
    max_seq_length=384,
    doc_stride=128,
    max_query_length=64,
    is_training=False,
    stats=None,
):
    """Turns `SquadExample`s into `SquadFeature` windows.

    The question is cut to `max_query_length` tokens; the context is split into
    windows of at most `max_seq_length - len(question) - 3` tokens, each starting
    `doc_stride` tokens after the previous one. For training, the answer's token span
    is the smallest one covering `[answer_start, answer_start + len(text))`; a window
    that does not contain it whole, and every window of an unanswerable question,
    is labelled with the [CLS] position 0.

    Args:
        examples: list of `SquadExample`.
        tokenizer: a `BertTokenizer` (anything with `encode_with_char_offsets`,
            `encode`, `cls_token_id`, `sep_token_id`).
        max_seq_length: packed length, including [CLS] and two [SEP].
        doc_stride: tokens between the starts of consecutive windows.
        max_query_length: the question is truncated to this many tokens.
        is_training: attach start/end labels.
        stats: optional dict, filled with counts (`examples`, `features`,
            `answerable`, `answer_in_some_window`, `answer_not_tokenized`).

    Returns: a list of `SquadFeature`.

    Example:
    >>> from keras_bert_pkg.data.squad_examples import SquadExample
    >>> example = SquadExample("q1", "who wrote the novel ?", "george wrote the novel .",
    ...                        answer_text="george", answer_start=0)
    >>> features = convert_examples_to_features([example], BertTokenizer(vocab_file),
    ...                                         max_seq_length=16, doc_stride=8,
    ...                                         max_query_length=8, is_training=True)
    >>> len(features), features[0].start_position, features[0].end_position
    (1, 7, 7)
    """
    if doc_stride <= 0:
        raise ValueError(f"doc_stride must be positive, got {doc_stride}.")
    if max_query_length <= 0:
        raise ValueError(f"max_query_length must be positive, got {max_query_length}.")
    if max_seq_length - min(max_query_length, 1) - 3 < 1:
        raise ValueError(f"max_seq_length {max_seq_length} leaves no room for context tokens.")
    counts = {"examples": len(examples), "features": 0, "answerable": 0,
              "answer_in_some_window": 0, "answer_not_tokenized": 0}
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    context_tokens = _ContextCache(tokenizer)
    features = []
    for example_index, example in enumerate(examples):
        query_ids = tokenizer.encode(example.question_text)[:max_query_length]
        doc_ids, doc_offsets = context_tokens(example.context_text)
        max_doc = max_seq_length - len(query_ids) - 3
        if max_doc < 1:
            raise ValueError(
                f"Question {example.qas_id!r}: max_seq_length {max_seq_length} leaves no room "
                f"for context after a {len(query_ids)}-token question."
            )

        answer_span = None
        if is_training and not example.is_impossible and example.answer_start is not None:
            counts["answerable"] += 1
            answer_span = answer_token_span(doc_offsets, example.answer_start, example.answer_end)
            if answer_span is None:
                counts["answer_not_tokenized"] += 1
                continue  # nothing to label: the answer has no tokens (original BERT skips too)

        windows = []
        start = 0
        while True:
            length = min(len(doc_ids) - start, max_doc)
            windows.append((start, length))
            if start + length >= len(doc_ids):
                break
            start += min(length, doc_stride)

        offset = len(query_ids) + 2  # [CLS] question [SEP]
        found = False
        for window_index, (doc_start, length) in enumerate(windows):
            token_ids = [cls_id] + query_ids + [sep_id] + doc_ids[doc_start:doc_start + length] + [sep_id]
            segment_ids = [0] * offset + [1] * (length + 1)
            token_to_char = {}
            max_context = {}
            for i in range(length):
                token_to_char[offset + i] = doc_offsets[doc_start + i]
                max_context[offset + i] = _is_max_context(windows, window_index, doc_start + i)
            start_position = end_position = None
            impossible = False
            if is_training:
                if answer_span is not None and doc_start <= answer_span[0] and answer_span[1] < doc_start + length:
                    start_position = answer_span[0] - doc_start + offset
                    end_position = answer_span[1] - doc_start + offset
                    found = True
                else:
                    start_position = end_position = 0
                    impossible = True
            features.append(
                SquadFeature(
                    unique_id=len(features),
                    example_index=example_index,
                    window_index=window_index,
                    token_ids=token_ids,
                    segment_ids=segment_ids,
                    token_to_char=token_to_char,
                    token_is_max_context=max_context,
                    start_position=start_position,
                    end_position=end_position,
                    is_impossible=impossible,
                )
            )
        counts["answer_in_some_window"] += int(found)
    counts["features"] = len(features)
    if stats is not None:
        stats.update(counts)
    return features


def squad_inputs(features, length=None):
    """The model inputs of `features` as padded int32 numpy arrays (`token_ids`,
    `segment_ids`, `padding_mask`) [features, length]; `length` defaults to the
    longest feature."""
    length = length or max(len(f) for f in features)
    x = {k: np.zeros((len(features), length), np.int32) for k in ("token_ids", "segment_ids", "padding_mask")}
    for row, f in enumerate(features):
        n = len(f)
        if n > length:
            raise ValueError(f"Feature {f.unique_id} has {n} tokens, more than length {length}.")
        x["token_ids"][row, :n] = f.token_ids
        x["segment_ids"][row, :n] = f.segment_ids
        x["padding_mask"][row, :n] = 1
    return x


def squad_ragged_features(features):
    """The features' model inputs as a ragged dict (`data.length_bucketing`), for
    `bucketed_dataset` (training) and `models.predict_by_length` (prediction)."""
    if not features:
        raise ValueError("squad_ragged_features: no features.")
    return ragged_features([f.token_ids for f in features], [f.segment_ids for f in features])


def squad_labels(features):
    """`{"start_positions", "end_positions"}` int32 arrays [features] (0 = [CLS]), the
    labels of `BertSpanLabeler`; the features must be built with `is_training=True`."""
    if any(f.start_position is None for f in features):
        raise ValueError("squad_labels needs features built with is_training=True.")
    return {"start_positions": np.array([f.start_position for f in features], np.int32),
            "end_positions": np.array([f.end_position for f in features], np.int32)}

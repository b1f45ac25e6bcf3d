"""Word-level tags ↔ WordPiece tokens, for token classification (NER).

`TokenAligner` turns sentences of words (with their tags, for training) into the
backbone's fixed-length inputs: the words are joined with spaces and tokenized with the
tokenizer's character offsets, so every token knows exactly which word it came from.
The first sub-token of a word carries the word's tag; the other sub-tokens carry
`ignore_label` (-100: left out of the loss) unless `label_all_subtokens=True`.
A sentence longer than `sequence_length - 2` tokens is cut into overlapping windows
`stride` tokens apart; each token is read back from the window where it has the most
context on both sides (as BERT's SQuAD code does), so `decode` returns exactly one tag
per word of every sentence. With `documents`, the room a window leaves is filled with the
tokens of the sentences around it in its document (the paper's "maximal document
context" for CoNLL-2003): unlabeled, and never decoded.
"""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.iob2_viterbi import iob2_viterbi
from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL


class TokenAligner:
    """Aligns word tags with WordPiece tokens, windows long sentences, decodes back.

    Args:
        tokenizer: a `BertTokenizer` (its `encode_with_char_offsets` is used).
        tags: the list of tag strings; a tag's id is its index (`conll.tag_list`).
        sequence_length: model input length, `[CLS]` and `[SEP]` included.
        stride: tokens between the starts of consecutive windows of a long sentence
            (default: half the window, `(sequence_length - 2) // 2`).
        label_all_subtokens: label every sub-token (a continuation of a `B-X` word
            gets `I-X`) instead of the first only. Decoding always reads the first.
        ignore_label: the label of positions left out of the loss.

    Example:
    >>> aligner = TokenAligner(BertTokenizer(vocab_file), ["O", "B-PER", "I-PER"],
    ...                        sequence_length=16)
    >>> features = aligner.encode([["Georges", "lived"]], [["B-PER", "O"]])
    >>> features["labels"][0, :5].tolist()  # [CLS] george ##s lived [SEP]
    [-100, 1, -100, 0, -100]
    >>> aligner.decode(features["labels"], features)
    [['B-PER', 'O']]
    """

    def __init__(self, tokenizer, tags, sequence_length=128, stride=None,
                 label_all_subtokens=False, ignore_label=IGNORE_LABEL):
        if sequence_length is None or int(sequence_length) < 3:
            raise ValueError(f"sequence_length must be >= 3, got {sequence_length!r}.")
        self.tokenizer = tokenizer
        self.tags = list(tags)
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"TokenAligner: duplicate tags in {self.tags!r}.")
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        self.sequence_length = int(sequence_length)
        window = self.sequence_length - 2
        self.stride = window // 2 if stride is None else int(stride)
        if not 1 <= self.stride <= window:
            raise ValueError(
                f"stride must be between 1 and sequence_length - 2 = {window}, got {stride!r}."
            )
        self.label_all_subtokens = bool(label_all_subtokens)
        self.ignore_label = int(ignore_label)
        self._vocabulary = tokenizer.get_vocabulary()

    # --- words → tokens -------------------------------------------------------------
    def tokenize_words(self, words):
        """Tokenizes a list of words as the sentence `" ".join(words)`.

        Returns:
            `(ids, word_index)`: token ids and, per token, the index of its word. A word
            that tokenizes to nothing (only control or accent characters) gets one
            `[UNK]`, so every word has at least one token.
        """
        if isinstance(words, str):
            raise ValueError("tokenize_words expects a list of words, got a str.")
        char_word = []
        for i, word in enumerate(words):
            if i:
                char_word.append(-1)
            char_word.extend([i] * len(word))
        ids, offsets = self.tokenizer.encode_with_char_offsets(" ".join(words))
        token_word = [char_word[start] for start, _ in offsets]
        out_ids, out_words = [], []
        k = 0
        for i in range(len(words)):
            if k < len(token_word) and token_word[k] == i:
                while k < len(token_word) and token_word[k] == i:
                    out_ids.append(ids[k])
                    out_words.append(i)
                    k += 1
            else:
                out_ids.append(self.tokenizer.unk_token_id)
                out_words.append(i)
        return out_ids, out_words

    def split_words(self, text):
        """Splits raw text into BERT's basic words (whitespace, punctuation and each CJK
        character split off), with their character spans in `text`.

        Returns:
            `(words, spans)`: the word strings (as in `text`, before lower-casing) and
            their `(start, end)` character offsets (end exclusive).
        """
        ids, offsets = self.tokenizer.encode_with_char_offsets(text)
        spans = []
        for token_id, (start, end) in zip(ids, offsets):
            if spans and self._vocabulary[token_id].startswith("##"):
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return [text[s:e] for s, e in spans], spans

    # --- windows --------------------------------------------------------------------
    def _windows(self, num_tokens):
        window = self.sequence_length - 2
        windows = []
        start = 0
        while True:
            length = min(num_tokens - start, window)
            windows.append((start, length))
            if start + length >= num_tokens:
                return windows
            start += min(length, self.stride)

    @staticmethod
    def _best_windows(windows, num_tokens):
        """For each token, the index of the window where it has the most context."""
        best = np.zeros(num_tokens, np.int64)
        best_score = np.full(num_tokens, -1.0)
        for w, (start, length) in enumerate(windows):
            positions = np.arange(start, start + length)
            score = np.minimum(positions - start, start + length - 1 - positions) + 0.01 * length
            better = score > best_score[start:start + length]
            best[start:start + length][better] = w
            best_score[start:start + length][better] = score[better]
        return best

    def _label_ids(self, words, tags, sentence_index):
        if len(tags) != len(words):
            raise ValueError(
                f"sentence {sentence_index}: {len(words)} words but {len(tags)} tags."
            )
        ids = []
        for tag in tags:
            if tag not in self.tag_ids:
                raise ValueError(
                    f"sentence {sentence_index}: tag {tag!r} is not in the tag list "
                    f"{self.tags!r}."
                )
            ids.append(self.tag_ids[tag])
        return ids

    def _continuation_label(self, tag_id):
        tag = self.tags[tag_id]
        if tag.startswith("B-") and "I-" + tag[2:] in self.tag_ids:
            return self.tag_ids["I-" + tag[2:]]
        return tag_id

    # --- sentences → features -------------------------------------------------------
    def encode(self, sentences, tags=None, documents=None):
        """Builds model inputs (and labels) for a list of sentences.

        Args:
            sentences: a list of sentences, each a list of words.
            tags: optional list of tag lists, one tag per word.
            documents: optional document id of each sentence (`TaggedSentence.document`),
                the sentences in their document order. A window's room up to
                `sequence_length` is then filled with the tokens of the sentences before
                and after its own in the same document (half each where both have
                enough; a window of a long sentence gets context only on the side where
                the sentence ends): segment 0, no labels, no tags decoded from them.
                A sentence whose id is `None` neither gets nor gives context.

        Returns:
            A dict of numpy arrays, one row per window (`N` rows, `L` = `sequence_length`):
            `token_ids`, `segment_ids`, `padding_mask` (int32 [N, L]) — the backbone's
            inputs; `labels` (int32 [N, L], `ignore_label` where no tag is learnt) when
            `tags` is given; and the bookkeeping `decode` needs: `example_index` [N]
            (the sentence of the row), `num_words` [N], `word_index` [N, L] (-1 on
            special and padding tokens), `first_token` and `max_context` (bool [N, L]).
        """
        if tags is not None and len(tags) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag lists.")
        if documents is not None and len(documents) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(documents)} document ids.")
        L = self.sequence_length
        tok = self.tokenizer
        rows = {k: [] for k in ("token_ids", "padding_mask", "labels", "word_index",
                                "first_token", "max_context", "example_index", "num_words")}
        tokenized = [self.tokenize_words(words) for words in sentences]
        for n, words in enumerate(sentences):
            ids, token_word = tokenized[n]
            first = [k == 0 or token_word[k] != token_word[k - 1] for k in range(len(ids))]
            if tags is not None:
                word_labels = self._label_ids(words, tags[n], n)
                token_labels = []
                for k, w in enumerate(token_word):
                    if first[k]:
                        token_labels.append(word_labels[w])
                    elif self.label_all_subtokens:
                        token_labels.append(self._continuation_label(word_labels[w]))
                    else:
                        token_labels.append(self.ignore_label)
            windows = self._windows(len(ids))
            best = self._best_windows(windows, len(ids))
            for w, (start, length) in enumerate(windows):
                before, after = ([], []) if documents is None else self._context(
                    tokenized, documents, n, L - 2 - length, start == 0, start + length == len(ids))
                pad = L - 2 - length - len(before) - len(after)
                sl = slice(start, start + length)
                off_before, off_after = [False] * (len(before) + 1), [False] * (len(after) + pad + 1)
                rows["token_ids"].append([tok.cls_token_id] + before + ids[sl] + after + [tok.sep_token_id]
                                         + [tok.pad_token_id] * pad)
                rows["padding_mask"].append([1] * (L - pad) + [0] * pad)
                rows["word_index"].append([-1] * (len(before) + 1) + token_word[sl] + [-1] * (len(after) + pad + 1))
                rows["first_token"].append(off_before + first[sl] + off_after)
                rows["max_context"].append(off_before + list(best[sl] == w) + off_after)
                if tags is not None:
                    rows["labels"].append([self.ignore_label] * (len(before) + 1) + token_labels[sl]
                                          + [self.ignore_label] * (len(after) + pad + 1))
                rows["example_index"].append(n)
                rows["num_words"].append(len(words))
        features = {
            "token_ids": np.asarray(rows["token_ids"], np.int32).reshape(-1, L),
            "padding_mask": np.asarray(rows["padding_mask"], np.int32).reshape(-1, L),
            "word_index": np.asarray(rows["word_index"], np.int32).reshape(-1, L),
            "first_token": np.asarray(rows["first_token"], bool).reshape(-1, L),
            "max_context": np.asarray(rows["max_context"], bool).reshape(-1, L),
            "example_index": np.asarray(rows["example_index"], np.int32),
            "num_words": np.asarray(rows["num_words"], np.int32),
        }
        features["segment_ids"] = np.zeros_like(features["token_ids"])
        if tags is not None:
            features["labels"] = np.asarray(rows["labels"], np.int32).reshape(-1, L)
        return features

    @staticmethod
    def _context(tokenized, documents, n, room, left, right):
        """`(before, after)`: token ids of the sentences around sentence `n` in its
        document, at most `room` together, the nearest ones, half a side where both sides
        have that many; `left` / `right`: whether that side may take any."""
        before, after = [], []
        if documents[n] is None or room <= 0:
            return before, after
        k = n - 1
        while left and k >= 0 and documents[k] == documents[n] and len(before) < room:
            before = tokenized[k][0] + before
            k -= 1
        k = n + 1
        while right and k < len(tokenized) and documents[k] == documents[n] and len(after) < room:
            after = after + tokenized[k][0]
            k += 1
        take_after = min(len(after), max(room // 2, room - len(before)))
        take_before = min(len(before), room - take_after)
        return before[len(before) - take_before:], after[:take_after]

    def encode_texts(self, texts):
        """Encodes raw texts: splits each into words (`split_words`) and encodes them.

        Returns:
            `(features, words, spans)`: the features of `encode`, and per text its words
            and their character spans (for `entity_spans`).
        """
        words, spans = zip(*(self.split_words(t) for t in texts)) if texts else ((), ())
        return self.encode(list(words)), list(words), list(spans)

    # --- tokens → words -------------------------------------------------------------
    def decode(self, predictions, features, aggregation="first", constrained=True):
        """One tag per word of every sentence, from token predictions.

        Args:
            predictions: logits `[N, L, num_tags]` or tag ids `[N, L]`, one row per row
                of `features` (gold `labels` decode to the gold word tags), or a list of
                N such rows cut to their lengths (`predict_by_length`).
            features: the dict `encode` returned.
            aggregation: how a word's tag probabilities come from its sub-tokens, each
                read in the window where it has the most context: `"first"` (the first
                sub-token's: the paper), `"average"` (the sub-tokens' softmax
                probabilities averaged) or `"max"` (the sub-token whose best probability
                is highest), as Hugging Face's pipeline defines them; the last two need
                logits.
            constrained: from logits, the most probable valid IOB2 sequence of each
                sentence (`data.iob2_viterbi`: no `I-X` after `O` or another type);
                `False`: each word's arg-max. Tag ids are read as they are.

        Returns:
            A list (one per sentence) of lists of tag strings (one per word).
        """
        if aggregation not in ("first", "average", "max"):
            raise ValueError(f"decode: aggregation must be 'first', 'average' or 'max', got {aggregation!r}.")
        word_index = features["word_index"]
        if isinstance(predictions, (list, tuple)):
            rows = [np.asarray(row) for row in predictions]
            if len(rows) != len(word_index):
                raise ValueError(f"decode: {len(rows)} predicted rows for "
                                 f"{len(word_index)} feature rows.")
        else:
            rows = np.asarray(predictions)
            if rows.shape[:2] != word_index.shape:
                raise ValueError(
                    f"decode: predictions of shape {rows.shape} do not match the "
                    f"features' {word_index.shape}.")
        logits = [np.ndim(row) == 2 for row in rows]
        if len(set(logits)) > 1:
            raise ValueError("decode: some rows are logits and some tag ids.")
        if not all(logits) and aggregation != "first":
            raise ValueError(f"decode: aggregation {aggregation!r} needs logits, not tag ids.")
        num_examples = int(features["example_index"].max()) + 1 if len(word_index) else 0
        num_words = np.zeros(num_examples, np.int64)
        num_words[features["example_index"]] = features["num_words"]
        word_rows = [[] for _ in range(num_examples)]  # per sentence: (words, per-token rows)
        for row, example in enumerate(features["example_index"]):
            keep = features["max_context"][row]
            if aggregation == "first":
                keep = keep & features["first_token"][row]
            positions = np.flatnonzero(keep)
            word_rows[example].append((word_index[row, positions], rows[row][positions]))
        if logits and all(logits):
            log_probs = [self._word_log_probs(parts, n, aggregation, example)
                         for example, (parts, n) in enumerate(zip(word_rows, num_words))]
            if constrained:
                ragged = tf.RaggedTensor.from_row_lengths(
                    np.concatenate(log_probs or [np.zeros((0, len(self.tags)))]).astype(np.float32), num_words)
                ids = iob2_viterbi(ragged, self.tags).to_list()
            else:
                ids = [np.argmax(p, axis=-1) for p in log_probs]
        else:
            ids = [self._word_tag_ids(parts, n, example) for example, (parts, n) in enumerate(zip(word_rows, num_words))]
        return [[self.tags[i] for i in sentence] for sentence in ids]

    def _word_tag_ids(self, parts, num_words, example):
        ids = np.full(num_words, -1, np.int64)
        for words, tag_ids in parts:
            ids[words] = tag_ids
        bad = np.flatnonzero((ids < 0) | (ids >= len(self.tags)))
        if len(bad):
            raise ValueError(f"decode: sentence {example}, word {bad[0]}: tag id {ids[bad[0]]} is not "
                             f"in 0..{len(self.tags) - 1}.")
        return ids

    def _word_log_probs(self, parts, num_words, aggregation, example):
        """float64 [num_words, tags]: each word's tag log-probabilities from its tokens'
        logits by `aggregation`."""
        words = np.concatenate([w for w, _ in parts]) if parts else np.zeros(0, np.int64)
        logits = np.concatenate([p for _, p in parts]).astype(np.float64) if parts else np.zeros((0, len(self.tags)))
        if logits.shape[-1] != len(self.tags):
            raise ValueError(f"decode: sentence {example}: {logits.shape[-1]} logits a token for "
                             f"{len(self.tags)} tags.")
        shifted = logits - logits.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        counts = np.bincount(words, minlength=num_words)
        if (counts == 0).any():
            raise ValueError(f"decode: sentence {example}, word {np.flatnonzero(counts == 0)[0]} has no token "
                             f"in the features.")
        if aggregation == "average":  # log of the mean probability, as a log-sum-exp (no -inf)
            peak = np.full((num_words, len(self.tags)), -np.inf)
            np.maximum.at(peak, words, log_probs)
            total = np.zeros((num_words, len(self.tags)))
            np.add.at(total, words, np.exp(log_probs - peak[words]))
            return peak + np.log(total) - np.log(counts)[:, None]
        # "first": one token a word; "max": the word's first token of the highest best probability
        order = np.lexsort((np.arange(len(words)), -log_probs.max(-1), words))
        return log_probs[order[np.cumsum(counts) - counts]]


def entity_spans(tags, words=None, spans=None, separator=" "):
    """Entities of an IOB2 tag sequence (an `I-X` not continuing an `X` starts one, as in
    conlleval and seqeval's default mode).

    Args:
        tags: one tag per word.
        words: the words (to give each entity its text).
        spans: `(start, end)` character offsets of the words in the original text (to
            give each entity its character span).
        separator: joins the words of an entity when there are no spans (`""` for
            Chinese characters).

    Returns:
        A list of dicts `{"type", "start", "end"}` (word indices, end exclusive), plus
        `"text"` when `words` is given and `"char_start"`, `"char_end"` with `spans`.

    Example:
    >>> entity_spans(["B-PER", "I-PER", "O", "B-ORG"], list("ABCD"), separator="")
    [{'type': 'PER', 'start': 0, 'end': 2, 'text': 'AB'}, {'type': 'ORG', 'start': 3, 'end': 4, 'text': 'D'}]
    """
    entities = []
    current = None
    for i, tag in enumerate(list(tags) + ["O"]):
        kind = tag[2:] if tag != "O" else None
        continues = tag.startswith("I-") and current is not None and current["type"] == kind
        if current is not None and not continues:
            current["end"] = i
            entities.append(current)
            current = None
        if kind is not None and not continues:
            current = {"type": kind, "start": i}
    for entity in entities:
        if words is not None:
            entity["text"] = separator.join(words[entity["start"]:entity["end"]])
        if spans is not None:
            entity["char_start"] = spans[entity["start"]][0]
            entity["char_end"] = spans[entity["end"] - 1][1]
    return entities

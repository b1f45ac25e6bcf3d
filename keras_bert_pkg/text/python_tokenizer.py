"""The original BERT tokenizer in plain Python, with the character span of every token.

`PythonTokenizer` follows `tokenization.FullTokenizer` step by step on a Python `str`
(clean, split on whitespace, lower-case and strip accents, split punctuation and CJK
characters, greedy longest-match-first WordPiece) using the same `unicode_tables` as the
graph tokenizer, and gives each token the span of characters it came from. It is the
fast path for single strings in Python code (SQuAD features, NER alignment, data tools).

Example:
>>> tokens = ["[PAD]", "[UNK]", "the", "qu", "##ick", "!"]
>>> tokenizer = PythonTokenizer({t: i for i, t in enumerate(tokens)}, lowercase=True)
>>> tokenizer.encode_with_char_offsets("The quick!")
([2, 3, 4, 5], [(0, 3), (4, 6), (6, 9), (9, 10)])
"""

from keras_bert_pkg.text.unicode_tables import (CAPITAL_SIGMA, CJK, FINAL_SIGMA, OTHER, PUNCT,
                                                REMOVE, SIGMA_CASED, SIGMA_IGNORABLE,
                                                SMALL_SIGMA, SPACE, class_table,
                                                lowercase_tables)


class PythonTokenizer:
    """The original BERT tokenization of Python strings (module doc).

    Args:
        index: dict token → id (the vocabulary).
        lowercase: lower-case and strip accents (the "uncased" models).
        unk_token: the unknown token (in `index`).
        max_input_chars_per_word: longer words become `unk_token` (200 in the original).
    """

    def __init__(self, index, lowercase=True, unk_token="[UNK]", max_input_chars_per_word=200):
        self._index = index
        self._lowercase = bool(lowercase)
        self._unk_id = index[unk_token]
        self._max_chars = int(max_input_chars_per_word)
        self._classes = class_table()
        if self._lowercase:
            self._lower_map, self._sigma = lowercase_tables()

    def encode_with_char_offsets(self, text):
        """Tokenizes one `str` into `(ids, offsets)`, `offsets[i]` the `(start, end)`
        character span of token i in `text` (end exclusive). A sub-word piece spans its
        own characters, an unknown-token word spans the whole word; where lower casing
        turns one character into several (a Hangul syllable into its jamo), the pieces
        cut from it all span that character."""
        ids = []
        offsets = []
        for word, spans in self._words(text):
            for token_id, first, last in self._wordpiece(word):
                ids.append(token_id)
                offsets.append((spans[first][0], spans[last][1]))
        return ids, offsets

    def _words(self, text):
        """Basic tokenization of a str: a list of `(word, spans)`, where `spans[k]` is
        the character span in `text` of the k-th character of `word`."""
        classes = self._classes
        kept = []  # (code point, index in text, class)
        for i, ch in enumerate(text):
            cp = ord(ch)
            cls = classes[cp]
            if cls != REMOVE:
                kept.append((cp, i, cls))
        if self._lowercase:
            lower_map = self._lower_map
            chars = []
            for k, (cp, i, _) in enumerate(kept):
                if cp == CAPITAL_SIGMA:
                    cp = FINAL_SIGMA if self._final_sigma(kept, k) else SMALL_SIGMA
                mapped = lower_map.get(cp)
                if mapped is None:
                    chars.append((cp, i, classes[cp]))
                else:
                    chars.extend((m, i, classes[m]) for m in mapped)
        else:
            chars = kept
        words = []
        current = None
        previous = SPACE
        for cp, i, cls in chars:
            if cls == SPACE:
                previous = SPACE
                continue
            if cls == PUNCT or cls == CJK or previous != OTHER:
                current = ([], [])
                words.append(current)
            current[0].append(chr(cp))
            current[1].append((i, i + 1))
            previous = cls
        return [("".join(word), spans) for word, spans in words]

    def _final_sigma(self, kept, k):
        sigma = self._sigma

        def boundary(cls):
            return cls == SPACE or cls == CJK

        j = k - 1
        while j >= 0 and not boundary(kept[j][2]) and sigma[kept[j][0]] == SIGMA_IGNORABLE:
            j -= 1
        if j < 0 or boundary(kept[j][2]) or sigma[kept[j][0]] != SIGMA_CASED:
            return False
        j = k + 1
        while (
            j < len(kept)
            and not boundary(kept[j][2])
            and sigma[kept[j][0]] == SIGMA_IGNORABLE
        ):
            j += 1
        if j == len(kept) or boundary(kept[j][2]):
            return True
        return sigma[kept[j][0]] != SIGMA_CASED

    def _wordpiece(self, word):
        """Greedy longest-match-first WordPiece of one word.

        Returns a list of `(id, first char, last char)`, the chars indices into `word`.
        """
        index = self._index
        n = len(word)
        if n > self._max_chars:
            return [(self._unk_id, 0, n - 1)]
        pieces = []
        start = 0
        while start < n:
            end = n
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = index.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [(self._unk_id, 0, n - 1)]
            pieces.append((found, start, end - 1))
            start = end
        return pieces

    # -----------------------------------------------------------------------------------
    # Keras plumbing.

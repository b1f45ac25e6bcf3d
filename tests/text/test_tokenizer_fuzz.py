"""BertTokenizer on random text from the whole Unicode range.

- The 10,000 texts of `reference/tokenizer_fuzz_cases.json` (four vocabularies) with the
  ids the original `tokenization.FullTokenizer` gives under Python 3.11 / Unicode 14:
  both paths give them, with offsets inside the text and in order.
- Unassigned and private-use code points: the original keeps them as ordinary
  characters (its `_clean_text` drops only Cc and Cf), so a word holding one is [UNK]
  unless the vocabulary has it; which code points are unassigned follows the running
  Python's Unicode database, as the original's answer does.
- A property test (hypothesis, bounded) over every general category, combining and
  emoji sequences, controls and every kind of whitespace, long words and literal
  special tokens, checking what needs no reference: in-graph ids = Python-path ids, the
  graph's byte offsets = the Python path's character offsets, offsets inside the text
  and in order, and no crash on any string or byte sequence.
"""

import collections
import functools
import json
import unicodedata

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_bert_pkg.text import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

FUZZ_CASES = SHARED_DATA / "reference" / "tokenizer_fuzz_cases.json"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@functools.lru_cache(maxsize=None)
def _tokenizer(vocab, lowercase):
    return BertTokenizer(str(SHARED_DATA / vocab), lowercase=lowercase)


def _check_offsets(test, text, byte_starts, byte_ends, char_offsets):
    """Graph byte offsets = Python char offsets; inside the text; non-decreasing (the
    pieces of one character that expands, such as a Hangul syllable, share its span)."""
    byte_at = np.cumsum([0] + [len(ch.encode("utf-8")) for ch in text])
    test.assertEqual(byte_starts, [int(byte_at[s]) for s, _ in char_offsets], msg=repr(text))
    test.assertEqual(byte_ends, [int(byte_at[e]) for _, e in char_offsets], msg=repr(text))
    for k, (start, end) in enumerate(char_offsets):
        test.assertTrue(0 <= start < end <= len(text), msg=repr(text))
        if k:
            test.assertGreaterEqual(start, char_offsets[k - 1][0], msg=repr(text))
            test.assertGreaterEqual(end, char_offsets[k - 1][1], msg=repr(text))


@requires_shared_data
class FuzzCasesTest(TestCase):
    def test_every_fuzz_case_gives_the_original_ids_in_graph_and_in_python(self):
        with open(FUZZ_CASES, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        groups = collections.defaultdict(list)
        for case in cases:
            groups[case["vocab"], case["lowercase"]].append(case)
        checked = 0
        for (vocab, lowercase), group in groups.items():
            tokenizer = _tokenizer(vocab, lowercase)
            texts = [c["text"] for c in group]
            ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
            for case, g_ids, g_starts, g_ends in zip(group, ids.to_list(), starts.to_list(), ends.to_list()):
                p_ids, offsets = tokenizer.encode_with_char_offsets(case["text"])
                self.assertEqual(g_ids, case["ids"], msg=f"graph, {vocab}: {case['text']!r}")
                self.assertEqual(p_ids, case["ids"], msg=f"python, {vocab}: {case['text']!r}")
                _check_offsets(self, case["text"], g_starts, g_ends, offsets)
                checked += 1
        self.assertEqual(checked, 10000)
        self.assertGreater(sum(c["has_unassigned"] for c in cases), 4000)


class UnassignedCodePointsTest(TestCase):
    def test_unassigned_private_use_and_format_characters(self):
        tokenizer = BertTokenizer(SPECIALS + ["a", "b", "##b", "ab"])
        unassigned = next(chr(cp) for cp in range(0x378, 0x380) if unicodedata.category(chr(cp)) == "Cn")
        unk = tokenizer.unk_token_id
        cases = {
            f"a{unassigned}b": [unk],  # kept: the word cannot be covered
            "a\ue000b": [unk],  # private use (Co), kept
            "a\U000f0000 b": [unk, 6],  # plane-15 private use, kept
            f"\U00050000": [unk],  # unassigned, outside the scanned planes, kept
            "a\u200bb": [8],  # zero-width space (Cf): dropped, "ab"
            "a\x07b": [8],  # BEL (Cc): dropped
            "a\u2028b": [5, 6],  # line separator: str.split() splits on it
        }
        for text, expected in cases.items():
            self.assertEqual(tokenizer.encode(text), expected, msg=repr(text))
            self.assertEqual(tokenizer(tf.constant([text])).to_list(), [expected], msg=repr(text))


# --- property test -------------------------------------------------------------------
_CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
               "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"]
_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
_SEQUENCES = ["e\u0301", "\u1100\u1161\u11a8", "\U0001f469\u200d\U0001f4bb", "\U0001f1fa\U0001f1f8",
              "\U0001f44d\U0001f3fd", "\u0915\u094d\u0937", "\u03a3\u0345", "\u0130", "\ufb01", "\u00df"]
_pieces = st.one_of(
    st.characters(categories=_CATEGORIES),
    st.sampled_from(list(_WHITESPACE)),
    st.sampled_from(_SEQUENCES + SPECIALS + ["[MASK]x", "don't", "U.S.", "straße", "任正非", "華為"]),
    st.integers(190, 210).map(lambda n: "x" * n),
)
_texts = st.lists(_pieces, max_size=40).map("".join)


class TokenizerPropertyTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        vocab = str(UNCASED_VOCAB) if UNCASED_VOCAB.exists() else None
        cls.tokenizers = [BertTokenizer(vocab, lowercase=True) if vocab else
                          BertTokenizer(SPECIALS + ["a", "##a", "x", "##x", "e", "任", "正"], lowercase=True),
                          BertTokenizer(SPECIALS + ["a", "##a", "x", "##x", "E", "e"], lowercase=False)]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_texts, min_size=1, max_size=6))
    def test_graph_equals_python_with_offsets_in_order(self, texts):
        for tokenizer in self.tokenizers:
            ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
            for text, g_ids, g_starts, g_ends in zip(texts, ids.to_list(), starts.to_list(), ends.to_list()):
                p_ids, offsets = tokenizer.encode_with_char_offsets(text)
                self.assertEqual(g_ids, p_ids, msg=repr(text))
                _check_offsets(self, text, g_starts, g_ends, offsets)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.binary(max_size=60), min_size=1, max_size=6))
    def test_any_byte_sequence_tokenizes_in_graph(self, blobs):
        for tokenizer in self.tokenizers:
            ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(blobs))
            for blob, s, e in zip(blobs, starts.to_list(), ends.to_list()):
                self.assertTrue(all(0 <= a < b <= len(blob) for a, b in zip(s, e)), msg=repr(blob))
            self.assertEqual(ids.nrows(), len(blobs))

"""BertTokenizer against the original BERT tokenizer's ids, in-graph and in Python."""

import functools
import json
import os
import random
import tempfile
import unicodedata

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.text import BertTokenizer
from keras_bert_pkg.text import unicode_tables
from tests.test_case import CASED_VOCAB, SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

REFERENCE = SHARED_DATA / "reference" / "tokenizer_cases.json"
MULTILINGUAL_VOCAB = SHARED_DATA / "vocab" / "bert-base-multilingual-cased" / "vocab.txt"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@functools.lru_cache(maxsize=None)
def _cases():
    with open(REFERENCE, encoding="utf-8") as f:
        return json.load(f)["cases"]


@functools.lru_cache(maxsize=None)
def _tokenizer(vocab, lowercase):
    return BertTokenizer(str(SHARED_DATA / vocab), lowercase=lowercase)


def _groups():
    """The reference cases grouped by (vocabulary, lowercase)."""
    groups = {}
    for case in _cases():
        groups.setdefault((case["vocab"], case["lowercase"]), []).append(case)
    return groups


# A direct, independent rendering of the original algorithm (google-research/bert
# `tokenization.py`), used as the oracle on inputs the reference file does not cover.
def _oracle_words(text, lowercase):
    def is_control(ch):  # Cc and Cf only: unassigned and private-use code points stay
        return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf")

    def is_whitespace(ch):
        return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"

    def is_punctuation(ch):
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def is_cjk(cp):
        return any(lo <= cp <= hi for lo, hi in unicode_tables.CJK_RANGES)

    cleaned = "".join(
        " " if is_whitespace(ch) else ch
        for ch in text
        if ord(ch) not in (0, 0xFFFD) and not is_control(ch)
    )
    spaced = "".join(f" {ch} " if is_cjk(ord(ch)) else ch for ch in cleaned)
    words = []
    for token in spaced.split():
        if lowercase:
            token = unicodedata.normalize("NFD", token.lower())
            token = "".join(ch for ch in token if unicodedata.category(ch) != "Mn")
        current = []
        for ch in token:
            if is_punctuation(ch):
                words.extend(["".join(current), ch] if current else [ch])
                current = []
            else:
                current.append(ch)
        if current:
            words.append("".join(current))
    return " ".join(words).split()


def _oracle_ids(text, lowercase, vocab, max_chars=200):
    ids = []
    for word in _oracle_words(text, lowercase):
        if len(word) > max_chars:
            ids.append(vocab["[UNK]"])
            continue
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    start = end
                    break
            else:
                pieces = [vocab["[UNK]"]]
                break
        ids.extend(pieces)
    return ids


def _normalize(text, lowercase):
    """The per-character part of basic tokenization: cleaning, lower case, accents."""
    kept = "".join(
        ch
        for ch in text
        if ord(ch) not in (0, 0xFFFD)
        and (ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf"))
    )
    if lowercase:
        kept = unicodedata.normalize("NFD", kept.lower())
        kept = "".join(ch for ch in kept if unicodedata.category(ch) != "Mn")
    # A lone sigma out of its word cannot tell final from medial.
    return kept.replace("\u03c2", "\u03c3")


def _tricky_texts(count, seed):
    rng = random.Random(seed)
    pools = [
        range(0x20, 0x7F), range(0xA0, 0x250), range(0x300, 0x370), range(0x370, 0x530),
        range(0xAC00, 0xAC40), range(0x4E00, 0x4E20), range(0xFF00, 0xFF60),
        range(0x1F600, 0x1F610), range(0x1D400, 0x1D420), range(0x2000, 0x2070),
        range(0x10400, 0x10450), range(0xE0000, 0xE0080), range(0xE0100, 0xE0110),
        [0x3A3, 0x3C3, 0x3C2, 0x345, 0x2019, 0x27, 0x2E, 0xAD, 0x200B, 0x2028, 0x3000,
         0x130, 0xDF, 0x1E9E, 0xF900, 0x2F800, 0xFFFD, 0x0, 0x7, 0x85, 0x1C, 0x1FEF,
         0x37E, 0x1D15E, 0xBCA, 0x958, 0x2A6E0, 0xF0000, 0x50000],
    ]
    texts = [
        "ΟΔΟΣ ΣΑΣ Σ aΣb ΑΣ中 Α\u0301Σ Σ\u0345 ΑΣ.Β ΑΣ' ΑΣ'Β İstanbul STRASSE straße ẞ",
        "Ǆ ǅ ﬁ Ⅻ ⓐΣ ＡＢＣ　ｆｕｌｌ 한국어 텍스트 [MASK] [UNK] don't",
        "a" * 201 + " " + "b" * 200 + " é" * 3,
    ]
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(0, 30)):
            if rng.random() < 0.2:
                chars.append(" ")
            else:
                chars.append(chr(rng.choice(rng.choice(pools))))
        texts.append("".join(chars))
    return texts


@requires_shared_data
class BertTokenizerReferenceTest(TestCase):
    """Every reference case of the original FullTokenizer, both paths, with offsets."""

    def test_reference_ids_in_graph(self):
        matched = 0
        for (vocab, lowercase), cases in _groups().items():
            tokenizer = _tokenizer(vocab, lowercase)
            ids = tokenizer(tf.constant([c["text"] for c in cases]))
            self.assertIsInstance(ids, tf.RaggedTensor)
            self.assertEqual(ids.dtype, tf.int32)
            for case, got in zip(cases, ids.to_list()):
                self.assertEqual(got, case["ids"], msg=f"{vocab} {case['text']!r}")
                matched += 1
        self.assertEqual(matched, len(_cases()))
        self.assertEqual(matched, 642)

    def test_reference_ids_eager_python(self):
        matched = 0
        for case in _cases():
            tokenizer = _tokenizer(case["vocab"], case["lowercase"])
            self.assertEqual(tokenizer.encode(case["text"]), case["ids"], msg=case["text"])
            matched += 1
        self.assertEqual(matched, 642)

    def test_reference_offsets(self):
        for (vocab, lowercase), cases in _groups().items():
            tokenizer = _tokenizer(vocab, lowercase)
            texts = [c["text"] for c in cases]
            graph_ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
            rows = zip(cases, graph_ids.to_list(), starts.to_list(), ends.to_list())
            for case, g_ids, g_starts, g_ends in rows:
                text = case["text"]
                ids, offsets = tokenizer.encode_with_char_offsets(text)
                self.assertEqual(ids, case["ids"])
                self.assertEqual(g_ids, case["ids"])
                # The graph's byte offsets are the same spans as the char offsets.
                byte_at = np.cumsum([0] + [len(ch.encode("utf-8")) for ch in text])
                self.assertEqual(g_starts, [int(byte_at[s]) for s, _ in offsets], msg=text)
                self.assertEqual(g_ends, [int(byte_at[e]) for _, e in offsets], msg=text)
                self._check_spans(tokenizer, text, ids, offsets, lowercase)

    def _check_spans(self, tokenizer, text, ids, offsets, lowercase):
        previous_end = 0
        for token_id, (start, end) in zip(ids, offsets):
            self.assertLess(start, end)
            self.assertGreaterEqual(start, previous_end, msg=text)  # in order, disjoint
            previous_end = end
            span = _normalize(text[start:end], lowercase)
            token = tokenizer.id_to_token(token_id)
            if token_id == tokenizer.unk_token_id:
                # A whole word that the vocabulary cannot cover.
                self.assertEqual(len(_oracle_words(text[start:end], lowercase)), 1)
                self.assertEqual(_oracle_words(text[start:end], lowercase)[0].replace(
                    "\u03c2", "\u03c3"), span)
            else:
                piece = token[2:] if token.startswith("##") else token
                self.assertEqual(span, _normalize(piece, False), msg=text)
        # Characters outside every span normalise to nothing but whitespace.
        covered = set()
        for start, end in offsets:
            covered.update(range(start, end))
        rest = "".join(ch for i, ch in enumerate(text) if i not in covered)
        self.assertEqual(_normalize(rest, lowercase).split(), [], msg=text)


class BertTokenizerOracleTest(TestCase):
    """Inputs beyond the reference file (case folding, sigma, marks, planes) against an
    independent rendering of the original algorithm."""

    @requires_shared_data
    def test_matches_original_algorithm_on_tricky_text(self):
        texts = _tricky_texts(300, seed=0)
        for vocab, lowercase in (
            (UNCASED_VOCAB, True),
            (MULTILINGUAL_VOCAB, False),
            (MULTILINGUAL_VOCAB, True),
        ):
            tokenizer = _tokenizer(str(vocab.relative_to(SHARED_DATA)), lowercase)
            index = {t: i for i, t in enumerate(tokenizer.get_vocabulary())}
            expected = [_oracle_ids(t, lowercase, index) for t in texts]
            self.assertEqual(tokenizer(texts).to_list(), expected)
            self.assertEqual([tokenizer.encode(t) for t in texts], expected)

    def test_final_sigma_and_case_folding(self):
        final_word = "\u03bf\u03c3\u03bf\u03c2"  # medial sigma, then final sigma
        tokenizer = BertTokenizer(
            SPECIALS + [final_word, "\u03c3", "\u03b1\u03c2", "\u03b1", ".", "i",
                        "##stanbul", "strasse", "stra\u00dfe"]
        )
        cases = {
            "\u039f\u03a3\u039f\u03a3": [final_word],
            "\u03a3": ["\u03c3"],  # nothing cased before it
            "\u0391\u03a3": ["\u03b1\u03c2"],
            # "." is case-ignorable and is split off only after lower casing.
            "\u0391\u03a3.": ["\u03b1\u03c2", "."],
            "\u0391\u03a3.\u0391": ["[UNK]", ".", "\u03b1"],  # "ασ" is not in the vocab
            "\u0130stanbul": ["i", "##stanbul"],  # dotted capital I: "i" + a dropped mark
            # str.lower() keeps "ß" (NFKC case folding would give "ss").
            "STRASSE Stra\u00dfe": ["strasse", "stra\u00dfe"],
        }
        for text, tokens in cases.items():
            self.assertEqual(tokenizer.tokenize_to_strings(text), tokens, msg=text)
        texts = list(cases)
        self.assertEqual(tokenizer(texts).to_list(), [tokenizer.encode(t) for t in texts])


class BertTokenizerLayerTest(TestCase):
    def setUp(self):
        super().setUp()
        self.tokenizer = BertTokenizer(
            SPECIALS + ["the", "qu", "##ick", "!", "fox", "é", "##s"], lowercase=True
        )

    def test_shapes_and_inputs(self):
        tok = self.tokenizer
        scalar = tok(tf.constant("The quick fox!"))
        self.assertIsInstance(scalar, tf.Tensor)
        self.assertEqual(scalar.shape.rank, 1)
        self.assertEqual(scalar.dtype, tf.int32)
        self.assertEqual(scalar.numpy().tolist(), [5, 6, 7, 9, 8])
        self.assertEqual(tok("The quick fox!").numpy().tolist(), [5, 6, 7, 9, 8])
        batch = tok(["The", "", "fox foxs"])
        self.assertEqual(batch.to_list(), [[5], [], [9, 9, 11]])
        self.assertEqual(tok.tokenize(["fox"]).to_list(), [[9]])
        self.assertEqual(tok(tf.constant([], tf.string)).to_list(), [])
        with self.assertRaisesRegex(ValueError, "1-D batch"):
            tok(tf.constant([["a"]]))
        with self.assertRaisesRegex(ValueError, "strings"):
            tok(tf.constant([1, 2]))

    def test_offsets(self):
        text = "  Thé quick! dog"
        ids, starts, ends = self.tokenizer.tokenize_with_offsets(text)
        self.assertEqual(ids.numpy().tolist(), [5, 6, 7, 8, 1])
        self.assertEqual(starts.numpy().tolist(), [2, 7, 9, 12, 14])  # bytes
        self.assertEqual(ends.numpy().tolist(), [6, 9, 12, 13, 17])
        ids, spans = self.tokenizer.encode_with_char_offsets(text)
        self.assertEqual(ids, [5, 6, 7, 8, 1])
        self.assertEqual(spans, [(2, 5), (6, 8), (8, 11), (11, 12), (13, 16)])
        batch_ids, batch_starts, _ = self.tokenizer.tokenize_with_offsets([text, "fox"])
        self.assertEqual(batch_starts.to_list(), [[2, 7, 9, 12, 14], [0]])

    def test_vocabulary_api(self):
        tok = self.tokenizer
        self.assertEqual(tok.vocabulary_size(), 12)
        self.assertEqual(tok.get_vocabulary()[5], "the")
        self.assertEqual(tok.id_to_token(7), "##ick")
        self.assertEqual(tok.token_to_id("fox"), 9)
        self.assertEqual(
            (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id,
             tok.mask_token_id),
            (0, 1, 2, 3, 4),
        )
        with self.assertRaisesRegex(ValueError, "'dog'"):
            tok.token_to_id("dog")
        with self.assertRaisesRegex(ValueError, "out of range"):
            tok.id_to_token(12)
        # Literal "[MASK]" in text is split like any text, as in the original.
        self.assertEqual(tok.tokenize_to_strings("[MASK]"), ["[UNK]", "[UNK]", "[UNK]"])
        self.assertEqual(tok.tokenize_to_strings(["fox!", "the"]),
                         [["fox", "!"], ["the"]])

    def test_decode_and_detokenize(self):
        tok = self.tokenizer
        ids = tok.encode("The quick fox!")
        self.assertEqual(tok.decode(ids), "the quick fox !")
        self.assertEqual(tok.decode([ids, [9]]), ["the quick fox !", "fox"])
        self.assertEqual(tok.detokenize(tf.constant(ids)).numpy().decode(), "the quick fox !")
        out = tok.detokenize(tok(["The quick", "fox"]))
        self.assertEqual([s.decode() for s in out.numpy()], ["the quick", "fox"])

    @requires_shared_data
    def test_in_tf_data(self):
        tok = _tokenizer("vocab/bert-base-uncased/vocab.txt", True)
        texts = [c["text"] for c in _cases() if c["lowercase"]][:40]
        batched = tf.data.Dataset.from_tensor_slices(texts).batch(16).map(tok)
        got = [row for batch in batched for row in batch.to_list()]
        self.assertEqual(got, [tok.encode(t) for t in texts])
        single = tf.data.Dataset.from_tensor_slices(texts[:5]).map(tok)
        self.assertEqual([x.numpy().tolist() for x in single],
                         [tok.encode(t) for t in texts[:5]])

    @requires_shared_data
    def test_config_round_trip_leaves_the_vocabulary_to_the_asset(self):
        tok = _tokenizer("vocab/bert-base-cased/vocab.txt", False)
        config = tok.get_config()
        self.assertIsNone(config["vocabulary"])  # saved as assets/.../vocabulary.txt instead
        self.assertFalse(config["lowercase"])
        json.dumps(keras.saving.serialize_keras_object(tok))
        revived = self.run_serialization_test(tok)
        with self.assertRaisesRegex(ValueError, "has no vocabulary yet"):
            revived("x")
        revived.set_vocabulary(tok.get_vocabulary())
        text = ["Hello World, naïve Straße!", "x"]
        self.assertEqual(revived(text).to_list(), tok(text).to_list())

    @requires_shared_data
    def test_keras_file_round_trip(self):
        tokenizer = _tokenizer("vocab/bert-base-uncased/vocab.txt", True)
        model = _PaddedIds(tokenizer)
        texts = tf.constant(["Hello world, this is BERT!", "naïve Straße ΟΔΟΣ"])
        expected = model(texts).numpy()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tokenizer.keras")
            model.save(path)
            loaded = keras.models.load_model(path)
        self.assertIsInstance(loaded.tokenizer, BertTokenizer)
        np.testing.assert_array_equal(loaded(texts).numpy(), expected)

    @requires_shared_data
    def test_saved_model_round_trip(self):
        tokenizer = _tokenizer("vocab/bert-base-cased/vocab.txt", False)
        module = tf.Module()
        module.tokenizer = tokenizer
        module.serve = tf.function(
            lambda x: tokenizer(x).to_tensor(),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )
        texts = tf.constant(["Hello world, this is BERT!", "naïve 中文 text"])
        expected = module.serve(texts).numpy()
        with tempfile.TemporaryDirectory() as tmp:
            tf.saved_model.save(module, tmp)
            loaded = tf.saved_model.load(tmp)
            np.testing.assert_array_equal(loaded.serve(texts).numpy(), expected)


@keras.saving.register_keras_serializable(package="keras_bert_pkg_tests")
class _PaddedIds(keras.Model):
    """A tiny model wrapping the tokenizer: strings → padded ids."""

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def call(self, x):
        return self.tokenizer(x).to_tensor()

    def build_from_config(self, config):
        self.built = True  # nothing to build: the tokenizer has no weights

    def get_config(self):
        config = super().get_config()
        config["tokenizer"] = keras.saving.serialize_keras_object(self.tokenizer)
        return config

    @classmethod
    def from_config(cls, config):
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


class BertTokenizerErrorTest(TestCase):
    def test_missing_file(self):
        with self.assertRaisesRegex(FileNotFoundError, "no/such/vocab.txt"):
            BertTokenizer("no/such/vocab.txt")

    def test_empty_vocabulary(self):
        with self.assertRaisesRegex(ValueError, "empty"):
            BertTokenizer([])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocab.txt")
            open(path, "w").close()
            with self.assertRaisesRegex(ValueError, "empty"):
                BertTokenizer(path)

    def test_duplicate_token(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(SPECIALS + ["a", "b", "a"]) + "\n")
            with self.assertRaisesRegex(ValueError, r"'a' at line 8 .*first at line 6"):
                BertTokenizer(path)

    def test_missing_special_token(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocab.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write("[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
            with self.assertRaisesRegex(ValueError, r"'\[UNK\]'.*vocab\.txt"):
                BertTokenizer(path)

    def test_bad_vocabulary_type(self):
        with self.assertRaisesRegex(ValueError, "path of a vocab.txt or a list"):
            BertTokenizer(42)

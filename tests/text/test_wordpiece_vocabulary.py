import pytest

from keras_bert_pkg.data.conll import read_bio
from keras_bert_pkg.data.pretraining_documents import WIKITEXT_UNKNOWN, read_text_documents
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from keras_bert_pkg.text.wordpiece_vocabulary import build_wordpiece_vocabulary, special_token_layout
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

pytestmark = requires_shared_data

WIKITEXT = SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens"


class VocabularyTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        docs = read_text_documents(str(WIKITEXT))
        cls.train = [s.replace(WIKITEXT_UNKNOWN, " ") for d in docs[:4] for s in d]
        cls.held_out = [s.replace(WIKITEXT_UNKNOWN, " ") for s in docs[5]]

    def test_google_layout(self):
        vocab = build_wordpiece_vocabulary(self.train, 1000)
        self.assertLessEqual(len(vocab), 1000)
        self.assertEqual(len(set(vocab)), len(vocab))
        # The special ids of Google's vocabularies.
        self.assertEqual([vocab.index(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")],
                         [0, 100, 101, 102, 103])
        self.assertEqual(vocab[1:100], [f"[unused{i}]" for i in range(99)])
        tokenizer = BertTokenizer(vocab)
        self.assertEqual((tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.mask_token_id), (0, 101, 103))
        # Learned pieces cover unseen text of the same corpus with few unknowns.
        ids = [i for s in self.held_out for i in tokenizer.encode(s)]
        self.assertGreater(len(ids), 500)
        self.assertLess(ids.count(tokenizer.unk_token_id) / len(ids), 0.02)
        self.assertTrue(all(t == t.lower() for t in vocab[104:]))

    def test_compact_layout_and_errors(self):
        vocab = build_wordpiece_vocabulary(self.train[:200], 300, num_unused=0, lowercase=False)
        self.assertEqual(vocab[:5], special_token_layout(0))
        self.assertTrue(any(t != t.lower() for t in vocab))  # cased
        with self.assertRaisesRegex(ValueError, "no room"):
            build_wordpiece_vocabulary(self.train, 50)
        with self.assertRaisesRegex(ValueError, "no text"):
            build_wordpiece_vocabulary(["", "  "], 500)

    def test_chinese_vocabulary_keeps_every_character(self):
        """MSRA's text: every character of it gets an id (the learner alone keeps 1,000
        distinct characters), none has a `##` twin, and held-out text has few [UNK]."""
        sentences = ["".join(s.words) for s in read_bio(SHARED_DATA / "ner" / "msra" / "train.txt",
                                                        scheme="bmes")[:6000]]
        train, held_out = sentences[:5000], sentences[5000:]
        characters = {c for s in train for c in s if "\u4e00" <= c <= "\u9fff"}
        self.assertGreater(len(characters), 2000)
        vocab = build_wordpiece_vocabulary(train, 8000, num_unused=0)
        self.assertLess(len(vocab), 8000)
        self.assertEqual(characters - set(vocab), set())
        self.assertFalse([t for t in vocab if t.startswith("##") and "\u4e00" <= t[2:] <= "\u9fff"])
        tokenizer = BertTokenizer(vocab)
        ids = [i for s in held_out for i in tokenizer.encode(s)]
        self.assertLess(ids.count(tokenizer.unk_token_id) / len(ids), 0.01)
        # A tight size keeps the learned pieces and the most frequent characters.
        small = build_wordpiece_vocabulary(train, 1500, num_unused=0)
        self.assertEqual(len(small), 1500)
        self.assertIn("的", small)

    @pytest.mark.slow  # three vocabularies learned: about 40 s
    def test_characters_are_kept_before_learned_pieces_when_the_size_is_tight(self):
        """Mixed English and Chinese text at a size the learned pieces alone would fill:
        multi-character pieces make room for every character of the text."""
        english = self.train[:300]
        chinese = ["".join(s.words) for s in read_bio(SHARED_DATA / "ner" / "msra" / "train.txt",
                                                      scheme="bmes")[:300]]
        characters = {c for s in chinese for c in s if "\u4e00" <= c <= "\u9fff"}
        roomy = build_wordpiece_vocabulary(english + chinese, 8000, num_unused=0)
        pieces = [t for t in roomy if len(t.removeprefix("##")) > 1 and not t.startswith("[")]
        self.assertGreater(len(pieces), 100)
        size = len(roomy) - len(pieces) + 10  # room for 10 of the learned pieces
        vocab = build_wordpiece_vocabulary(english + chinese, size, num_unused=0)
        self.assertLessEqual(len(vocab), size)
        self.assertEqual(characters - set(vocab), set())
        self.assertLess(len([t for t in vocab if t in pieces]), len(pieces))

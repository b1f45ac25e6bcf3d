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

"""Word ↔ WordPiece alignment on the real CoNLL-2003 validation set, and Chinese."""

import functools

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

from keras_bert_pkg.data.conll import read_conll, tag_list
from keras_bert_pkg.data.length_bucketing import FEATURE_KEYS, bucketed_dataset, padded_to_ragged
from keras_bert_pkg.data.token_alignment import TokenAligner, entity_spans
from keras_bert_pkg.metrics.masked_token_accuracy import IGNORE_LABEL
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import CHINESE_VOCAB, SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data

CONLL = SHARED_DATA / "ner" / "conll2003"


@functools.lru_cache(maxsize=None)
def valid():
    return read_conll(CONLL / "valid.txt")


@functools.lru_cache(maxsize=None)
def tokenizer(path=str(UNCASED_VOCAB)):
    return BertTokenizer(path)


def aligner(**kwargs):
    return TokenAligner(tokenizer(), tag_list(valid()), **kwargs)


class TokenAlignerTest(TestCase):
    def test_round_trip_every_validation_sentence(self):
        sentences = valid()
        words = [s.words for s in sentences]
        gold = [s.tags for s in sentences]
        for kwargs, expect_split in (({"sequence_length": 128}, True),
                                     ({"sequence_length": 24, "stride": 7}, True)):
            a = aligner(**kwargs)
            features = a.encode(words, gold)
            num_split = len(features["example_index"]) - len(sentences)
            if expect_split:
                self.assertGreater(num_split, 0)  # some sentences need several windows
            decoded = a.decode(features["labels"], features)
            self.assertEqual(len(decoded), len(sentences))
            for i, (d, g) in enumerate(zip(decoded, gold)):
                self.assertEqual(d, g, msg=f"sentence {i} ({kwargs})")

    def test_tokens_match_per_word_encoding_and_first_subtoken_labels(self):
        a = aligner(sequence_length=512)
        tok = tokenizer()
        sentences = valid()[:400]
        features = a.encode([s.words for s in sentences], [s.tags for s in sentences])
        self.assertEqual(len(features["token_ids"]), len(sentences))
        multi_piece_words = 0
        for row, s in enumerate(sentences):
            expected_ids, expected_labels = [], []
            for word, tag in zip(s.words, s.tags):
                pieces = tok.encode(word) or [tok.unk_token_id]
                multi_piece_words += len(pieces) > 1
                expected_ids += pieces
                expected_labels += [a.tag_ids[tag]] + [IGNORE_LABEL] * (len(pieces) - 1)
            n = len(expected_ids)
            self.assertEqual(features["token_ids"][row, 1:n + 1].tolist(), expected_ids)
            self.assertEqual(features["token_ids"][row, 0], tok.cls_token_id)
            self.assertEqual(features["token_ids"][row, n + 1], tok.sep_token_id)
            self.assertEqual(features["labels"][row, 1:n + 1].tolist(), expected_labels)
            self.assertTrue(np.all(features["labels"][row, n + 1:] == IGNORE_LABEL))
            self.assertEqual(features["labels"][row, 0], IGNORE_LABEL)
            self.assertEqual(int(features["padding_mask"][row].sum()), n + 2)
        self.assertGreater(multi_piece_words, 100)

    def test_label_all_subtokens(self):
        a = aligner(label_all_subtokens=True)
        tok = tokenizer()
        s = next(s for s in valid() for w, t in zip(s.words, s.tags)
                 if t.startswith("B-") and len(tok.encode(w)) > 1)
        features = a.encode([s.words], [s.tags])
        labels = features["labels"][0]
        word_index = features["word_index"][0]
        for position in np.flatnonzero(word_index >= 0):
            tag = s.tags[word_index[position]]
            if features["first_token"][0, position]:
                self.assertEqual(a.tags[labels[position]], tag)
            else:
                self.assertEqual(a.tags[labels[position]], "I-" + tag[2:] if tag != "O" else "O")
        self.assertEqual(a.decode(labels[None], features), [s.tags])

    def test_windows_cover_every_token_once(self):
        a = aligner(sequence_length=16, stride=5)
        s = max(valid(), key=lambda s: len(s.words))
        ids, token_word = a.tokenize_words(s.words)
        features = a.encode([s.words], [s.tags])
        rows = len(features["token_ids"])
        self.assertGreater(rows, 3)
        best = features["max_context"] & (features["word_index"] >= 0)
        self.assertEqual(int(best.sum()), len(ids))  # each token read from one window
        starts = [list(features["token_ids"][r, 1:15]) for r in range(rows)]
        for r in range(rows - 1):  # consecutive windows start 5 tokens apart
            self.assertEqual(starts[r][5:], starts[r + 1][:9])
        self.assertTrue(np.all(features["padding_mask"].sum(-1) <= 16))

    def test_decode_from_logits_uses_max_context_window(self):
        a = aligner(sequence_length=12, stride=4)
        s = max(valid()[:300], key=lambda s: len(s.words))
        features = a.encode([s.words], [s.tags])
        logits = np.zeros(features["token_ids"].shape + (len(a.tags),), np.float32)
        # Every window predicts B-PER everywhere, except where it holds its tokens' best
        # context: there it predicts the gold. The decoder must read only the latter.
        logits[..., a.tag_ids["B-PER"]] = 1.0
        rows, positions = np.nonzero(features["max_context"])
        labels = features["labels"][rows, positions]
        keep = labels != IGNORE_LABEL
        logits[rows[keep], positions[keep], labels[keep]] = 5.0
        self.assertGreater(len(features["token_ids"]), 2)
        self.assertEqual(a.decode(logits, features), [s.tags])

    def test_document_context_fills_windows_from_the_same_document_only(self):
        sentences = valid()
        words, gold = [s.words for s in sentences], [s.tags for s in sentences]
        documents = [s.document for s in sentences]
        self.assertGreater(len(set(documents)), 100)  # CoNLL's -DOCSTART- documents
        a = aligner(sequence_length=48, stride=20)
        alone = a.encode(words, gold)
        features = a.encode(words, gold, documents=documents)
        # the same windows, the same labelled tokens, gold decodes back unchanged
        self.assertEqual(features["example_index"].tolist(), alone["example_index"].tolist())
        for key in ("labels", "word_index", "first_token", "max_context"):
            own = features["word_index"] >= 0
            self.assertEqual(features[key][own].tolist(), alone[key][alone["word_index"] >= 0].tolist(), key)
        self.assertEqual(a.decode(features["labels"], features), gold)
        tokens = [a.tokenize_words(w)[0] for w in words]
        filled = 0
        for row, n in enumerate(features["example_index"]):
            own = np.flatnonzero(features["word_index"][row] >= 0)
            length = int(features["padding_mask"][row].sum())
            before = features["token_ids"][row, 1:own[0]].tolist()
            after = features["token_ids"][row, own[-1] + 1:length - 1].tolist()
            self.assertTrue(np.all(features["labels"][row, :own[0]] == IGNORE_LABEL))
            self.assertTrue(np.all(features["labels"][row, own[-1] + 1:] == IGNORE_LABEL))
            same = [k for k in range(len(words)) if documents[k] == documents[n]]
            earlier = sum((tokens[k] for k in same if k < n), [])
            later = sum((tokens[k] for k in same if k > n), [])
            rows_of_n = np.flatnonzero(features["example_index"] == n)
            if row != rows_of_n[0]:  # a later window of a long sentence: no context before
                earlier = []
            if row != rows_of_n[-1]:
                later = []
            self.assertEqual(before, earlier[len(earlier) - len(before):], f"row {row}")
            self.assertEqual(after, later[:len(after)], f"row {row}")
            if len(earlier) + len(later) + len(own) >= 46:  # room to spare is filled
                self.assertEqual(length, 48, f"row {row}")
                filled += bool(before or after)
            if len(earlier) > len(before) and len(later) > len(after):  # shared half and half
                self.assertLessEqual(abs(len(before) - len(after)), 1, f"row {row}")
        self.assertGreater(filled, len(sentences) // 2)
        none = a.encode(words[:3], gold[:3], documents=[None, None, None])
        self.assertEqual(none["token_ids"].tolist(), a.encode(words[:3], gold[:3])["token_ids"].tolist())
        with self.assertRaisesRegex(ValueError, "3 sentences but 2 document ids"):
            a.encode(words[:3], documents=documents[:2])

    def test_entity_spans_match_seqeval(self):
        for s in valid()[:1000]:
            ours = [(e["type"], e["start"], e["end"] - 1) for e in entity_spans(s.tags)]
            self.assertEqual(ours, get_entities(s.tags))
        spans = entity_spans(["I-PER", "I-PER", "B-PER", "I-LOC", "O"], list("abcde"), separator="")
        self.assertEqual([(e["type"], e["text"]) for e in spans],
                         [("PER", "ab"), ("PER", "c"), ("LOC", "d")])

    def test_split_words_and_encode_texts(self):
        a = aligner()
        text = "Peter Blackburn's  rejects   the EU's call, in BRUSSELS."
        words, spans = a.split_words(text)
        self.assertEqual(words, ["Peter", "Blackburn", "'", "s", "rejects", "the", "EU",
                                 "'", "s", "call", ",", "in", "BRUSSELS", "."])
        self.assertEqual([text[s:e] for s, e in spans], words)
        features, text_words, text_spans = a.encode_texts([text, ""])
        self.assertEqual(text_words[0], words)
        self.assertEqual(text_words[1], [])
        self.assertEqual(len(features["example_index"]), 2)
        decoded = a.decode(features["first_token"].astype(int) * 0, features)
        self.assertEqual(decoded, [["O"] * len(words), []])

    def test_chinese_sentence_through_aligner_and_hand_set_logits(self):
        zh = tokenizer(str(CHINESE_VOCAB))
        sentence = "任正非是華為的創始人"
        ids = zh.encode(sentence)
        self.assertEqual(len(ids), len(sentence))  # one token per character...
        self.assertNotIn(zh.unk_token_id, ids)     # ...and the traditional ones are known
        self.assertEqual([zh.id_to_token(i) for i in ids], list(sentence))
        tags = ["O", "B-PERSON", "I-PERSON", "B-ORGANIZATION", "I-ORGANIZATION"]
        a = TokenAligner(zh, tags, sequence_length=16)
        words, spans = a.split_words(sentence)
        self.assertEqual(words, list(sentence))
        features = a.encode([words])
        gold = ["B-PERSON", "I-PERSON", "I-PERSON", "O", "B-ORGANIZATION",
                "I-ORGANIZATION", "O", "O", "O", "O"]
        logits = np.random.default_rng(0).normal(size=(1, 16, len(tags))).astype("float32")
        for k, tag in enumerate(gold):
            logits[0, k + 1, a.tag_ids[tag]] = 10.0  # position 0 is [CLS]
        decoded = a.decode(logits, features)[0]
        self.assertEqual(decoded, gold)
        entities = entity_spans(decoded, words, spans, separator="")
        self.assertEqual(
            [(e["type"], e["text"], sentence[e["char_start"]:e["char_end"]]) for e in entities],
            [("PERSON", "任正非", "任正非"), ("ORGANIZATION", "華為", "華為")])
        # 任 a shade surer I-PERSON than B-PERSON, 華 I-ORGANIZATION after O: the arg-max is
        # ill-formed, the constrained decoding takes the valid runner-up
        logits[0, 1, a.tag_ids["I-PERSON"]] = 10.5
        logits[0, 5, a.tag_ids["I-ORGANIZATION"]] = 10.5
        argmax = a.decode(logits, features, constrained=False)[0]
        self.assertEqual((argmax[0], argmax[4]), ("I-PERSON", "I-ORGANIZATION"))
        self.assertEqual(a.decode(logits, features)[0], gold)
        self.assertEqual(a.decode(logits, features, aggregation="max")[0], gold)

    def test_empty_word_gets_unk_and_errors(self):
        a = aligner()
        ids, token_word = a.tokenize_words(["EU", "\u200b", "rejects"])
        self.assertEqual(token_word, [0, 1, 2])
        self.assertEqual(ids[1], tokenizer().unk_token_id)
        with self.assertRaisesRegex(ValueError, "sentence 0: tag 'B-FOO'"):
            a.encode([["EU"]], [["B-FOO"]])
        with self.assertRaisesRegex(ValueError, "sentence 0: 1 words but 2 tags"):
            a.encode([["EU"]], [["O", "O"]])
        with self.assertRaisesRegex(ValueError, "stride"):
            TokenAligner(tokenizer(), ["O"], sequence_length=10, stride=9)

    def test_bucketed_training_batches_keep_every_row_and_label(self):
        a = aligner()
        sentences = valid()[:200]
        features = padded_to_ragged(a.encode([s.words for s in sentences], [s.tags for s in sentences]),
                                    FEATURE_KEYS + ("labels",))
        seen = 0
        inputs = {key: features[key] for key in FEATURE_KEYS}
        for x, y in bucketed_dataset(inputs, features["labels"], batch_size=16, max_length=128, seed=3):
            lengths = x["padding_mask"].numpy().sum(-1)
            self.assertEqual(x["token_ids"].shape[1], lengths.max())
            self.assertEqual(y.shape, x["token_ids"].shape)
            labels = y.numpy()
            for row, n in enumerate(lengths):
                self.assertTrue(np.all(labels[row, n:] == IGNORE_LABEL))
            seen += len(y)
        self.assertEqual(seen, int(features["token_ids"].nrows()))

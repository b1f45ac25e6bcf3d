import numpy as np
from official.nlp.tools.squad_evaluate_v1_1 import _normalize_answer

from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.length_bucketing import bucketed_dataset, default_boundaries
from keras_bert_pkg.data.squad_features import (
    answer_token_span, convert_examples_to_features, squad_labels, squad_ragged_features)
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data

SQUAD = SHARED_DATA / "squad"
_TOKENIZER = []


def tokenizer():
    if not _TOKENIZER:
        _TOKENIZER.append(BertTokenizer(UNCASED_VOCAB))
    return _TOKENIZER[0]


def cut(example, feature, start, end):
    return example.context_text[feature.token_to_char[start][0]:feature.token_to_char[end][1]]


class SquadFeaturesTest(TestCase):
    def check_labels_cut_back_answers(self, version):
        examples = read_squad_examples(SQUAD / version / "train.json", is_training=True)
        stats = {}
        features = convert_examples_to_features(
            examples, tokenizer(), max_seq_length=384, doc_stride=128, max_query_length=64,
            is_training=True, stats=stats)
        answerable = sum(not e.is_impossible for e in examples)
        self.assertEqual(stats["answerable"], answerable)
        # Every answerable question is labelled in at least one window.
        self.assertEqual(stats["answer_in_some_window"], answerable)
        self.assertEqual(stats["answer_not_tokenized"], 0)
        exact = normalised = labelled = 0
        for f in features:
            example = examples[f.example_index]
            if f.start_position == 0:
                self.assertEqual(f.end_position, 0)
                continue
            labelled += 1
            text = cut(example, f, f.start_position, f.end_position)
            # The span always covers the answer, and is the smallest token span that does.
            self.assertIn(example.answer_text, text)
            self.assertLessEqual(f.token_to_char[f.start_position][0], example.answer_start)
            self.assertGreater(f.token_to_char[f.start_position][1], example.answer_start)
            self.assertGreaterEqual(f.token_to_char[f.end_position][1], example.answer_end)
            self.assertLess(f.token_to_char[f.end_position][0], example.answer_end)
            exact += text == example.answer_text
            normalised += _normalize_answer(text) == _normalize_answer(example.answer_text)
        print(f"SQuAD {version} train: {labelled} labelled windows, exact cut-back "
              f"{exact / labelled:.4%}, normalised-equal {normalised / labelled:.4%}")
        # The misses are answers that start or end inside a WordPiece token (e.g. "ten"
        # in "contenders"); the original BERT features lose the same ones.
        self.assertGreater(exact / labelled, 0.99)
        return examples, features

    def test_v1_1_labels_cut_back_answers(self):
        self.check_labels_cut_back_answers("v1.1")

    def test_v2_0_labels_cut_back_answers_and_impossible_point_at_cls(self):
        examples, features = self.check_labels_cut_back_answers("v2.0")
        impossible = [f for f in features if examples[f.example_index].is_impossible]
        self.assertGreater(len(impossible), 3000)
        for f in impossible:
            self.assertEqual((f.start_position, f.end_position), (0, 0))
            self.assertTrue(f.is_impossible)

    def test_windows_on_real_paragraphs(self):
        examples = read_squad_examples(SQUAD / "v1.1" / "dev.json")[:300]
        tok = tokenizer()
        max_seq_length, doc_stride, max_query_length = 96, 32, 12
        features = convert_examples_to_features(
            examples, tok, max_seq_length, doc_stride, max_query_length, is_training=False)
        by_example = {}
        for f in features:
            by_example.setdefault(f.example_index, []).append(f)
        self.assertLen(by_example, len(examples))
        self.assertGreater(len(features), 2 * len(examples))  # long paragraphs: many windows
        for index, windows in by_example.items():
            example = examples[index]
            doc_ids, doc_offsets = tok.encode_with_char_offsets(example.context_text)
            query = tok.encode(example.question_text)[:max_query_length]
            offset = len(query) + 2
            position_of = {span: i for i, span in enumerate(doc_offsets)}
            max_context_count = np.zeros(len(doc_ids), int)
            previous_start = None
            for w, f in enumerate(windows):
                self.assertEqual(f.window_index, w)
                self.assertLessEqual(len(f), max_seq_length)
                self.assertEqual(f.token_ids[:offset], [tok.cls_token_id] + query + [tok.sep_token_id])
                self.assertEqual(f.token_ids[-1], tok.sep_token_id)
                self.assertEqual(f.segment_ids, [0] * offset + [1] * (len(f) - offset))
                start = position_of[f.token_to_char[offset]]
                if previous_start is not None:
                    self.assertEqual(start - previous_start, doc_stride)
                previous_start = start
                for p in range(offset, len(f) - 1):
                    # Each context token's char span is its tokenizer offset.
                    self.assertEqual(f.token_to_char[p], doc_offsets[start + p - offset])
                    self.assertEqual(f.token_ids[p], doc_ids[start + p - offset])
                    max_context_count[start + p - offset] += f.token_is_max_context[p]
            last = windows[-1]
            self.assertEqual(position_of[last.token_to_char[len(last) - 2]], len(doc_ids) - 1)
            # Each context token is "max context" in exactly one window.
            np.testing.assert_array_equal(max_context_count, 1)

    def test_answer_outside_window_points_at_cls(self):
        examples = read_squad_examples(SQUAD / "v1.1" / "train.json", is_training=True)[:400]
        features = convert_examples_to_features(examples, tokenizer(), 64, 16, 16, is_training=True)
        outside = inside = 0
        offsets = {}
        for f in features:
            e = examples[f.example_index]
            if e.context_text not in offsets:
                offsets[e.context_text] = tokenizer().encode_with_char_offsets(e.context_text)[1]
            doc_offsets = offsets[e.context_text]
            first, last = answer_token_span(doc_offsets, e.answer_start, e.answer_end)
            spans = set(f.token_to_char.values())
            contains = doc_offsets[first] in spans and doc_offsets[last] in spans
            if contains:
                inside += 1
                self.assertEqual(f.token_to_char[f.start_position], doc_offsets[first])
                self.assertEqual(f.token_to_char[f.end_position], doc_offsets[last])
            else:
                outside += 1
                self.assertEqual((f.start_position, f.end_position), (0, 0))
        self.assertGreater(outside, 1000)
        self.assertGreater(inside, 400)

    def test_datasets(self):
        examples = read_squad_examples(SQUAD / "v2.0" / "train.json", is_training=True)[:200]
        features = convert_examples_to_features(examples, tokenizer(), 128, 64, 32, is_training=True)
        ds = bucketed_dataset(squad_ragged_features(features), squad_labels(features), batch_size=16,
                              boundaries=default_boundaries(128), seed=1)
        seen = 0
        for x, y in ds:
            width = x["token_ids"].shape[1]
            self.assertLessEqual(width, 128)
            lengths = x["padding_mask"].numpy().sum(1)
            self.assertEqual(lengths.max(), width)  # padded only to the batch's longest
            self.assertTrue(np.all(y["start_positions"].numpy() < lengths))
            self.assertTrue(np.all(y["end_positions"].numpy() >= y["start_positions"].numpy()))
            seen += len(lengths)
        self.assertEqual(seen, len(features))
        ragged = squad_ragged_features(features)
        self.assertEqual(ragged["token_ids"][5].numpy().tolist(), features[5].token_ids)
        self.assertEqual(ragged["segment_ids"][5].numpy().tolist(), features[5].segment_ids)

    def test_bad_settings(self):
        examples = read_squad_examples(SQUAD / "v1.1" / "dev.json")[:2]
        with self.assertRaisesRegex(ValueError, "doc_stride"):
            convert_examples_to_features(examples, tokenizer(), 128, 0, 32)
        with self.assertRaisesRegex(ValueError, "no room"):
            convert_examples_to_features(examples, tokenizer(), 8, 4, 64)
        with self.assertRaisesRegex(ValueError, "is_training=True"):
            squad_labels(convert_examples_to_features(examples, tokenizer(), 128, 64, 32))

import json
import os
import re
import tempfile

from recipes.squad_demo import (
    ATTRIBUTES, demo_vocabulary, generate_squad_demo, write_squad_demo)
from keras_bert_pkg.data.squad_examples import read_squad_examples
from keras_bert_pkg.data.squad_features import convert_examples_to_features
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import TestCase


def stated(context, name, attribute):
    """True when `context` states `attribute` of `name` (any statement template)."""
    pool, statements, _ = ATTRIBUTES[attribute]
    values = "|".join(re.escape(v) for v in pool)
    for template in statements:
        head, tail = template.split("{v}")
        pattern = re.escape(head.replace("{n}", name)) + f"(?:{values})" + re.escape(tail.replace("{n}", name))
        if re.search(r"(?:^|\. )" + pattern, context):
            return True
    return False


def parse_question(question):
    """(name, attribute) of a generated question."""
    for attribute, (_, _, questions) in ATTRIBUTES.items():
        for template in questions:
            head, tail = template.split("{n}")
            if question.startswith(head) and question.endswith(tail):
                return question[len(head):len(question) - len(tail)], attribute
    raise AssertionError(f"not a template question: {question!r}")


class SquadDemoTest(TestCase):
    def test_v1_1_answers_are_where_answer_start_says(self):
        data = generate_squad_demo("1.1", num_paragraphs=60, seed=3)
        self.assertEqual(data["version"], "1.1")
        examples = read_squad_examples(data, is_training=True)
        self.assertLen(examples, 60 * 6)
        self.assertFalse(any(e.is_impossible for e in examples))
        for e in examples:
            name, attribute = parse_question(e.question_text)
            self.assertIn(name, e.context_text)
            self.assertTrue(stated(e.context_text, name, attribute))
            # The answer is the value of that very statement.
            self.assertIn(e.answer_text, ATTRIBUTES[attribute][0])
            sentence_start = e.context_text.rfind(". ", 0, e.answer_start) + 1
            sentence = e.context_text[sentence_start:e.context_text.find(".", e.answer_end) + 1]
            self.assertIn(name, sentence)

    def test_v2_0_unanswerable_questions_are_really_unanswerable(self):
        data = generate_squad_demo("2.0", num_paragraphs=150, seed=4)
        self.assertEqual(data["version"], "v2.0")
        examples = read_squad_examples(data, is_training=True)
        impossible = [e for e in examples if e.is_impossible]
        self.assertAlmostEqual(len(impossible) / len(examples), 0.33, delta=0.05)
        for e in impossible:
            name, attribute = parse_question(e.question_text)
            self.assertFalse(stated(e.context_text, name, attribute), e.question_text)
        for e in examples:
            if not e.is_impossible:
                self.assertTrue(stated(e.context_text, *parse_question(e.question_text)))

    def test_default_has_one_candidate_per_question_kind(self):
        # The value pools do not overlap, so each question has one value of its kind.
        pools = [set(v[0]) for v in ATTRIBUTES.values()]
        for i, a in enumerate(pools):
            for b in pools[i + 1:]:
                self.assertFalse(a & b)

    def test_several_people_with_shared_facts(self):
        data = generate_squad_demo("1.1", num_paragraphs=20, people_per_paragraph=3,
                                   shared_facts=True, full_names=False, seed=5)
        for paragraph in (p for a in data["data"] for p in a["paragraphs"]):
            context = paragraph["context"]
            names = {parse_question(qa["question"])[0] for qa in paragraph["qas"]}
            for qa in paragraph["qas"]:
                name, attribute = parse_question(qa["question"])
                self.assertNotIn(" ", name)  # first names only
                # Every person mentioned has the asked kind of fact stated.
                for other in names:
                    self.assertTrue(stated(context, other, attribute))

    def test_deterministic(self):
        self.assertEqual(generate_squad_demo("2.0", 5, seed=7), generate_squad_demo("2.0", 5, seed=7))
        self.assertNotEqual(generate_squad_demo("2.0", 5, seed=7), generate_squad_demo("2.0", 5, seed=8))

    def test_written_files_and_vocabulary(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_squad_demo(tmp, "2.0", num_train_paragraphs=30, num_dev_paragraphs=10)
            self.assertEqual(sorted(os.listdir(tmp)), ["dev-v2.0.json", "train-v2.0.json", "vocab.txt"])
            with open(paths["predict_file"]) as f:
                dev = json.load(f)
            train = read_squad_examples(paths["train_file"], is_training=True)
            dev_examples = read_squad_examples(dev)
            self.assertTrue(set(e.qas_id for e in train).isdisjoint(e.qas_id for e in dev_examples))
            tokenizer = BertTokenizer(paths["vocab"])
        self.assertEqual(tokenizer.get_vocabulary()[:5], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        for e in train + dev_examples:
            for text in (e.question_text, e.context_text):
                ids = tokenizer.encode(text)
                self.assertNotIn(tokenizer.unk_token_id, ids)
                # Every word of the data is one token.
                self.assertFalse(any(t.startswith("##") for t in tokenizer.tokenize_to_strings(text)))
        # Answers are whole tokens, so the features cut every one back exactly.
        features = convert_examples_to_features(train, tokenizer, 128, 64, 32, is_training=True)
        for f in features:
            if f.start_position:
                e = train[f.example_index]
                cut = e.context_text[f.token_to_char[f.start_position][0]:f.token_to_char[f.end_position][1]]
                self.assertEqual(cut, e.answer_text)
        self.assertLess(len(demo_vocabulary(generate_squad_demo("1.1", 20))), 1000)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "version"):
            generate_squad_demo("3.0")
        with self.assertRaisesRegex(ValueError, "facts_per_person"):
            generate_squad_demo("1.1", facts_per_person=20)

"""recipes/pretrain_ner.py on the first MSRA sentences (tiny model): text → vocabulary →
pre-training → fine-tuning → scores → export, skipped steps when started again."""

import json
import os

import tensorflow as tf

from keras_bert_pkg.data.conll import read_bio
from keras_bert_pkg.data.pretraining_documents import read_text_documents
from tests.recipes.test_ner import load_recipe
from tests.test_case import SHARED_DATA, TestCase, requires_shared_data

pytestmark = requires_shared_data


class PretrainNerChainTest(TestCase):
    def test_chain_runs_once_and_refuses_other_arguments(self):
        tmp = self.get_temp_dir()
        with open(SHARED_DATA / "ner" / "msra" / "train.txt", "rb") as f:
            raw = f.read().split(b"\r\n\r\n")[:100]
        with open(os.path.join(tmp, "msra100.txt"), "wb") as f:
            f.write(b"\r\n\r\n".join(raw) + b"\r\n")
        with open(os.path.join(tmp, "test.txt"), "wb") as f:  # a further file: 5 sentences
            f.write(b"\r\n\r\n".join(raw[:5]) + b"\r\n")
        recipe = load_recipe("pretrain_ner")
        argv = ["--data_dir", tmp, "--train_file", "msra100.txt", "--test_file", "test.txt",
                "--vocabulary_size", "3000", "--architecture", "bert_tiny", "--sentences_per_document", "8",
                "--max_seq_length", "64", "--pretrain_steps", "4", "--pretrain_batch_size", "8",
                "--epochs", "1", "--batch_size", "16", "--learning_rate", "1e-3",
                "--output_dir", tmp + "/run", "--export_dir", tmp + "/savedmodels", "--export_name", "zh"]
        record = recipe.main(argv)

        sentences = read_bio(os.path.join(tmp, "msra100.txt"), scheme="bmes")
        text = read_text_documents(tmp + "/run/pretraining_text.txt", "lines")
        self.assertEqual([s for d in text for s in d], ["".join(s.words) for s in sentences[:90]])
        self.assertEqual(len(text), 12)  # 90 sentences, 8 a document
        heldout = read_text_documents(tmp + "/run/heldout_text.txt", "lines")
        self.assertEqual([s for d in heldout for s in d], ["".join(s.words) for s in sentences[90:]])
        self.assertEqual(sorted(record["steps"]), ["fine-tuning", "pretraining", "vocabulary"])
        with open(tmp + "/run/ner/metrics.json", encoding="utf-8") as f:
            ner = json.load(f)
        self.assertEqual(ner["data"]["valid_sentences"], 10)
        self.assertTrue(ner["args"]["init_checkpoint"].endswith("pretrain/backbone.keras"))
        self.assertEqual(ner["test"]["sentences"], 5)
        example = ner["example"]  # its entities' text is the characters joined as written
        for entity in example["entities"]:
            self.assertEqual(entity["text"], "".join(example["words"][entity["start"]:entity["end"]]))
        self.assertEqual(record["summary"]["validation"], ner["validation"])
        self.assertEqual(record["summary"]["validation_seen_and_unseen"], ner["validation_seen_and_unseen"])
        self.assertIn("final_eval", record["summary"]["pretraining"])
        # The exported model tagged the mission's sentence: a tag a character, entities
        # as exact substrings at their offsets.
        examples = record["summary"]["examples"]
        self.assertEqual([e["text"] for e in examples], ["任正非是華為的創始人", "任正非是华为的创始人"])
        for example in examples:
            self.assertEqual(len(example["word_tags"]), 10)
            for entity in example["entities"]:
                self.assertEqual(example["text"][entity["start"]:entity["end"]], entity["text"])
        served = tf.saved_model.load(ner["export"])
        self.assertIn("serving_default", served.signatures)

        # Started again: every step is done, nothing runs, the record stands.
        again = recipe.main(argv)
        self.assertEqual(again["steps"], record["steps"])
        # Another --test_file or --examples is no other run: nothing is trained again.
        self.assertEqual(recipe.main(argv + ["--examples", "华为在深圳"])["steps"], record["steps"])
        # Other training arguments in the same folder are refused, naming the flag.
        with self.assertRaisesRegex(SystemExit, "--pretrain_steps"):
            recipe.main(argv[:-6] + ["--pretrain_steps", "0"] + argv[-6:])
        with self.assertRaisesRegex(SystemExit, "--entity_replacement"):
            recipe.main(argv + ["--entity_replacement"])
        with self.assertRaisesRegex(SystemExit, "--document_context"):
            recipe.main(argv + ["--document_context"])
        # A record written before a flag existed resumes while that flag is off.
        with open(tmp + "/run/chain.json", encoding="utf-8") as f:
            older = json.load(f)
        del older["args"]["entity_replacement"]
        with open(tmp + "/run/chain.json", "w", encoding="utf-8") as f:
            json.dump(older, f)
        self.assertEqual(recipe.main(argv)["steps"], record["steps"])
        with self.assertRaisesRegex(SystemExit, "--entity_replacement"):
            recipe.main(argv + ["--entity_replacement"])

"""recipes/ner.py end to end on a slice of the real CoNLL-2003 files (tiny model)."""

import importlib.util
import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.conll import read_bio, read_conll, tag_list
from keras_bert_pkg.data.entity_replacement import replace_entities
from keras_bert_pkg.data.token_alignment import TokenAligner
from keras_bert_pkg.metrics.ner import ner_scores, seen_and_unseen_scores
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer
from tests.test_case import CHINESE_VOCAB, PROJECT_ROOT, SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(
        f"recipe_{name}", PROJECT_ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NerRecipeTest(TestCase):
    def test_runs_scores_and_exports(self):
        tmp = self.get_temp_dir()
        recipe = load_recipe("ner")
        argv = ["--data_dir", str(SHARED_DATA / "ner" / "conll2003"), "--vocab", str(UNCASED_VOCAB),
                "--architecture", "bert_tiny", "--max_train_examples", "48", "--max_valid_examples", "24",
                "--epochs", "2", "--batch_size", "16", "--max_seq_length", "24",
                "--learning_rate", "1e-3", "--output_dir", tmp + "/run",
                "--export_dir", tmp + "/savedmodels", "--export_name", "ner"]
        metrics = recipe.main(argv)

        # metrics.json holds the scores of the predictions file it wrote.
        with open(tmp + "/run/metrics.json") as f:
            written = json.load(f)
        self.assertEqual(written["validation"]["f1"], metrics["validation"]["f1"])
        gold, predicted = [[]], [[]]
        with open(tmp + "/run/valid_predictions.txt") as f:
            for line in f:
                if not line.strip():
                    gold.append([])
                    predicted.append([])
                    continue
                _, g, p = line.split()
                gold[-1].append(g)
                predicted[-1].append(p)
        gold, predicted = [g for g in gold if g], [p for p in predicted if p]
        self.assertEqual(len(gold), 24)
        valid = read_conll(SHARED_DATA / "ner" / "conll2003" / "valid.txt")[:24]
        self.assertEqual(gold, [s.tags for s in valid])
        rescored = ner_scores(gold, predicted)
        for k in ("precision", "recall", "f1"):
            self.assertAlmostEqual(rescored[k], written["validation"][k])
        self.assertEqual(len(written["history"]["loss"]), 2)
        self.assertGreater(written["data"]["valid_windows"], 24)  # length 24 splits some
        self.assertGreater(os.path.getsize(tmp + "/run/training_curve.png"), 1000)

        # The SavedModel (version 1) gives the same word tags.
        export = os.path.join(tmp, "savedmodels", "ner", "1")
        self.assertEqual(written["export"], export)
        with open(os.path.join(export, "assets", "labels.txt")) as f:
            exported_tags = f.read().split("\n")[:-1]
        train = read_conll(SHARED_DATA / "ner" / "conll2003" / "train.txt")[:48]
        self.assertEqual(exported_tags, tag_list(train + valid))
        aligner = TokenAligner(BertTokenizer(UNCASED_VOCAB), exported_tags, sequence_length=24)
        features = aligner.encode([s.words for s in valid])
        served = tf.saved_model.load(export)
        logits = served.signatures["serve_token_ids"](**{
            k: tf.constant(features[k]) for k in ("token_ids", "segment_ids", "padding_mask")})["logits"]
        self.assertEqual(aligner.decode(np.asarray(logits), features), predicted)
        # the default reading is the constrained one; the kept model's arg-max scores are recorded beside it
        self.assertEqual(written["validation_by_decoding"]["constrained"], written["validation"])
        argmax = aligner.decode(np.asarray(logits), features, constrained=False)
        self.assertAlmostEqual(written["validation_by_decoding"]["argmax"]["f1"], ner_scores(gold, argmax)["f1"])


class ChineseNerRecipeTest(TestCase):
    def test_msra_bmes_with_a_carved_dev_split(self):
        """MSRA NER (BMES, CRLF, character per line) with the Chinese vocabulary: the dev
        split is the file's last sentences, scored and written in IOB2; with entity
        replacement and document context."""
        tmp = self.get_temp_dir()
        msra = SHARED_DATA / "ner" / "msra"
        test_file = os.path.join(tmp, "first_sentences.txt")  # the file's first 30 sentences, as they are
        with open(msra / "train.txt", "rb") as f:
            raw = f.read().split(b"\r\n\r\n")[:30]
        with open(test_file, "wb") as f:
            f.write(b"\r\n\r\n".join(raw) + b"\r\n")
        metrics = load_recipe("ner").main([
            "--test_file", test_file,
            "--data_dir", str(msra), "--format", "bmes", "--valid_fraction", "0.0005",
            "--vocab", str(CHINESE_VOCAB), "--architecture", "bert_tiny", "--max_train_examples", "64",
            "--epochs", "1", "--batch_size", "16", "--max_seq_length", "64", "--learning_rate", "1e-3",
            "--entity_replacement", "--document_context", "--output_dir", tmp + "/run", "--no_export"])
        sentences = read_bio(msra / "train.txt", scheme="bmes")
        self.assertEqual(metrics["data"]["valid_sentences"], 25)  # 0.05% of 50,289
        self.assertEqual(metrics["data"]["train_sentences"], 64)
        # --entity_replacement: a copy of each of the 64 that holds entities is trained on too.
        with_entities = [s for s in sentences[:64] if any(t != "O" for t in s.tags)]
        self.assertEqual(metrics["data"]["entity_replacement_sentences"], len(with_entities))
        self.assertGreater(len(with_entities), 10)  # 18
        aligner = TokenAligner(BertTokenizer(CHINESE_VOCAB), metrics["tags"], sequence_length=64)
        replaced = replace_entities(sentences[:64], seed=0)
        trained_on = sentences[:64] + replaced
        # --document_context: the training sentences are filled from their neighbours (MSRA
        # has no -DOCSTART-: one document), the replaced copies are not
        features = aligner.encode([s.words for s in trained_on], documents=[0] * 64 + [None] * len(replaced))
        self.assertEqual(metrics["data"]["train_windows"], len(features["token_ids"]))
        lengths, original = features["padding_mask"].sum(-1), features["example_index"] < 64
        alone = aligner.encode([s.words for s in trained_on])["padding_mask"].sum(-1)
        self.assertGreater(np.mean(lengths[original] == 64), 0.9)  # ~40 characters a sentence: room to fill
        self.assertLess(alone[original].mean(), 50)
        self.assertEqual(lengths[~original].tolist(), alone[~original].tolist())
        self.assertEqual(metrics["tags"], ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
        with open(tmp + "/run/valid_predictions.txt", encoding="utf-8") as f:
            rows = [line.split() for line in f if line.strip()]
        self.assertEqual([r[0] for r in rows], [c for s in sentences[-25:] for c in s.words])
        self.assertEqual([r[1] for r in rows], [t for s in sentences[-25:] for t in s.tags])
        self.assertTrue(np.isfinite(metrics["validation"]["f1"]))
        # the same model tagging each dev sentence alone, as the exported model does
        self.assertEqual(metrics["validation_sentences_alone"]["num_true_entities"],
                         metrics["validation"]["num_true_entities"])

        # --test_file: read like the training file, tagged by the kept model, scored.
        with open(tmp + "/run/test_predictions.txt", encoding="utf-8") as f:
            blocks = [[line.split() for line in block.split("\n") if line] for block in f.read().split("\n\n")]
        blocks = [b for b in blocks if b]
        self.assertEqual([[r[1] for r in b] for b in blocks], [s.tags for s in sentences[:30]])
        self.assertEqual(metrics["test"]["sentences"], 30)
        gold, predicted = [[r[1] for r in b] for b in blocks], [[r[2] for r in b] for b in blocks]
        self.assertAlmostEqual(ner_scores(gold, predicted)["f1"], metrics["test"]["f1"])
        # The test sentences are among the 64 trained on: every entity of theirs was seen.
        seen_and_unseen = metrics["test"]["seen_and_unseen"]
        self.assertEqual(seen_and_unseen["unseen"]["num_true_entities"], 0)
        self.assertEqual(seen_and_unseen["seen"]["num_true_entities"], metrics["test"]["num_true_entities"])
        self.assertGreater(metrics["test"]["num_true_entities"], 10)
        # The dev split's entities split by the 64 training sentences' ones.
        dev, predicted_tags, start = sentences[-25:], [], 0
        for sentence in dev:
            predicted_tags.append([r[2] for r in rows[start:start + len(sentence.words)]])
            start += len(sentence.words)
        self.assertEqual(metrics["validation_seen_and_unseen"], seen_and_unseen_scores(
            [s.words for s in sentences[:64]], [s.tags for s in sentences[:64]],
            [s.words for s in dev], [s.tags for s in dev], predicted_tags))

"""The pre-training recipes end to end on real text: build_vocab → create_pretraining_data
→ pretrain (records and raw-text stream), a resumed run, and a run killed mid-way."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from tests.test_case import PROJECT_ROOT, SHARED_DATA, TestCase, requires_shared_data

sys.path.insert(0, str(PROJECT_ROOT / "recipes"))

import build_vocab  # noqa: E402
import create_pretraining_data  # noqa: E402
import pretrain  # noqa: E402

pytestmark = requires_shared_data

WIKITEXT = str(SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens")
SAMPLE_TEXT = str(SHARED_DATA / "pretrain_text" / "bert_sample_text" / "sample_text.txt")
TINY = {"num_layers": 1, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64,
        "max_sequence_length": 64, "dropout": 0.1}


class PretrainRecipesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.vocab = os.path.join(cls.dir, "vocab.txt")
        # A small vocabulary learned from three WikiText articles (compact specials).
        build_vocab.main(["--input_file", WIKITEXT, "--document_range", ":3", "--vocabulary_size", "600",
                          "--num_unused", "0", "--output", cls.vocab])
        cls.config = os.path.join(cls.dir, "tiny.json")
        with open(cls.config, "w") as f:
            json.dump(TINY, f)
        create_pretraining_data.main([
            "--input_file", WIKITEXT, "--document_range", ":3", "--vocab", cls.vocab,
            "--output_dir", os.path.join(cls.dir, "records"), "--max_seq_length", "32",
            "--max_predictions_per_seq", "5", "--dupe_factor", "1", "--num_workers", "1", "--no_progress"])
        create_pretraining_data.main([
            "--input_file", WIKITEXT, "--document_range", "3:4", "--vocab", cls.vocab,
            "--output_dir", os.path.join(cls.dir, "heldout"), "--max_seq_length", "32",
            "--max_predictions_per_seq", "5", "--dupe_factor", "1", "--num_workers", "1", "--no_progress"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def common(self, out, steps=4):
        return ["--vocab", self.vocab, "--config", self.config, "--batch_size", "4", "--steps", str(steps),
                "--log_every", "2", "--checkpoint_every", "2", "--learning_rate", "1e-3",
                "--output_dir", out, "--verbose", "0", "--strategy", "default"]

    def test_vocabulary_layout(self):
        vocab = open(self.vocab, encoding="utf-8").read().split("\n")[:-1]
        self.assertEqual(vocab[:5], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        self.assertLessEqual(len(vocab), 600)
        self.assertIn("the", vocab)
        self.assertTrue(any(t.startswith("##") for t in vocab))

    def test_records_run_and_resume(self):
        out = os.path.join(self.dir, "run_records")
        records = ["--input_files", os.path.join(self.dir, "records", "*.tfrecord"),
                   "--eval_input_files", os.path.join(self.dir, "heldout", "*.tfrecord")]
        pretrain.main(records + self.common(out))
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        self.assertEqual(metrics["history"][-1]["step"], 4)
        self.assertEqual(metrics["resumed_from_step"], 0)
        for key in ("initial_eval", "final_eval"):
            self.assertIn("mlm_accuracy", metrics[key])
            self.assertIn("nsp_accuracy", metrics[key])
        self.assertLess(metrics["final_eval"]["mlm_loss"], metrics["initial_eval"]["mlm_loss"])
        self.assertGreater(metrics["most_frequent_token_baseline"]["accuracy"], 0)
        for name in ("pretraining_curves.png", "pretrainer.keras", "backbone.keras", "vocab.txt"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        self.assertTrue(os.listdir(os.path.join(out, "tensorboard")))
        # Asked for more steps, the same run continues from its last checkpoint.
        pretrain.main(records + self.common(out, steps=6))
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        self.assertEqual(metrics["resumed_from_step"], 4)
        self.assertEqual([h["step"] for h in metrics["history"]], [2, 4, 6])

    def test_text_stream_run(self):
        out = os.path.join(self.dir, "run_text")
        pretrain.main(["--text", WIKITEXT, "--text_document_range", ":3", "--eval_text", WIKITEXT,
                       "--eval_document_range", "3:4", "--max_seq_length", "32", "--max_predictions_per_seq", "5",
                       "--no_next_sentence"] + self.common(out, steps=2))
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        self.assertEqual(metrics["history"][-1]["step"], 2)
        self.assertNotIn("nsp_accuracy", metrics["final_eval"])
        self.assertFalse(metrics["next_sentence"])


@pytest.mark.slow
class PretrainKillTest(TestCase):
    """Kill `recipes/pretrain.py` with SIGKILL after its first checkpoint, start it again,
    and compare with an uninterrupted run: same final step, same weights."""

    def test_killed_run_resumes_at_the_same_step_with_the_same_weights(self):
        from keras_bert_pkg.data.pretraining_records import pretraining_record_dataset  # noqa: F401
        import keras

        import keras_bert_pkg.models.bert_pretrainer  # noqa: F401  (registers the class)

        vocab = str(SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt")
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "tiny.json")
            with open(config, "w") as f:
                json.dump(TINY, f)
            steps = 40

            def command(out):
                return [sys.executable, str(PROJECT_ROOT / "recipes" / "pretrain.py"), "--text", SAMPLE_TEXT,
                        "--vocab", vocab, "--config", config, "--max_seq_length", "32",
                        "--max_predictions_per_seq", "5", "--batch_size", "4", "--steps", str(steps),
                        "--log_every", "5", "--checkpoint_every", "5", "--output_dir", out,
                        "--verbose", "0", "--strategy", "default"]

            full = os.path.join(tmp, "full")
            subprocess.run(command(full), check=True, capture_output=True, timeout=1800)
            killed = os.path.join(tmp, "killed")
            proc = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ckpt_dir = os.path.join(killed, "checkpoints")
            deadline = time.time() + 1500
            while time.time() < deadline and proc.poll() is None:
                done = [d for d in (os.listdir(ckpt_dir) if os.path.isdir(ckpt_dir) else [])
                        if d.startswith("ckpt-") and not d.endswith(".tmp")]
                if any(int(d[5:]) >= 10 for d in done):
                    break
                time.sleep(0.2)
            self.assertIsNone(proc.poll(), "the run ended before it could be killed")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self.assertFalse(os.path.exists(os.path.join(killed, "metrics.json")))
            subprocess.run(command(killed), check=True, capture_output=True, timeout=1800)
            a = json.load(open(os.path.join(full, "metrics.json")))
            b = json.load(open(os.path.join(killed, "metrics.json")))
            self.assertGreaterEqual(b["resumed_from_step"], 10)
            self.assertLess(b["resumed_from_step"], steps)
            self.assertEqual(b["history"][-1]["step"], steps)
            self.assertEqual([h["loss"] for h in a["history"]], [h["loss"] for h in b["history"]])
            wa = keras.models.load_model(os.path.join(full, "pretrainer.keras")).get_weights()
            wb = keras.models.load_model(os.path.join(killed, "pretrainer.keras")).get_weights()
            for x, y in zip(wa, wb):
                np.testing.assert_array_equal(x, y)

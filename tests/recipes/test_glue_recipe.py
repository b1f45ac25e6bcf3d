"""recipes/glue.py end to end, every GLUE task, a few training steps of a tiny BERT.

Real files from ../shared/data/glue where the task is there (CoLA, SST-2, MRPC, STS-B, RTE,
WNLI, QNLI dev, AX); QQP and MNLI are written in the official layout by the test.
"""

import importlib.util
import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_pkg.data.glue import glue_task, read_glue
from keras_bert_pkg.metrics.glue import GLUE_TASK_METRICS, glue_metrics
from tests.data.glue_layout import GLUE, copy_real_task, write_mnli, write_qqp
from tests.test_case import PROJECT_ROOT, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


def load_recipe():
    spec = importlib.util.spec_from_file_location("recipe_glue", PROJECT_ROOT / "recipes" / "glue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_tsv(path):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return rows[0], rows[1:]


class GlueRecipeTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recipe = load_recipe()

    def run_task(self, task, data_dir=GLUE, extra=(), train=16, dev=24, test=8):
        out = os.path.join(self.get_temp_dir(), f"run_{task}")
        argv = ["--task", task, "--data_dir", str(data_dir), "--architecture", "bert_tiny",
                "--vocab", str(UNCASED_VOCAB), "--epochs", "1", "--batch_size", "8",
                "--learning_rate", "1e-3", "--max_seq_length", "32",
                "--max_train_examples", str(train), "--max_eval_examples", str(dev),
                "--max_test_examples", str(test), "--output_dir", out, *extra]
        if "--export_dir" not in extra:
            argv.append("--no_export")
        summary = self.recipe.main(argv)
        with open(os.path.join(out, "metrics.json")) as f:
            written = json.load(f)
        self.assertEqual(written["dev"], summary["dev"])
        self.assertGreater(os.path.getsize(os.path.join(out, "training_curve.png")), 1000)
        self.assertEqual(summary["train_examples"], train)
        self.assertGreaterEqual(summary["steps"], train // 8)
        self.assertTrue(np.isfinite(summary["final_train_loss"]))
        return out, summary

    def check_dev_scores(self, task, out, summary, split="dev", metric_task=None, filename=None):
        """metrics.json holds the GLUE metrics of the predictions file the run wrote."""
        metric_task = metric_task or task
        spec = glue_task(task)
        gold = read_glue(task, self.data_dir_of(task), split).subset(24)
        header, rows = _read_tsv(os.path.join(out, filename or "dev_predictions.tsv"))
        self.assertEqual(header[:3], ["index", "prediction", "label"])
        self.assertEqual([r[0] for r in rows], gold.ids)
        if spec.is_regression:
            predicted = np.array([float(r[1]) for r in rows])
        else:
            predicted = np.array([spec.labels.index(r[1]) for r in rows])
            self.assertEqual(len(header), 3 + spec.num_classes)  # one logit column per class
            logits = np.array([[float(v) for v in r[3:]] for r in rows])
            np.testing.assert_array_equal(np.argmax(logits, 1), predicted)
        expected = glue_metrics(metric_task, gold.labels, predicted)
        scores = summary["dev"][metric_task]
        self.assertEqual(sorted(scores), sorted(GLUE_TASK_METRICS[metric_task] + ("score",)))
        for key, value in expected.items():
            if np.isnan(value):
                self.assertTrue(np.isnan(scores[key]))
            else:
                self.assertAllClose(scores[key], value, atol=2e-3 if spec.is_regression else 1e-9)

    def data_dir_of(self, task):
        return getattr(self, "_data_dirs", {}).get(task, GLUE)

    def check_submission(self, out, filename, ids, labels):
        header, rows = _read_tsv(os.path.join(out, "submission", filename))
        self.assertEqual(header, ["index", "prediction"])
        self.assertEqual([r[0] for r in rows], ids)
        for r in rows:
            if labels is None:
                self.assertTrue(0.0 <= float(r[1]) <= 5.0)
            else:
                self.assertIn(r[1], labels)

    # --- tasks with real local files ----------------------------------------------
    def test_single_sentence_tasks(self):
        for task, submission in (("cola", "CoLA.tsv"), ("sst2", "SST-2.tsv")):
            out, summary = self.run_task(task)
            self.check_dev_scores(task, out, summary)
            self.check_submission(out, submission, [str(i) for i in range(8)], ["0", "1"])

    def test_pair_tasks(self):
        for task in ("mrpc", "rte", "wnli"):
            out, summary = self.run_task(task, extra=("--no_test",) if task != "rte" else ())
            self.check_dev_scores(task, out, summary)
            if task == "rte":
                self.check_submission(out, "RTE.tsv", [str(i) for i in range(8)],
                                      ["entailment", "not_entailment"])
            else:
                self.assertFalse(os.path.exists(os.path.join(out, "submission")))

    def test_search_seeds_keep_the_best_dev_run(self):
        """--search_seeds 0,1,2 on real MRPC (the paper's random restarts): three seeds from
        the same checkpoint, the best dev run kept (its predictions written), its seed-0
        run identical to a plain run."""
        train, dev = 24, 24
        _, plain = self.run_task("mrpc", train=train, dev=dev, extra=("--no_test",))
        out, summary = self.run_task("mrpc", train=train, dev=dev, extra=("--no_test", "--search_seeds", "0,1,2"))
        runs = summary["search"]["trials"]
        self.assertEqual([r["trial"]["seed"] for r in runs], [0, 1, 2])
        self.assertEqual(runs[0]["dev"], plain["dev"])  # seed 0 is the plain run
        scores = [r["dev"]["mrpc"]["score"] for r in runs]
        best = runs[int(np.argmax(scores))]
        self.assertEqual(summary["seed"], best["trial"]["seed"])
        self.assertEqual(summary["search"]["best_trial"], best["trial_name"])
        self.assertEqual(summary["dev"], best["dev"])
        self.assertTrue(all(r["cpu_seconds"] > 0 for r in runs))
        self.check_dev_scores("mrpc", out, summary)  # the written predictions are the kept run's
        for bad in ("0,x", ","):
            with self.assertRaises(SystemExit):
                self.recipe.parse_args(["--task", "mrpc", "--architecture", "bert_tiny", "--search_seeds", bad])

    def test_keep_best_epoch(self):
        """--keep_best_epoch on real MRPC: the epoch with the best dev score is kept, and the
        exported model (the weights put back) predicts what that epoch scored."""
        export = os.path.join(self.get_temp_dir(), "savedmodels_best")
        out, summary = self.run_task("mrpc", train=32, dev=24, extra=(
            "--no_test", "--epochs", "4", "--learning_rate", "3e-3", "--keep_best_epoch",
            "--export_dir", export))
        scores = [epoch["mrpc"]["score"] for epoch in summary["dev_per_epoch"]]
        self.assertEqual(len(scores), 4)
        kept = int(np.argmax(scores))
        self.assertEqual(summary["kept_epoch"], kept + 1)
        self.assertEqual(summary["dev"], summary["dev_per_epoch"][kept])
        self.check_dev_scores("mrpc", out, summary)
        import tensorflow_text  # noqa: F401  (the tokenizer op of the text SavedModel)

        served = tf.saved_model.load(summary["savedmodel"]).signatures["serving_default"]
        _, rows = _read_tsv(os.path.join(out, "dev_predictions.tsv"))
        dev = read_glue("mrpc", GLUE, "dev").subset(24)
        logits = served(sentence1=tf.constant(dev.texts[0]), sentence2=tf.constant(dev.texts[1]))["logits"]
        self.assertAllClose(logits.numpy(), [[float(v) for v in r[3:]] for r in rows], atol=1e-4)
        # With --no-keep_best_epoch (a small model on small data keeps the best by default)
        # the last epoch is kept.
        _, last = self.run_task("mrpc", train=32, dev=24, extra=(
            "--no_test", "--epochs", "4", "--learning_rate", "3e-3", "--no-keep_best_epoch"))
        self.assertEqual(last["kept_epoch"], 4)
        self.assertEqual(last["dev"], last["dev_per_epoch"][-1])
        self.assertEqual(last["dev_per_epoch"], summary["dev_per_epoch"])  # same run otherwise

    def test_stsb_regression_and_export(self):
        export = os.path.join(self.get_temp_dir(), "savedmodels")
        out, summary = self.run_task("stsb", extra=("--export_dir", export))
        self.check_dev_scores("stsb", out, summary)
        self.check_submission(out, "STS-B.tsv", [str(i) for i in range(8)], None)
        self.assertEqual(summary["savedmodel"], os.path.join(export, "glue_stsb", "1"))
        self.assertTrue(os.path.isdir(os.path.join(export, "glue_stsb_token_ids", "1")))
        # The SavedModel scores raw sentence pairs as the trained model did.
        import tensorflow_text  # noqa: F401  (the tokenizer op of the text SavedModel)

        served = tf.saved_model.load(summary["savedmodel"]).signatures["serving_default"]
        _, rows = _read_tsv(os.path.join(out, "dev_predictions.tsv"))
        dev = read_glue("stsb", GLUE, "dev").subset(4)
        scores = served(sentence1=tf.constant(dev.texts[0]), sentence2=tf.constant(dev.texts[1]))
        self.assertAllClose(scores["score"].numpy(), [float(r[1]) for r in rows[:4]], atol=1e-4)

    def test_qnli_from_its_dev_file(self):
        # Only QNLI dev/test are available offline: train a few steps on dev.
        out, summary = self.run_task("qnli", extra=("--train_split", "dev"))
        self.assertTrue(summary["train_file"].endswith("QNLI/dev.tsv"))
        self.check_dev_scores("qnli", out, summary)
        self.check_submission(out, "QNLI.tsv", [str(i) for i in range(8)],
                              ["entailment", "not_entailment"])

    # --- tasks written in the official layout ----------------------------------------
    def test_qqp_written_files(self):
        root = os.path.join(self.get_temp_dir(), "glue_qqp")
        write_qqp(root, broken_rows=1)
        self._data_dirs = {"qqp": root}
        out, summary = self.run_task("qqp", data_dir=root, train=24)
        self.assertEqual(summary["skipped_rows"]["train"], 2)
        self.check_dev_scores("qqp", out, summary)
        test_ids = read_glue("qqp", root, "test").ids[:8]
        self.check_submission(out, "QQP.tsv", test_ids, ["0", "1"])

    def test_mnli_written_files_and_real_ax(self):
        root = os.path.join(self.get_temp_dir(), "glue_mnli")
        write_mnli(root)
        copy_real_task(root, "AX")
        self._data_dirs = {"mnli": root}
        out, summary = self.run_task("mnli", data_dir=root)
        self.assertEqual(sorted(summary["dev"]), ["mnli_matched", "mnli_mismatched"])
        self.check_dev_scores("mnli", out, summary, "dev_matched", "mnli_matched",
                              "dev_matched_predictions.tsv")
        self.check_dev_scores("mnli", out, summary, "dev_mismatched", "mnli_mismatched",
                              "dev_mismatched_predictions.tsv")
        labels = ["contradiction", "entailment", "neutral"]
        ids = [str(i) for i in range(8)]
        for name in ("MNLI-m.tsv", "MNLI-mm.tsv", "AX.tsv"):
            self.check_submission(out, name, ids, labels)

"""Killed fine-tuning runs lose nothing: each recipe, stopped mid-epoch and started again
with the same command, ends with the same dev metrics, predictions and curves as a run
that was never stopped. In the default suite the kill is an exception raised inside
`fit` at a chosen step; the slow test kills a recipe process with SIGKILL at a random
moment."""

import glob
import json
import os
import random
import signal
import subprocess
import sys
import time
from unittest import mock

import pytest

from keras_bert_pkg.training.stop_after_steps import StopAfterSteps
from tests.data.glue_layout import GLUE
from tests.data.test_swag import EXAMPLES, write_official_swag
from tests.recipes.test_glue_recipe import load_recipe
from tests.test_case import PROJECT_ROOT, SHARED_DATA, UNCASED_VOCAB, TestCase, requires_shared_data

pytestmark = requires_shared_data


class Killed(Exception):
    """Stands for SIGKILL inside the process."""


def _kill_at(step):
    """Patches the step counter of `fine_tune_resumably` to raise `Killed` after `step`
    steps of this process."""
    original = StopAfterSteps.on_train_batch_end

    def counting(self, batch, logs=None):
        original(self, batch, logs)
        if self.done >= step:
            raise Killed(f"killed after {step} steps")
    return mock.patch.object(StopAfterSteps, "on_train_batch_end", counting)


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def glue_argv(out, extra=()):
    return ["--task", "mrpc", "--data_dir", str(GLUE), "--architecture", "bert_tiny", "--vocab", str(UNCASED_VOCAB),
            "--epochs", "3.5", "--batch_size", "8", "--learning_rate", "3e-3", "--max_seq_length", "32",
            "--max_train_examples", "32", "--max_eval_examples", "24", "--no_test", "--no_export",
            "--keep_best_epoch", "--output_dir", out, *extra]


class GlueResumeTest(TestCase):
    def test_killed_mid_epoch_resumes_to_the_same_run(self):
        recipe = load_recipe()
        whole = os.path.join(self.get_temp_dir(), "whole")
        expected = recipe.main(glue_argv(whole))
        self.assertEqual(expected["steps"], 14)

        out = os.path.join(self.get_temp_dir(), "killed")
        with _kill_at(10), self.assertRaises(Killed):  # mid-epoch 3: epochs 1 and 2 are checkpointed
            recipe.main(glue_argv(out))
        self.assertFalse(os.path.exists(os.path.join(out, "metrics.json")))
        self.assertEqual(os.listdir(os.path.join(out, "checkpoints")), ["ckpt-000000008"])
        resumed = recipe.main(glue_argv(out))

        for key in ("dev", "dev_per_epoch", "kept_epoch", "final_train_loss", "steps"):
            self.assertEqual(resumed[key], expected[key], key)
        self.assertEqual(_read(os.path.join(out, "dev_predictions.tsv")),
                         _read(os.path.join(whole, "dev_predictions.tsv")))
        self.assertFalse(os.path.exists(os.path.join(out, "checkpoints")))  # removed once complete

    def test_a_checkpoint_of_another_run_is_refused(self):
        recipe = load_recipe()
        out = os.path.join(self.get_temp_dir(), "other")
        with _kill_at(5), self.assertRaises(Killed):
            recipe.main(glue_argv(out))
        with self.assertRaisesRegex(ValueError, r"checkpoints holds the checkpoint of another run .*"
                                                r"learning_rate=0\.003.*learning_rate=0\.001"):
            recipe.main(glue_argv(out, ["--learning_rate", "1e-3"]))


def _kill_after_total(steps):
    """Like `_kill_at`, counting the steps of every `fit` of this process together (a
    search runs one `fit` per trial)."""
    original, done = StopAfterSteps.on_train_batch_end, [0]

    def counting(self, batch, logs=None):
        original(self, batch, logs)
        done[0] += 1
        if done[0] >= steps:
            raise Killed(f"killed after {steps} steps")
    return mock.patch.object(StopAfterSteps, "on_train_batch_end", counting)


class SearchResumeTest(TestCase):
    def test_a_killed_search_resumes_to_the_same_choice(self):
        """A grid of 2 learning rates on real MRPC, killed inside the second trial and
        started again: the finished trial is not run again, the second resumes from its
        epoch checkpoint, and the search ends as an uninterrupted one (every trial's dev
        scores, the kept trial, restored from its saved weights when it is the first, the
        written predictions)."""
        recipe = load_recipe()
        grid = ["--search_learning_rates", "3e-3,1e-3", "--epochs", "2"]
        whole = os.path.join(self.get_temp_dir(), "whole")
        expected = recipe.main(glue_argv(whole, grid))
        trials = expected["search"]["trials"]
        self.assertLen(trials, 2)
        steps = trials[0]["steps"]

        out = os.path.join(self.get_temp_dir(), "killed")
        with _kill_after_total(steps + steps // 2 + 1), self.assertRaises(Killed):  # mid trial 2, epoch 2
            recipe.main(glue_argv(out, grid))
        saved = os.listdir(os.path.join(out, "checkpoints"))
        self.assertIn("search.json", saved)
        self.assertIn("best.weights.h5", saved)
        resumed = recipe.main(glue_argv(out, grid))
        keys = ("trial_name", "score", "dev", "dev_per_epoch", "kept_epoch", "final_train_loss")
        self.assertEqual([{k: t[k] for k in keys} for t in resumed["search"]["trials"]],
                         [{k: t[k] for k in keys} for t in trials])
        self.assertEqual(resumed["search"]["best_trial"], expected["search"]["best_trial"])
        self.assertEqual(resumed["dev"], expected["dev"])
        self.assertEqual(_read(os.path.join(out, "dev_predictions.tsv")),
                         _read(os.path.join(whole, "dev_predictions.tsv")))
        self.assertFalse(os.path.exists(os.path.join(out, "checkpoints")))


def _recipe_runs(tmp):
    """`{recipe: (argv without --output_dir, compared metrics keys, compared files)}`:
    small real-data runs of a few dozen seconds, several epochs each."""
    swag_data = os.path.join(tmp, "swag")
    os.makedirs(swag_data, exist_ok=True)
    write_official_swag(os.path.join(swag_data, "train.csv"), seed=1)
    write_official_swag(os.path.join(swag_data, "val.csv"), examples=EXAMPLES[:4], seed=2)
    tiny = ["--architecture", "bert_tiny", "--vocab", str(UNCASED_VOCAB), "--no_export"]
    return {
        "glue": (["recipes/glue.py", "--task", "mrpc", "--data_dir", str(GLUE), "--epochs", "3.5", "--batch_size", "8",
                  "--max_seq_length", "64", "--max_train_examples", "400", "--max_eval_examples", "64", "--no_test",
                  "--keep_best_epoch", "--learning_rate", "1e-3", *tiny],
                 ("dev", "dev_per_epoch", "kept_epoch", "final_train_loss"), ("dev_predictions.tsv",)),
        "ner": (["recipes/ner.py", "--data_dir", str(SHARED_DATA / "ner" / "conll2003"), "--max_train_examples", "600",
                 "--max_valid_examples", "64", "--epochs", "3", "--batch_size", "16", "--max_seq_length", "48",
                 "--learning_rate", "1e-3", *tiny],
                ("validation", "validation_per_epoch", "history"), ("valid_predictions.txt",)),
        "squad": (["recipes/squad.py", "--demo_train_paragraphs", "200", "--demo_dev_paragraphs", "12",
                   "--max_seq_length", "64", "--doc_stride", "32", "--max_query_length", "16", "--epochs", "3",
                   "--batch_size", "16", "--eval_every_epoch", *tiny[:2], "--no_export"],
                  ("exact_match", "f1", "per_epoch"), ("predictions.json",)),
        "swag": (["recipes/swag.py", "--data_dir", swag_data, "--max_seq_length", "40", "--epochs", "40",
                  "--batch_size", "4", "--learning_rate", "1e-3", *tiny],
                 ("validation", "history", "predictions"), ()),
    }


def _start(command, output_dir, log):
    """The recipe `command` as a process writing to `output_dir`, its output to `log`."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "wb") as f:
        return subprocess.Popen(command + ["--output_dir", output_dir], cwd=PROJECT_ROOT,
                                env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)), stdout=f, stderr=subprocess.STDOUT)


def _wait_for_first_checkpoint(process, output_dir, name):
    """Waits until `output_dir` holds an epoch checkpoint; fails if the process ends first."""
    while not glob.glob(os.path.join(output_dir, "checkpoints", "**", "ckpt-*[0-9]"), recursive=True):
        assert process.poll() is None, f"{name} ended before its first checkpoint"
        time.sleep(0.05)


@pytest.mark.slow
class SigkillResumeTest(TestCase):
    """Each fine-tuning recipe as a process: SIGKILL at a random moment after its first
    checkpoint, within the time an uninterrupted run of it took from there to its
    metrics.json (so the kill lands before the end on a fast CPU too), the same command
    again, and the result of the uninterrupted run."""

    def test_every_recipe_resumes_after_sigkill(self):
        tmp = self.get_temp_dir()
        rng = random.Random(0)
        for name, (argv, keys, files) in _recipe_runs(tmp).items():
            with self.subTest(name):
                whole, killed = os.path.join(tmp, name, "whole"), os.path.join(tmp, name, "killed")
                command = [sys.executable, *argv]
                process = _start(command, whole, os.path.join(tmp, name, "whole.log"))
                _wait_for_first_checkpoint(process, whole, name)
                first_checkpoint = time.monotonic()
                while process.poll() is None and not os.path.exists(os.path.join(whole, "metrics.json")):
                    time.sleep(0.05)
                window = time.monotonic() - first_checkpoint  # first checkpoint -> metrics.json
                self.assertEqual(process.wait(), 0, _read(os.path.join(tmp, name, "whole.log"))[-3000:])
                process = _start(command, killed, os.path.join(tmp, name, "killed.log"))
                _wait_for_first_checkpoint(process, killed, name)
                time.sleep(rng.uniform(0.0, 0.8 * window))
                process.send_signal(signal.SIGKILL)
                self.assertEqual(process.wait(), -signal.SIGKILL, f"{name} finished before the kill")
                self.assertFalse(os.path.exists(os.path.join(killed, "metrics.json")))
                process = _start(command, killed, os.path.join(tmp, name, "resumed.log"))
                self.assertEqual(process.wait(), 0, _read(os.path.join(tmp, name, "resumed.log"))[-3000:])
                expected, resumed = (json.loads(_read(os.path.join(d, "metrics.json"))) for d in (whole, killed))
                for key in keys:
                    self.assertEqual(resumed[key], expected[key], f"{name}: {key}")
                for filename in files:
                    self.assertEqual(_read(os.path.join(killed, filename)), _read(os.path.join(whole, filename)))
                self.assertFalse(os.path.exists(os.path.join(killed, "checkpoints")))

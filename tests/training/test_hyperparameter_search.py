"""The hyperparameter search: grid order, best kept (first on ties), the CPU budget, and a
search killed mid-trial resuming from its record and the best trial's weights."""

import json
import os

import keras
import numpy as np

from keras_bert_pkg.training.hyperparameter_search import (BEST_WEIGHTS, PAPER_GRID, STATE_FILE, Trial, search,
                                                           trial_grid)
from tests.test_case import TestCase


class Killed(Exception):
    pass


def _model(value=0.0):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.layers[0].kernel.assign([[value]])
    return model


def _kernel(model):
    return float(model.layers[0].kernel.numpy()[0, 0])


class SearchTest(TestCase):
    def setUp(self):
        super().setUp()
        self.calls = []

    def fine_tune(self, scores, kill_at=None):
        """A fine-tuning function whose dev score is `scores[trial.learning_rate]` and whose
        model's kernel is the learning rate (so the kept weights say which trial they are)."""
        def run(trial):
            if trial.name == kill_at:
                raise Killed(trial.name)
            self.calls.append(trial.name)
            sum(range(2_000_000))  # some CPU time
            return ({"score": scores[trial.learning_rate], "lr": trial.learning_rate},
                    _model(trial.learning_rate), {"predictions": trial.name})
        return run

    def test_the_paper_grid_shortest_first(self):
        trials = trial_grid(seeds=[0], **PAPER_GRID)
        self.assertLen(trials, 18)
        self.assertEqual([t.epochs for t in trials], [2.0] * 6 + [3.0] * 6 + [4.0] * 6)
        self.assertEqual(trials[0], Trial(5e-5, 16, 2.0, 0))
        self.assertEqual(trials[1].name, "lr3e-05_batch16_epochs2_seed0")
        self.assertLen({t.name for t in trial_grid([1e-4, 2e-4], [8], [1, 2], [0, 1, 2])}, 12)

    def test_keeps_the_first_best(self):
        trials = trial_grid([1.0, 2.0, 3.0], [8], [1], [0])
        outcome = search(self.fine_tune({1.0: 0.5, 2.0: 0.7, 3.0: 0.7}), trials, log=None)
        self.assertEqual(outcome.best["trial_name"], trials[1].name)
        self.assertEqual(_kernel(outcome.model), 2.0)
        self.assertEqual(outcome.evaluation, {"predictions": trials[1].name})
        self.assertEqual([r["score"] for r in outcome.runs], [0.5, 0.7, 0.7])
        self.assertTrue(all(r["cpu_seconds"] >= 0 and r["trial"]["batch_size"] == 8 for r in outcome.runs))
        with self.assertRaisesRegex(ValueError, "at least one trial"):
            search(self.fine_tune({}), [], log=None)

    def test_budget_stops_with_the_best_so_far(self):
        trials = trial_grid([1.0, 2.0, 3.0], [8], [1], [0])
        outcome = search(self.fine_tune({1.0: 0.1, 2.0: 0.9, 3.0: 0.5}), trials,
                         budget_cpu_seconds=1e-6, log=None)
        self.assertEqual(self.calls, [trials[0].name])  # the first trial always runs
        self.assertEqual(sorted(outcome.not_run), sorted(t.name for t in trials[1:]))
        self.assertIn("budget", outcome.not_run[trials[1].name])
        self.assertEqual(outcome.best["trial_name"], trials[0].name)
        # A trial that the finished ones say would overrun the budget is not started either.
        self.calls.clear()
        trials = trial_grid([1.0], [8], [1, 10_000], [0])
        outcome = search(self.fine_tune({1.0: 0.1}), trials, budget_cpu_seconds=30.0, log=None)
        self.assertEqual(self.calls, [trials[0].name])
        self.assertIn("needs about", outcome.not_run[trials[1].name])

    def test_a_killed_search_resumes_from_its_record(self):
        folder = self.get_temp_dir()
        trials = trial_grid([1.0, 2.0, 3.0], [8], [1], [0])
        scores = {1.0: 0.3, 2.0: 0.9, 3.0: 0.5}
        with self.assertRaises(Killed):
            search(self.fine_tune(scores, kill_at=trials[2].name), trials, folder, key="k", log=None)
        self.assertEqual(self.calls, [t.name for t in trials[:2]])
        with open(os.path.join(folder, STATE_FILE)) as f:
            self.assertEqual([r["trial_name"] for r in json.load(f)["runs"]], self.calls)
        self.assertTrue(os.path.exists(os.path.join(folder, BEST_WEIGHTS)))
        # Started again: only the unfinished trial runs; the best (trial 2, from before the
        # kill) comes back from its saved weights, without its in-memory evaluation.
        self.calls.clear()
        outcome = search(self.fine_tune(scores), trials, folder, key="k", build_model=_model, log=None)
        self.assertEqual(self.calls, [trials[2].name])
        self.assertEqual([r["trial_name"] for r in outcome.runs], [t.name for t in trials])
        self.assertEqual(outcome.best["trial_name"], trials[1].name)
        self.assertEqual(_kernel(outcome.model), 2.0)
        self.assertIsNone(outcome.evaluation)
        # All finished: nothing runs again.
        self.calls.clear()
        again = search(self.fine_tune(scores), trials, folder, key="k", build_model=_model, log=None)
        self.assertEqual(self.calls, [])
        self.assertEqual(again.runs, outcome.runs)
        np.testing.assert_array_equal(again.model.get_weights()[0], outcome.model.get_weights()[0])

    def test_another_search_record_is_refused(self):
        folder = self.get_temp_dir()
        trials = trial_grid([1.0, 2.0], [8], [1], [0])
        search(self.fine_tune({1.0: 0.1, 2.0: 0.2}), trials, folder, key="k", log=None)
        with self.assertRaisesRegex(ValueError, "search.json is the record of another search"):
            search(self.fine_tune({1.0: 0.1, 2.0: 0.2}), trials, folder, key="other", log=None)
        with self.assertRaisesRegex(ValueError, "another search"):
            search(self.fine_tune({1.0: 0.1, 3.0: 0.2}), trial_grid([1.0, 3.0], [8], [1], [0]), folder,
                   key="k", log=None)

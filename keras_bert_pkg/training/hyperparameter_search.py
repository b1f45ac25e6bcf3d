"""Hyperparameter search on the dev set: the paper's selection of fine-tuning runs.

The paper fine-tuned each task over a small grid (appendix A.3: batch size 16 or 32,
learning rate 5e-5, 3e-5 or 2e-5, 2, 3 or 4 epochs) and kept the run with the best dev
score; on small data sets it also ran several random restarts (section 5). `search` runs
such a grid: each `Trial` (learning rate, batch size, epochs, seed) is fine-tuned by a
function the recipe gives, scored on dev, recorded with its CPU time, and the best one is
kept. A CPU budget stops the search with the best so far: a trial starts only when the
trials already run say it fits in what is left.

With a folder, the search resumes after a kill: every finished trial is recorded in
`search.json` and the best one's weights in `best.weights.h5` (both written whole or not
at all), so a search started again with the same settings skips the finished trials
(the trial that was running resumes from its own epoch checkpoints, which the recipe
keeps in a sub-folder named after the trial).

Example:
>>> trials = trial_grid(learning_rates=[1e-2, 1e-3], batch_sizes=[4], epochs=[1], seeds=[0])
>>> [t.name for t in trials]
['lr0.01_batch4_epochs1_seed0', 'lr0.001_batch4_epochs1_seed0']
>>> def fine_tune(trial):
...     model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
...     return {"score": -trial.learning_rate}, model, None
>>> outcome = search(fine_tune, trials, log=None)
>>> outcome.best["trial"]["learning_rate"], len(outcome.runs)
(0.001, 2)
"""

import dataclasses
import itertools
import json
import os
import time

import keras  # noqa: F401  (the doctest's model)

from keras_bert_pkg.atomic_files import atomic_path, atomic_write
from keras_bert_pkg.training.run_artifacts import process_cpu_seconds
from keras_bert_pkg.training.run_keys import same_run

# The paper's fine-tuning grid (appendix A.3).
PAPER_GRID = {"learning_rates": (5e-5, 3e-5, 2e-5), "batch_sizes": (16, 32), "epochs": (2, 3, 4)}

STATE_FILE, BEST_WEIGHTS = "search.json", "best.weights.h5"


@dataclasses.dataclass(frozen=True)
class Trial:
    """One fine-tuning setting of a search.

    Args:
        learning_rate: peak learning rate.
        batch_size: global batch size.
        epochs: training epochs (may be fractional).
        seed: seed of the new layers' weights, dropout and data order.
    """

    learning_rate: float
    batch_size: int
    epochs: float
    seed: int

    @property
    def name(self):
        """A folder-safe name, e.g. `lr3e-05_batch16_epochs3_seed0`."""
        return (f"lr{self.learning_rate:g}_batch{self.batch_size}_epochs{self.epochs:g}"
                f"_seed{self.seed}")

    def as_dict(self):
        return dataclasses.asdict(self)


def trial_grid(learning_rates, batch_sizes, epochs, seeds):
    """Every combination as a `Trial`, the shortest trials first (epochs, then batch size,
    learning rate and seed in the order given), so a budget sees the most settings."""
    return [Trial(float(lr), int(batch), float(n), int(seed))
            for n, batch, lr, seed in itertools.product(sorted(epochs), batch_sizes, learning_rates, seeds)]


@dataclasses.dataclass
class SearchOutcome:
    """What `search` returns.

    Attributes:
        best: the best trial's record (JSON: `"trial"`, `"score"`, `"cpu_seconds"`, and
            what the recipe's function recorded).
        runs: the records of every finished trial, in the order they ran.
        model: the best trial's model (its weights restored from `best.weights.h5` when
            it ran before a kill).
        evaluation: the best trial's dev evaluation as the recipe's function returned it,
            or None when the trial ran in an earlier process (evaluate `model` again).
        not_run: `{trial name: reason}` of the trials the budget left out.
        cpu_seconds: CPU seconds of all finished trials.
    """

    best: dict
    runs: list
    model: object
    evaluation: object
    not_run: dict
    cpu_seconds: float


def _read_state(folder, key, trials):
    path = os.path.join(folder, STATE_FILE)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    if not same_run(state.get("key"), key) or state.get("trials") != [t.name for t in trials]:
        raise ValueError(f"{path} is the record of another search (settings {state.get('key')!r}, "
                         f"trials {state.get('trials')}); remove it or use another output folder.")
    return state["runs"]


def _write_state(folder, key, trials, runs):
    with atomic_write(os.path.join(folder, STATE_FILE)) as f:
        json.dump({"key": key, "trials": [t.name for t in trials], "runs": runs}, f, indent=1, default=float)


def _estimated_cpu_seconds(trial, runs):
    """CPU seconds `trial` should take, from the CPU seconds per epoch of the finished
    runs (None before any run finished)."""
    per_epoch = [r["cpu_seconds"] / r["trial"]["epochs"] for r in runs if r["trial"]["epochs"] > 0]
    return max(per_epoch) * trial.epochs if per_epoch else None


def search(fine_tune, trials, folder=None, key="", budget_cpu_seconds=None, build_model=None, log=print):
    """Fine-tunes every trial in turn and keeps the one with the best dev score.

    Args:
        fine_tune: `trial -> (record, model, evaluation)`: fine-tunes a fresh model (from
            the same checkpoint) with the trial's settings; `record` is a JSON-able dict
            with a float `"score"` (higher is better), `evaluation` anything the recipe
            needs of the dev evaluation afterwards (predictions).
        trials: the `Trial`s, in the order to run them.
        folder: where `search.json` and `best.weights.h5` go, so a killed search resumes
            (None: nothing is saved; a search of one trial saves no weights).
        key: the settings of the search besides the trials (`recipe_flags.run_key`); a
            folder holding another search's record is refused.
        budget_cpu_seconds: no trial starts once the finished ones took this much CPU
            time, or when they say it would not finish within what is left.
        build_model: `() -> model` with the trials' architecture, for restoring the best
            weights when no trial ran in this process (a resumed, finished search).
        log: where the progress lines go (`print`; None for silence; a search of one trial
            is a plain run and logs nothing).

    Returns: a `SearchOutcome`; on equal scores the earlier trial wins.

    Raises:
        ValueError: for an empty trial list, or a folder holding another search's record.
    """
    if not trials:
        raise ValueError("search needs at least one trial.")
    say = log if log is not None and len(trials) > 1 else (lambda *_: None)  # one trial: a plain run
    save = folder is not None and len(trials) > 1
    runs = _read_state(folder, key, trials) if save else []
    finished = {r["trial_name"] for r in runs}
    if finished:
        say(f"search: {len(finished)} of {len(trials)} trials already finished in {folder}")
    best_model, best_evaluation, not_run = None, None, {}
    best = max(runs, key=lambda r: r["score"], default=None)
    for trial in trials:
        if trial.name in finished:
            continue
        spent = sum(r["cpu_seconds"] for r in runs)
        estimate = _estimated_cpu_seconds(trial, runs)
        if budget_cpu_seconds is not None and (spent >= budget_cpu_seconds or (
                estimate is not None and spent + estimate > budget_cpu_seconds)):
            not_run[trial.name] = (f"budget: {spent / 60:.1f} of {budget_cpu_seconds / 60:.1f} CPU-minutes "
                                   f"spent, this trial needs about {(estimate or 0) / 60:.1f}")
            say(f"search: {trial.name} not run ({not_run[trial.name]})")
            continue
        say(f"search: trial {len(runs) + 1} of {len(trials)}: {trial.name}")
        started, cpu = time.time(), process_cpu_seconds()
        record, model, evaluation = fine_tune(trial)
        record = dict(record, trial=trial.as_dict(), trial_name=trial.name,
                      seconds=round(time.time() - started, 1), cpu_seconds=round(process_cpu_seconds() - cpu, 3))
        runs.append(record)
        if best is None or record["score"] > best["score"]:
            best, best_model, best_evaluation = record, model, evaluation
            if save:
                with atomic_path(os.path.join(folder, BEST_WEIGHTS)) as tmp:
                    model.save_weights(tmp)
        if save:
            _write_state(folder, key, trials, runs)
        say(f"search: {trial.name}: dev score {record['score']:.4f} ({record['cpu_seconds'] / 60:.1f} CPU-min); "
            f"best so far {best['trial_name']} ({best['score']:.4f})")
    if best is None:
        raise ValueError(f"the budget of {budget_cpu_seconds / 60:.1f} CPU-minutes let no trial run.")
    if best_model is None:  # the best trial finished in an earlier process
        if build_model is None:
            raise ValueError("the best trial ran before this process started: give build_model to restore it.")
        best_model = build_model()
        best_model.load_weights(os.path.join(folder, BEST_WEIGHTS))
    return SearchOutcome(best, runs, best_model, best_evaluation, not_run,
                         round(sum(r["cpu_seconds"] for r in runs), 1))

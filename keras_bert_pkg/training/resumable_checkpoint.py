"""A training checkpoint that resumes a run exactly: every model variable (weights, and
the dropout seed states Keras keeps as variables), every optimizer variable (step count,
moments, loss scale) and a JSON state (step, history, data position)."""

import json
import os
import re
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.distribute.strategy_info import is_chief

_NAME = re.compile(r"^ckpt-(\d{9})$")


def _model_variables(model):
    return list(model.variables)


def _optimizer_variables(model):
    optimizer = model.optimizer
    if optimizer is None:
        return []
    if not optimizer.built:
        with model.distribute_strategy.scope():
            optimizer.build(model.trainable_variables)
    return list(optimizer.variables)


class ResumableCheckpoint:
    """Saves and restores the full state of a compiled model's training.

    A checkpoint is a folder `ckpt-NNNNNNNNN` (the step) holding `variables.npz` and
    `state.json`. It is written under a temporary name and renamed when complete, so a
    run killed while saving leaves the previous checkpoint intact. The newest
    `max_to_keep` checkpoints are kept. Under a multi-worker strategy every worker calls
    `save` (the values are read on each) but only the chief writes; every worker
    restores from the same (shared) directory.

    Args:
        directory: where checkpoints go.
        model: the compiled `keras.Model` (its optimizer is saved too).
        max_to_keep: checkpoints kept (older ones are deleted).

    Example:
    >>> import tempfile
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> checkpoint = ResumableCheckpoint(tempfile.mkdtemp(), model)
    >>> folder = checkpoint.save(1000, {"history": [{"step": 1000, "loss": 0.5}]})
    >>> state = checkpoint.restore()  # the newest; None when there is none
    >>> state["step"], state["history"]
    (1000, [{'step': 1000, 'loss': 0.5}])
    """

    def __init__(self, directory, model, max_to_keep=2):
        self.directory = str(directory)
        self.model = model
        self.max_to_keep = max(int(max_to_keep), 1)

    def _variables(self):
        return {"model": _model_variables(self.model), "optimizer": _optimizer_variables(self.model)}

    def steps(self):
        """Steps of the complete checkpoints in the directory, increasing."""
        if not tf.io.gfile.isdir(self.directory):
            return []
        found = []
        for name in tf.io.gfile.listdir(self.directory):
            match = _NAME.match(name.rstrip("/"))
            if match and tf.io.gfile.exists(os.path.join(self.directory, name.rstrip("/"), "state.json")):
                found.append(int(match.group(1)))
        return sorted(found)

    def latest_step(self):
        """The newest checkpoint's step, or None."""
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, step, state=None, extra=None):
        """Writes the checkpoint of `step` with the JSON-serialisable `state` dict and
        `extra` arrays (`{name: list of arrays}`, e.g. the weights of a kept epoch), on
        the chief; other workers only read their values."""
        step = int(step)
        final = os.path.join(self.directory, f"ckpt-{step:09d}")
        arrays, paths = {}, {}
        for group, variables in self._variables().items():
            paths[group] = [v.path for v in variables]
            for i, v in enumerate(variables):
                arrays[f"{group}/{i:06d}"] = keras.ops.convert_to_numpy(v.value)
        extra_counts = {name: len(values) for name, values in (extra or {}).items()}
        for name, values in (extra or {}).items():
            for i, value in enumerate(values):
                arrays[f"extra/{name}/{i:06d}"] = np.asarray(value)
        if not is_chief(self.model.distribute_strategy):
            return final
        os.makedirs(self.directory, exist_ok=True)
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        np.savez(os.path.join(tmp, "variables.npz"), **arrays)
        payload = dict(state or {}, step=step, variable_paths=paths, extra_counts=extra_counts)
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump(payload, f, indent=1, default=float)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self.steps()[: -self.max_to_keep]:
            shutil.rmtree(os.path.join(self.directory, f"ckpt-{old:09d}"), ignore_errors=True)
        return final

    def restore(self, step=None):
        """Assigns a checkpoint's values to the model and optimizer.

        Args:
            step: the step to restore; default the newest.

        Returns: the saved state dict (with `step`, and `extra`: the saved extra arrays
        by name), or None when there is no checkpoint.

        Raises:
            ValueError: naming the checkpoint, when its variables do not match the
                model's (another architecture or optimizer).
        """
        step = self.latest_step() if step is None else int(step)
        if step is None:
            return None
        folder = os.path.join(self.directory, f"ckpt-{step:09d}")
        with open(os.path.join(folder, "state.json")) as f:
            state = json.load(f)
        saved_paths = state.pop("variable_paths")
        extra_counts = state.pop("extra_counts", {})
        with np.load(os.path.join(folder, "variables.npz")) as arrays:
            state["extra"] = {name: [arrays[f"extra/{name}/{i:06d}"] for i in range(count)]
                              for name, count in extra_counts.items()}
            for group, variables in self._variables().items():
                # Variables are matched by order (auto-numbered names such as
                # `seed_generator_3` differ between processes); count and shapes must agree.
                saved = saved_paths[group]
                if len(saved) != len(variables):
                    raise ValueError(
                        f"Checkpoint {folder}: {len(saved)} {group} variables saved, this run "
                        f"has {len(variables)} (another architecture or optimizer?).")
                values = [arrays[f"{group}/{i:06d}"] for i in range(len(variables))]
                for v, value, path in zip(variables, values, saved):
                    if tuple(value.shape) != tuple(v.shape):
                        raise ValueError(
                            f"Checkpoint {folder}: {group} variable {path} has shape "
                            f"{value.shape}, this run's {v.path} has {tuple(v.shape)}.")
                for v, value in zip(variables, values):
                    v.assign(value)
        return state

"""Assigning canonical tensors to a model, and the report of what was (not) used.

Every loader ends here: it hands `assign_tensors` the model's `WeightEntry` list and the
checkpoint's tensors under canonical names. Shapes are checked first (an error names the
tensor and both shapes); weights that got no tensor and tensors that went unused are
listed in a `LoadReport`, which warns or raises — never silently drops them.

Example:
>>> report = LoadReport("ckpt", "tf1")
>>> report.unused = ["cls/predictions/output_bias"]
>>> print(report.summary())
ckpt (tf1): 0 weights loaded; 1 checkpoint tensor(s) not used: cls/predictions/output_bias
"""

import inspect
import os
import warnings
from collections.abc import Mapping

import keras
import numpy as np

from keras_bert_pkg.broken_files import check_finite
from keras_bert_pkg.checkpoints.weight_map import model_weight_map


def caller_stacklevel():
    """The `stacklevel` that points a warning at the first frame outside this package."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for level, frame in enumerate(inspect.stack()[1:], start=1):
        if not os.path.abspath(frame.filename).startswith(package + os.sep):
            return level
    return 2


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model (shape mismatch, missing or unused tensors)."""


class LoadReport:
    """What a loader did with a checkpoint.

    Attributes:
        source: the checkpoint path (or name).
        format: `"hf"`, `"tf1"`, `"keras_hub"`, `"model_garden"` or `"keras"`.
        loaded: canonical names that were assigned.
        missing: `(canonical name, variable path)` of model weights that got no tensor
            (they keep their random initial values).
        unused: checkpoint tensor names (in the checkpoint's own naming) not used.
        ignored: dict checkpoint tensor name → reason, for tensors that are known not
            to be weights (optimizer slots, step counters, buffers, tied copies).
    """

    def __init__(self, source, format):
        self.source = str(source)
        self.format = format
        self.loaded = []
        self.missing = []
        self.unused = []
        self.ignored = {}
        self.hint = None

    @property
    def complete(self):
        """True when every weight got a tensor and every tensor was used or explained."""
        return not self.missing and not self.unused

    def summary(self):
        """A one-paragraph human-readable account, listing every missing/unused name."""
        parts = [f"{self.source} ({self.format}): {len(self.loaded)} weights loaded"]
        if self.missing:
            names = ", ".join(f"{name} ({path})" for name, path in self.missing)
            parts.append(f"{len(self.missing)} model weight(s) got no tensor and keep their initial values: {names}")
        if self.unused:
            parts.append(f"{len(self.unused)} checkpoint tensor(s) not used: {', '.join(self.unused)}")
        if self.ignored:
            reasons = {}
            for name, reason in self.ignored.items():
                reasons.setdefault(reason, []).append(name)
            parts.append(
                "ignored: " + "; ".join(f"{len(v)} {reason}" for reason, v in sorted(reasons.items()))
            )
        text = "; ".join(parts)
        if self.hint and not self.complete:
            text += f". {self.hint}"
        return text

    def check(self, strict=False):
        """Warns (or with `strict=True` raises `CheckpointMismatchError`) when incomplete."""
        if self.complete:
            return self
        if strict:
            raise CheckpointMismatchError(self.summary())
        warnings.warn(self.summary(), stacklevel=caller_stacklevel())
        return self

    def __repr__(self):
        return f"LoadReport({self.summary()})"


def assign_tensors(entries, tensors, report, names=None):
    """Assigns checkpoint tensors to the model's weights.

    Args:
        entries: the model's `WeightEntry` list (see `weight_map.py`).
        tensors: a mapping canonical name → tensor (numpy-convertible); values are read
            only for names an entry needs, so lazy mappings avoid loading unused data.
        report: the `LoadReport` to fill (`loaded`, `missing`, `unused`).
        names: optional callable (or dict) canonical name → the checkpoint's own name,
            used in messages and in the report so users see the names they know.

    Raises:
        CheckpointMismatchError: on the first shape mismatch, naming the tensor, the
            checkpoint shape and the shape the model expects. Nothing is assigned then.
        BrokenFileError: a tensor holds NaN or infinity (named). Nothing is assigned then.
    """
    if names is None:
        names = {}
    if isinstance(names, dict):
        names = lambda name, table=names: table.get(name, name)  # noqa: E731
    pending = []
    for entry in entries:
        if entry.name not in tensors:
            report.missing.append((names(entry.name), entry.path))
            continue
        value = np.asarray(tensors[entry.name])
        if tuple(value.shape) != entry.canonical_shape:
            raise CheckpointMismatchError(
                f"{report.source}: tensor {names(entry.name)!r} has shape "
                f"{tuple(value.shape)} in the checkpoint but the model expects "
                f"{entry.canonical_shape} (for weight {entry.path})."
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise CheckpointMismatchError(
                f"{report.source}: tensor {names(entry.name)!r} has dtype "
                f"{value.dtype}, expected a floating-point tensor (for weight {entry.path})."
            )
        check_finite(value, repr(names(entry.name)), report.source)
        pending.append((entry, value))
    for entry, value in pending:
        entry.variable.assign(keras.ops.cast(entry.to_variable_layout(value), entry.variable.dtype))
        report.loaded.append(entry.name)
    used = {entry.name for entry in entries}
    report.unused.extend(names(name) for name in tensors if name not in used)
    return report


def load_weights(model, contents, strict=False):
    """Assigns a checkpoint's tensors to a `BertBackbone` or `BertPretrainer`.

    Args:
        model: the model, built with the checkpoint's configuration.
        contents: `CheckpointContents` from a format reader (`formats.read_checkpoint`).
        strict: raise `CheckpointMismatchError` instead of warning when tensors are unused
            or weights missing.

    Returns: the `LoadReport`.

    Example:
    >>> from keras_bert_pkg.checkpoints.formats import read_checkpoint
    >>> contents = read_checkpoint(checkpoint_dir)
    >>> backbone = kb.BertBackbone(**contents.config)
    >>> load_weights(backbone, contents).complete
    True
    """
    report = LoadReport(contents.source, contents.format)
    report.ignored.update(contents.ignored)
    if getattr(model, "masked_lm_head", None) is None and (
            contents.has_masked_lm_head or contents.has_next_sentence_head):
        report.hint = ("The checkpoint's pre-training heads are not part of a BertBackbone; "
                       "BertPretrainer.from_preset loads them too.")
    assign_tensors(model_weight_map(model), contents.tensors, report, names=contents.own_name)
    return report.check(strict=strict)


class LazyTensors(Mapping):
    """A read-only mapping name → tensor whose values are computed on first access.

    Args:
        getters: dict name → zero-argument callable returning the tensor.
        shapes: optional dict name → shape (for listing without reading).
    """

    def __init__(self, getters, shapes=None):
        self._getters = dict(getters)
        self.shapes = dict(shapes or {})

    def __getitem__(self, name):
        return self._getters[name]()

    def __iter__(self):
        return iter(self._getters)

    def __len__(self):
        return len(self._getters)

    def __contains__(self, name):
        return name in self._getters

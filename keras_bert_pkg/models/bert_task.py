"""BertTask: the base of every task model (a backbone, one output layer, an optional
preprocessor that lets `fit`/`evaluate`/`predict` take raw text)."""

import keras
import tensorflow as tf


def _is_raw(x):
    """True for raw-text inputs (strings, or a tuple of string batches)."""
    if isinstance(x, dict):
        return False
    first = tf.nest.flatten(x)[0] if isinstance(x, (tuple, list)) and x else x
    if isinstance(first, str):
        return True
    if isinstance(first, bytes):
        return True
    if hasattr(first, "dtype"):
        return first.dtype == tf.string or getattr(first.dtype, "kind", "") in "OSU"
    return False


class BertTask(keras.Model):
    """A functional task model over a `BertBackbone`, with optional raw-text input.

    Subclasses build their functional graph on `backbone.input`, call
    `super().__init__(inputs=..., outputs=..., backbone=..., preprocessor=...)`, and
    list their own constructor arguments in `get_config`. When a `preprocessor` is set,
    `fit`, `evaluate` and `predict` accept raw strings (a tuple `(a, b)` for pairs) or a
    `tf.data.Dataset` of them, and tokenize inside the input pipeline (batched, in
    parallel) so the model itself stays a plain token-id model that exports cleanly.

    Args:
        backbone: the `BertBackbone`.
        preprocessor: a `BertPreprocessor`, or None to take token-id dicts only.
    """

    def __init__(self, *, backbone, preprocessor=None, inputs=None, outputs=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor

    # --- raw text through the input pipeline -------------------------------------
    def _pipeline(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False):
        if self.preprocessor is None:
            return None
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if _is_spec_raw(spec):  # text only: a batch of strings, or a pair of them
                ds = x.map(lambda *a: (a if len(a) > 1 else a[0],))
            elif isinstance(spec, tuple) and _is_spec_raw(spec[0]):  # (text, labels, ...)
                ds = x
            else:
                return None
        else:
            if not _is_raw(x):
                return None
            data = (x,) + tuple(d for d in (y, sample_weight) if d is not None)
            ds = tf.data.Dataset.from_tensor_slices(data)
            if shuffle:
                ds = ds.shuffle(len(tf.nest.flatten(x)[0]), reshuffle_each_iteration=True)
            ds = ds.batch(batch_size or 32)
        pre = self.preprocessor
        ds = ds.map(lambda *d: (pre(d[0]),) + tuple(d[1:]), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True, sample_weight=None, **kwargs):
        ds = self._pipeline(x, y, sample_weight, batch_size, shuffle=shuffle)
        if validation_data is not None and self.preprocessor is not None:
            if isinstance(validation_data, tf.data.Dataset):
                validation_data = self._pipeline(validation_data) or validation_data
            else:
                vx, vy = validation_data[0], validation_data[1]
                validation_data = self._pipeline(vx, vy, batch_size=batch_size) or validation_data
        if ds is not None:
            return super().fit(ds, validation_data=validation_data, **kwargs)
        return super().fit(x, y, batch_size=batch_size, validation_data=validation_data,
                           shuffle=shuffle, sample_weight=sample_weight, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs):
        ds = self._pipeline(x, y, sample_weight, batch_size)
        if ds is not None:
            return super().evaluate(ds, **kwargs)
        return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        ds = self._pipeline(x, batch_size=batch_size)
        if ds is not None:
            return super().predict(ds.map(lambda *d: d[0]), **kwargs)
        return super().predict(x, batch_size=batch_size, **kwargs)

    # --- serialization ------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor)
            if self.preprocessor is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)


def _is_spec_raw(spec):
    flat = tf.nest.flatten(spec)
    return bool(flat) and all(getattr(s, "dtype", None) == tf.string for s in flat)

"""BertTask: the base of every task model (a backbone, one output layer, an optional
preprocessor that lets `fit`/`evaluate`/`predict` take raw text)."""

import weakref

import keras
import tensorflow as tf

from keras_bert_pkg.checkpoints.presets import read_preset, tokenizer_config
from keras_bert_pkg.frozen_weights import refuse_training
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

# model -> tf.function of its preprocessor. Held outside the model so that SavedModel
# export never sees it; reusing one traced function makes every later `fit`/`predict`
# pipeline cheap to build (the in-graph tokenizer is a large graph to trace).
_PREPROCESS_FUNCTIONS = weakref.WeakKeyDictionary()


def _is_raw(x):
    """True for raw-text inputs (strings, or a tuple of string batches)."""
    if isinstance(x, dict):
        return False
    first = x[0] if isinstance(x, tuple) and x else x  # a tuple holds the (a, b) segments
    if isinstance(first, (list, tuple)):
        first = tf.nest.flatten(first)[0] if first else None
    if isinstance(first, (str, bytes)):
        return True
    if isinstance(first, (tf.Tensor, tf.RaggedTensor)):
        return first.dtype == tf.string
    dtype = getattr(first, "dtype", None)  # numpy arrays (str_ / bytes_ / object of str)
    return dtype is not None and getattr(dtype, "kind", None) in ("O", "S", "U")


def _num_examples(x):
    """Number of examples of a raw-text input (a batch, or a tuple of segment batches)."""
    first = x[0] if isinstance(x, tuple) else x
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else len(first)


class BertTask(keras.Model):
    """A functional task model over a `BertBackbone`, with optional raw-text input.

    Subclasses build their functional graph on `backbone.input`, call
    `super().__init__(inputs=..., outputs=..., backbone=..., preprocessor=...)`, and
    list their own constructor arguments in `get_config`. When a `preprocessor` is set,
    `fit`, `evaluate` and `predict` accept raw strings (a tuple `(a, b)` for pairs) or a
    `tf.data.Dataset` of them, and tokenize inside the input pipeline (batched, in
    parallel) so the model itself stays a plain token-id model that exports cleanly.

    `Task.from_preset(name_or_path, ...)` builds the task on a pretrained checkpoint's
    backbone (weights loaded) with a preprocessor made from the checkpoint's own
    vocabulary and casing, so `predict(["raw text"])` works at once.

    Args:
        backbone: the `BertBackbone`.
        preprocessor: a `BertPreprocessor`, or None to take token-id dicts only.
    """

    # Token-level tasks (span labeling, tagging) leave the pooler out of their graph: it
    # gets no gradient, so it is not trained (and not decayed), and Keras is not handed a
    # variable without a gradient.
    uses_pooled_output = True

    def __init__(self, *, backbone, preprocessor=None, inputs=None, outputs=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor

    def _trained(self, variables):
        if self.uses_pooled_output:
            return variables
        pooler = {id(v) for v in self.backbone.pooled_dense.weights}
        return [v for v in variables if id(v) not in pooler]

    @property
    def trainable_weights(self):
        return self._trained(super().trainable_weights)

    @property
    def trainable_variables(self):
        return self._trained(super().trainable_variables)

    @classmethod
    def from_preset(cls, preset, sequence_length=None, load_weights=True, strict=False, **kwargs):
        """Builds the task on a pretrained checkpoint, with a matching preprocessor.

        Args:
            preset: a published checkpoint name (`checkpoints.registry`) or a checkpoint
                directory / file of any supported format; its vocabulary (and casing)
                makes the preprocessor.
            sequence_length: the preprocessor's packed length (default: the backbone's
                positions, 512 for BERT's checkpoints; batches are padded only to their
                longest row).
            load_weights: False builds the backbone's architecture with random weights.
            strict: raise instead of warning on unused tensors or missing weights.
            **kwargs: the task's own arguments (e.g. `num_classes=2`).

        Example:
        >>> classifier = BertClassifier.from_preset(checkpoint_dir, num_classes=2)
        >>> classifier.predict(["a fine film"], verbose=0).shape
        (1, 2)
        """
        contents = read_preset(preset)
        backbone = BertBackbone.from_contents(contents, load_weights, strict)
        preprocessor = BertPreprocessor(BertTokenizer(**tokenizer_config(contents)),
                                        sequence_length=sequence_length or backbone.max_sequence_length,
                                        dynamic_padding=True)
        return cls(backbone=backbone, preprocessor=preprocessor, **kwargs)

    # --- raw text through the input pipeline -------------------------------------
    def _pipeline(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False):
        if self.preprocessor is None:
            return None
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if _is_spec_raw(spec):  # text only: a batch of strings, or a pair of them
                text_spec = spec
                ds = x.map(lambda *a: (a if len(a) > 1 else a[0],))
            elif isinstance(spec, tuple) and _is_spec_raw(spec[0]):  # (text, labels, ...)
                text_spec = spec[0]
                ds = x
            else:
                return None
            if tf.nest.flatten(text_spec)[0].shape.rank == 0:  # unbatched strings
                ds = ds.batch(batch_size or 32)
        else:
            if not _is_raw(x):
                return None
            data = (x,) + tuple(d for d in (y, sample_weight) if d is not None)
            ds = tf.data.Dataset.from_tensor_slices(data)
            if shuffle:
                ds = ds.shuffle(_num_examples(x), reshuffle_each_iteration=True)
            ds = ds.batch(batch_size or 32)
        pre = self._preprocess_function()
        ds = ds.map(lambda *d: (pre(d[0]),) + tuple(d[1:]), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def _preprocess_function(self):
        entry = _PREPROCESS_FUNCTIONS.get(self)
        if entry is None or entry[0] is not self.preprocessor:
            preprocessor = self.preprocessor
            entry = (preprocessor, tf.function(lambda x: preprocessor(x), reduce_retracing=True))
            _PREPROCESS_FUNCTIONS[self] = entry
        return entry[1]

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True, sample_weight=None, **kwargs):
        ds = self._pipeline(x, y, sample_weight, batch_size, shuffle=shuffle)
        if validation_data is not None and self.preprocessor is not None:
            if isinstance(validation_data, tf.data.Dataset):
                validation_data = self._pipeline(validation_data) or validation_data
            else:
                vx, vy = validation_data[0], validation_data[1]
                vw = validation_data[2] if len(validation_data) > 2 else None
                validation_data = self._pipeline(vx, vy, vw, batch_size=batch_size) or validation_data
        if ds is not None:  # shuffling already happened in the pipeline
            return super().fit(ds, validation_data=validation_data, shuffle=False, **kwargs)
        if isinstance(x, tf.data.Dataset):  # a dataset shuffles itself (Keras warns otherwise)
            shuffle = False
        return super().fit(x, y, batch_size=batch_size, validation_data=validation_data,
                           shuffle=shuffle, sample_weight=sample_weight, **kwargs)

    def make_train_function(self, force=False):
        """Keras's, after `frozen_weights.refuse_training` (`fit` and `train_on_batch`
        both build their step here): under oneDNN's frozen-weights mode a step would
        compute with the initial weights."""
        refuse_training()
        return super().make_train_function(force)

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
    def compile_from_config(self, config):
        """Re-compiles a loaded model through this class's own `compile` (subclasses
        override `compile` to supply default losses; Keras would otherwise skip it)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

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

"""The shared base of the project's tests.

`TestCase.run_backbone_test` and `TestCase.run_task_test` check what every backbone and
task model must do: predict on raw text (tasks), on token ids and on a `tf.data` pipeline,
fit, a JSON config round trip, `.keras` save/load with identical outputs and no warnings,
and mixed precision. `run_model_test` and `run_serialization_test` are their building
blocks for other models and layers.

`SHARED_DATA` is the real data beside the project (`../shared/data`). Tests that read it
carry `requires_shared_data` and skip, with the reason, where it is absent; tests of pure
logic run anywhere.
"""

import json
import os
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KERAS_BERT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
HAS_SHARED_DATA = SHARED_DATA.is_dir()
requires_shared_data = pytest.mark.skipif(
    not HAS_SHARED_DATA,
    reason=f"needs the real data of ../shared/data (not found at {SHARED_DATA}; set "
           "KERAS_BERT_SHARED_DATA to point elsewhere)")

UNCASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt"
CASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-cased" / "vocab.txt"
CHINESE_VOCAB = SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt"
MINILM_DIR = SHARED_DATA / "weights" / "all-MiniLM-L6-v2"

# A small vocabulary for tests that need no real one.
SMALL_VOCABULARY = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                    + "the a cat sat on mat dog film good bad was is it who lived in london "
                      "george paris , . ? ##s".split())


def tiny_backbone_config(**overrides):
    """A BertBackbone config small enough for unit tests (vocab of the uncased file)."""
    config = dict(
        vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64, dropout=0.0,
    )
    config.update(overrides)
    return config


def _flatten(x):
    return [np.asarray(t) for t in tf.nest.flatten(x)]


def _user_warnings(caught):
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


class TestCase(tf.test.TestCase):
    """Base test case with model/layer round-trip checks."""

    test_session = None  # tf.test.TestCase's deprecated helper, not a test

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(1337)
        keras.config.set_dtype_policy("float32")

    def tearDown(self):
        keras.config.set_dtype_policy("float32")
        super().tearDown()

    def assertAllCloseNested(self, a, b, atol=1e-6, rtol=1e-6):
        fa, fb = _flatten(a), _flatten(b)
        self.assertEqual(len(fa), len(fb))
        for x, y in zip(fa, fb):
            if x.dtype.kind in "OSU":
                np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)

    def run_serialization_test(self, obj):
        """`get_config` → JSON → `from_config` gives an object with the same config."""
        config = obj.get_config()
        revived = obj.__class__.from_config(json.loads(json.dumps(config)))
        self.assertEqual(revived.get_config(), config)
        return revived

    def run_model_test(self, model, inputs, targets=None, loss=None, fit=True, atol=1e-6):
        """Predict, config round-trip, fit one step, `.keras` save/load equality.

        Args:
            model: a built or unbuilt `keras.Model`.
            inputs: a batch the model accepts.
            targets: labels for `fit` (skipped when `fit=False`).
            loss: loss for `compile`; when None the model must compile itself
                (`model.compile()` with its own default loss).
        """
        out = model.predict(inputs, verbose=0)
        revived = self.run_serialization_test(model)
        self.assertIsInstance(revived, model.__class__)
        if fit:
            if loss is None:
                model.compile(optimizer=keras.optimizers.Adam(1e-3))
            else:
                model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
            history = model.fit(inputs, targets, epochs=1, verbose=0,
                                batch_size=len(tf.nest.flatten(inputs)[0]))
            self.assertTrue(np.isfinite(history.history["loss"][0]))
            out = model.predict(inputs, verbose=0)
        loaded = self.save_and_load(model)
        self.assertAllCloseNested(out, loaded.predict(inputs, verbose=0), atol=atol, rtol=atol)
        return out

    def save_and_load(self, model):
        """`.keras` round trip; fails on any warning while saving or loading."""
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            loaded = keras.models.load_model(path)
        self.assertEqual(_user_warnings(caught), [])
        return loaded

    def run_backbone_test(self, cls, init_kwargs, inputs, expected_output_shape):
        """What every backbone does: outputs of the expected shapes, a JSON config round
        trip, `.keras` save/load with the same outputs, the same outputs from a `tf.data`
        batch, mixed precision with float outputs close to float32's."""
        backbone = cls(**init_kwargs)
        out = backbone(inputs)
        self.assertEqual(tuple(out["sequence_output"].shape), expected_output_shape)
        self.assertEqual(tuple(out["pooled_output"].shape),
                         (expected_output_shape[0], expected_output_shape[-1]))
        self.run_serialization_test(backbone)
        loaded = self.save_and_load(backbone)
        self.assertAllCloseNested(loaded(inputs), out, atol=1e-6, rtol=1e-6)
        batched = next(iter(tf.data.Dataset.from_tensor_slices(inputs).batch(len(inputs["token_ids"]))))
        self.assertAllCloseNested(backbone(batched), out, atol=1e-6, rtol=1e-6)
        mixed = cls(**dict(init_kwargs, dtype="mixed_bfloat16"))
        mixed.set_weights(backbone.get_weights())
        mixed_out = mixed(inputs)["sequence_output"]
        self.assertEqual(mixed_out.dtype, "bfloat16")
        np.testing.assert_allclose(np.asarray(tf.cast(mixed_out, tf.float32)),
                                   np.asarray(out["sequence_output"]), atol=0.1)
        return backbone

    def run_task_test(self, cls, init_kwargs, raw_inputs, labels, expected_output_shape,
                      token_outputs_key=None):
        """What every task model with a preprocessor does, on raw text.

        Args:
            cls: the task class.
            init_kwargs: constructor arguments, `backbone` and `preprocessor` included.
            raw_inputs: a raw-text batch (a list of strings, or a tuple of them).
            labels: labels for `fit` (an array, or a dict of arrays).
            expected_output_shape: the shape of the output (of `token_outputs_key` for
                dict outputs).
        """
        model = cls(**init_kwargs)

        def main_output(out):
            return out[token_outputs_key] if token_outputs_key else out

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw_out = model.predict(raw_inputs, verbose=0)
        self.assertEqual(_user_warnings(caught), [])
        self.assertEqual(tuple(main_output(raw_out).shape), expected_output_shape)
        # Token ids: the preprocessor's packing gives the same outputs.
        token_inputs = model.preprocessor(raw_inputs)
        self.assertAllCloseNested(model.predict(token_inputs, verbose=0), raw_out, atol=1e-5, rtol=1e-5)
        # tf.data of raw text.
        text_ds = tf.data.Dataset.from_tensor_slices(raw_inputs).batch(2)
        self.assertAllCloseNested(model.predict(text_ds, verbose=0), raw_out, atol=1e-5, rtol=1e-5)
        # Config round trip (JSON) and fit on raw text, as a list and as tf.data.
        self.run_serialization_test(model)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(raw_inputs, labels, batch_size=2, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        labelled = tf.data.Dataset.from_tensor_slices((raw_inputs, labels)).batch(2)
        history = model.fit(labelled, epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        trained = model.predict(raw_inputs, verbose=0)
        # .keras save/load: same outputs, no warning.
        loaded = self.save_and_load(model)
        self.assertAllCloseNested(loaded.predict(raw_inputs, verbose=0), trained, atol=1e-6, rtol=1e-6)
        # Mixed precision: float32 outputs close to float32's.
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            mixed = cls.from_config(model.get_config())  # the vocabulary is an asset, not config
            mixed.preprocessor.tokenizer.set_vocabulary(model.preprocessor.tokenizer.get_vocabulary())
            mixed.set_weights(model.get_weights())
            mixed_out = main_output(mixed.predict(raw_inputs, verbose=0))
        finally:
            keras.config.set_dtype_policy("float32")
        self.assertTrue(np.isfinite(np.asarray(mixed_out, np.float32)).all())
        np.testing.assert_allclose(np.asarray(mixed_out, np.float32),
                                   np.asarray(main_output(trained), np.float32), atol=0.25)
        return model

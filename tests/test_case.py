"""The shared base for the project's tests.

`TestCase.run_model_test` checks what every model must do: build, predict, fit on a
tiny batch, `get_config`/`from_config` round-trip, and `.keras` save/load with identical
outputs. `SHARED_DATA` is the real data beside the project (`../shared/data`).
"""

import os
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KERAS_BERT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
if not SHARED_DATA.is_dir():  # the tests read real data; there is no silent fallback
    raise RuntimeError(
        f"Real test data not found at {SHARED_DATA}. Put the shared data beside the "
        "project (../shared/data) or set KERAS_BERT_SHARED_DATA."
    )

UNCASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt"
CASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-cased" / "vocab.txt"
CHINESE_VOCAB = SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt"
MINILM_DIR = SHARED_DATA / "weights" / "all-MiniLM-L6-v2"


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


class TestCase(tf.test.TestCase):
    """Base test case with model/layer round-trip checks."""

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(1337)
        keras.config.set_dtype_policy("float32")

    def assertAllCloseNested(self, a, b, atol=1e-6, rtol=1e-6):
        fa, fb = _flatten(a), _flatten(b)
        self.assertEqual(len(fa), len(fb))
        for x, y in zip(fa, fb):
            if x.dtype.kind in "OSU":
                np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)

    def run_serialization_test(self, obj):
        """`get_config` → `from_config` gives an object with the same config."""
        config = obj.get_config()
        revived = obj.__class__.from_config(config)
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
            history = model.fit(inputs, targets, epochs=1, verbose=0, batch_size=len(tf.nest.flatten(inputs)[0]))
            self.assertTrue(np.isfinite(history.history["loss"][0]))
            out = model.predict(inputs, verbose=0)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            loaded = keras.models.load_model(path)
        self.assertAllCloseNested(out, loaded.predict(inputs, verbose=0), atol=atol, rtol=atol)
        return out

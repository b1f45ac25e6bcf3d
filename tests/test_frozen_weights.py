"""oneDNN's frozen-weights mode (`TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1`): why training
refuses it (TensorFlow still keeps stale weights under it: this test fails when that
changes, and then the refusal can go), that `fit` and `train_on_batch` refuse it, and that
inference under it gives the outputs of the normal mode. The mode is read once a process, so the checks under it
run in child processes."""

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np

from keras_bert_pkg.frozen_weights import ENV_VAR, frozen_weights_assumed
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from tests.test_case import TestCase, tiny_backbone_config

ROOT = Path(__file__).resolve().parents[1]


def run_child(code, frozen):
    """Runs `code` in a fresh Python with the mode on or off; returns its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{ENV_VAR: "1" if frozen else "0"})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise AssertionError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def onednn_on():
    return (os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"
            and platform.machine().lower() in ("x86_64", "amd64"))


class FrozenWeightsTest(TestCase):
    def test_environment_values(self):
        self.assertTrue(frozen_weights_assumed({ENV_VAR: "true"}))
        self.assertTrue(frozen_weights_assumed({ENV_VAR: " 1 "}))
        self.assertFalse(frozen_weights_assumed({ENV_VAR: "0"}))
        self.assertFalse(frozen_weights_assumed({}))

    def test_training_refuses_the_mode(self):
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = {"token_ids": np.ones((4, 8), "int32"), "segment_ids": np.zeros((4, 8), "int32"),
             "padding_mask": np.ones((4, 8), "int32")}
        with mock.patch.dict(os.environ, {ENV_VAR: "1"}):
            with self.assertRaisesRegex(RuntimeError, f"{ENV_VAR} is set in this process's environment"):
                model.fit(x, np.zeros(4, "int32"), epochs=1, verbose=0)
            with self.assertRaisesRegex(RuntimeError, f"{ENV_VAR} is set"):
                model.train_on_batch(x, np.zeros(4, "int32"))
        model.fit(x, np.zeros(4, "int32"), epochs=1, verbose=0)  # without it: trains

    def test_tensorflow_still_keeps_the_first_weights_under_the_mode(self):
        if not onednn_on():
            self.skipTest("TensorFlow's oneDNN kernels are off here: the mode does nothing")
        code = """
            import numpy as np, tensorflow as tf
            x = tf.random.stateless_normal((16, 32), seed=(1, 2))
            w = tf.Variable(tf.random.stateless_normal((32, 64), seed=(3, 4)))
            b = tf.Variable(tf.zeros(64))
            dense = tf.function(lambda: tf.nn.bias_add(tf.matmul(x, w), b))
            before = dense().numpy()
            w.assign(-w)
            print("STALE", bool(np.allclose(dense().numpy(), before)))
        """
        self.assertIn("STALE False", run_child(code, frozen=False))
        self.assertIn("STALE True", run_child(code, frozen=True),
                      f"TensorFlow now follows weight updates under {ENV_VAR}: "
                      "frozen_weights.refuse_training may no longer be needed")

    def test_inference_under_the_mode_gives_the_same_outputs(self):
        folder = self.get_temp_dir()
        backbone = BertBackbone(**tiny_backbone_config())
        path = os.path.join(folder, "backbone.keras")
        backbone.save(path)
        x = {"token_ids": np.random.default_rng(0).integers(1000, 30000, (3, 16)).astype("int32"),
             "segment_ids": np.zeros((3, 16), "int32"), "padding_mask": np.ones((3, 16), "int32")}
        np.savez(os.path.join(folder, "x.npz"), **x)
        expected = backbone.predict(x, verbose=0)["sequence_output"]
        code = f"""
            import numpy as np, keras, keras_bert_pkg
            x = dict(np.load({os.path.join(folder, 'x.npz')!r}))
            model = keras.saving.load_model({path!r})
            for _ in range(2):  # the second call runs on the kept weights
                out = model.predict(x, verbose=0)["sequence_output"]
            np.save({os.path.join(folder, 'out.npy')!r}, out)
        """
        run_child(code, frozen=True)
        self.assertAllClose(np.load(os.path.join(folder, "out.npy")), expected, atol=1e-5)

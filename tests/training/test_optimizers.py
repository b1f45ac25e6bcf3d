import json
import os
import tempfile

import keras
import numpy as np

from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics
from keras_bert_pkg.training.warmup_linear_decay import WarmupLinearDecay
from tests.test_case import TestCase


class OptimizerTest(TestCase):
    def test_schedule(self):
        s = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
        got = [float(s(i)) for i in (0, 5, 10, 55, 100, 150)]
        np.testing.assert_allclose(got, [0, 5e-5, 1e-4, 5e-5, 0, 0], atol=1e-10)
        self.assertEqual(WarmupLinearDecay.from_config(s.get_config()).get_config(), s.get_config())
        with self.assertRaisesRegex(ValueError, "warmup_steps"):
            WarmupLinearDecay(1e-4, total_steps=10, warmup_steps=20)

    def test_no_decay_on_layer_norm_and_bias(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4),
                                  keras.layers.LayerNormalization()])
        opt = create_optimizer(1e-3, total_steps=10, warmup_steps=0, weight_decay=0.5,
                               global_clipnorm=None)
        opt.build(model.trainable_variables)
        decayed = {v.name: opt._use_weight_decay(v) for v in model.trainable_variables}
        self.assertEqual(decayed, {"kernel": True, "bias": False, "gamma": False, "beta": False})
        self.assertEqual(opt.epsilon, 1e-6)
        self.assertEqual(type(create_optimizer(1e-3, 10, optimizer="lamb")).__name__, "Lamb")
        with self.assertRaisesRegex(ValueError, "sgd"):
            create_optimizer(1e-3, 10, optimizer="sgd")

    def test_artifacts(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_metrics(tmp, {"accuracy": np.float32(0.5)})
            self.assertEqual(json.load(open(path)), {"accuracy": 0.5})
            png = plot_history({"loss": [2.0, 1.0], "val_loss": [2.5, 1.5], "acc": [0.1, 0.2]},
                               os.path.join(tmp, "curve.png"))
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

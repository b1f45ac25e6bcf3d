import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_pkg import BertBackbone, BertClassifier
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.training.fused_adamw import FusedAdamW
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.warmup_linear_decay import WarmupLinearDecay
from tests.test_case import PROJECT_ROOT, TestCase, tiny_backbone_config


def _pretraining_batch(batch=4, length=12, predictions=3, seed=0):
    rng = np.random.default_rng(seed)
    x = {"token_ids": rng.integers(1000, 30000, (batch, length)).astype("int32"),
         "segment_ids": np.zeros((batch, length), "int32"),
         "padding_mask": np.ones((batch, length), "int32"),
         "masked_lm_positions": np.sort(rng.choice(np.arange(1, length), (batch, predictions)), 1).astype("int32")}
    y = {"masked_lm_ids": rng.integers(1000, 30000, (batch, predictions)).astype("int32"),
         "masked_lm_weights": np.ones((batch, predictions), "float32"),
         "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype("int32")}
    return x, y


def _keras_adamw(**kwargs):
    opt = keras.optimizers.AdamW(**kwargs)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


def _fused_adamw(**kwargs):
    opt = FusedAdamW(**kwargs)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


class FusedAdamWTest(TestCase):
    def test_same_updates_as_keras_adamw(self):
        # Random variables and gradients, a schedule, weight decay, clipping: identical.
        rng = np.random.default_rng(0)
        shapes = [(5, 7), (7,), (3, 4, 2)]
        start = [rng.normal(size=s).astype("float32") for s in shapes]
        results = []
        for make in (keras.optimizers.AdamW, FusedAdamW):
            variables = [keras.Variable(v) for v in start]
            opt = make(learning_rate=WarmupLinearDecay(1e-2, total_steps=10, warmup_steps=2),
                       weight_decay=0.01, epsilon=1e-6, global_clipnorm=1.0)
            grads_rng = np.random.default_rng(1)
            for _ in range(5):
                grads = [grads_rng.normal(size=s).astype("float32") for s in shapes]
                opt.apply([tf.constant(g) for g in grads], variables)
            results.append([v.numpy() for v in variables] + [v.numpy() for v in opt.variables])
        for got, expected in zip(results[1], results[0]):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        self.assertGreater(np.abs(results[0][0] - start[0]).max(), 1e-3)  # it did move

    def test_pretraining_steps_match_keras_adamw(self):
        # A BertPretrainer: tied embeddings (dense + sparse gradients), excluded LayerNorm
        # and bias variables, compiled `fit`; fused and Keras updates give the same model.
        x, y = _pretraining_batch()
        weights = None
        results = []
        for make in (_keras_adamw, _fused_adamw):
            keras.utils.set_random_seed(0)
            model = BertPretrainer(BertBackbone(**tiny_backbone_config()))
            if weights is None:
                weights = model.get_weights()
            model.set_weights(weights)
            model.compile(optimizer=make(learning_rate=1e-3, weight_decay=0.01, epsilon=1e-6,
                                         global_clipnorm=1.0))
            for _ in range(3):
                model.train_on_batch(x, y)
            results.append(model.get_weights())
        for got, expected in zip(results[1], results[0]):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)

    def test_sparse_gradient(self):
        for make in (keras.optimizers.AdamW, FusedAdamW):
            variable = keras.Variable(np.ones((4, 3), "float32"))
            opt = make(learning_rate=0.1, weight_decay=0.0)
            grad = tf.IndexedSlices(tf.ones((1, 3)), tf.constant([2]), tf.constant([4, 3]))
            opt.apply([grad], [variable])
            if make is keras.optimizers.AdamW:
                expected = variable.numpy()
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)
        self.assertTrue((variable.numpy()[2] < 1).all() and (variable.numpy()[0] == 1).all())

    def test_weight_decay_with_sparse_gradients(self):
        # An embedding-like IndexedSlices gradient with a row repeated, beside a dense one;
        # clipping active (norm > 1); weight decay on and off (skipped at 0): the same
        # variables, moments and velocities as Keras's AdamW.
        rng = np.random.default_rng(3)
        table, dense = rng.normal(size=(10, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")
        for weight_decay in (0.01, 0.0):
            results = []
            for make in (keras.optimizers.AdamW, FusedAdamW):
                variables = [keras.Variable(table), keras.Variable(dense)]
                opt = make(learning_rate=1e-2, weight_decay=weight_decay, epsilon=1e-6, global_clipnorm=1.0)
                grads_rng = np.random.default_rng(4)
                for _ in range(3):
                    values = tf.constant(grads_rng.normal(size=(4, 4)).astype("float32") * 3)
                    grads = [tf.IndexedSlices(values, tf.constant([7, 2, 7, 0]), tf.constant([10, 4])),
                             tf.constant(grads_rng.normal(size=(4,)).astype("float32"))]
                    opt.apply(grads, variables)
                results.append([v.numpy() for v in variables] + [v.numpy() for v in opt.variables])
            for got, expected in zip(results[1], results[0]):
                np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
            self.assertFalse(np.allclose(results[1][0][7], table[7]))  # the repeated row moved
            # A row without gradient: only the weight decay moves it.
            np.testing.assert_allclose(results[1][0][5], table[5] * (1 - 1e-2 * weight_decay) ** 3, rtol=1e-6)

    def test_exclusions_match_keras_adamw(self):
        # Excluded by a layer's name (matched against the whole variable path, as Keras's
        # AdamW does on this backend), by a variable, and by a regular expression.
        for exclude in (dict(var_names=["dense_a"]), dict(var_names=["kernel:0$"]), "var_list"):
            results = []
            for make in (keras.optimizers.AdamW, FusedAdamW):
                keras.utils.set_random_seed(0)
                model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, bias_initializer="ones", name="dense_a"),
                                          keras.layers.Dense(2, bias_initializer="ones", name="dense_b")])
                start = model.get_weights()
                opt = make(learning_rate=0.1, weight_decay=0.5)
                opt.exclude_from_weight_decay(**(exclude if exclude != "var_list" else
                                                 dict(var_list=[model.layers[1].kernel])))
                for _ in range(2):  # zero gradients: only the decay moves a variable
                    opt.apply([tf.zeros_like(v.value) for v in model.trainable_variables],
                              model.trainable_variables)
                results.append([v.numpy() for v in model.trainable_variables])
                self.assertEqual(len(opt.variables), 2 + 2 * 4)  # no excluded variable among them
            moved = [not np.allclose(a, b) for a, b in zip(results[1], start)]
            for got, expected in zip(results[1], results[0]):
                np.testing.assert_allclose(got, expected, rtol=1e-6)
            self.assertIn(True, moved)
            self.assertIn(False, moved)

    def test_weight_decay_set_after_construction(self):
        # Setting `weight_decay` sets the rate of this class's decay; Keras's own pass
        # still does not run (a decay applied twice would move the weights further).
        results = []
        for make in (keras.optimizers.AdamW, FusedAdamW):
            variable = keras.Variable(np.linspace(1, 2, 4).astype("float32"))
            opt = make(learning_rate=0.1, weight_decay=0.0)
            opt.weight_decay = 0.5
            for _ in range(2):
                opt.apply([tf.zeros(4)], [variable])
            results.append(variable.numpy())
        np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
        np.testing.assert_allclose(results[1], np.linspace(1, 2, 4) * 0.95 ** 2, rtol=1e-6)
        self.assertIsNone(opt.weight_decay)
        self.assertEqual(opt.get_config()["weight_decay"], 0.5)
        opt.weight_decay = None  # no decay, as in Keras
        opt.apply([tf.zeros(4)], [variable])
        np.testing.assert_allclose(variable.numpy(), results[1], rtol=1e-7)
        with self.assertRaisesRegex(ValueError, "weight_decay"):
            FusedAdamW(weight_decay=None)  # Keras's AdamW refuses it too
        with self.assertRaisesRegex(ValueError, "before the optimizer is built"):
            opt.exclude_from_weight_decay(var_names=["bias"])

    def test_state_has_keras_adamw_layout(self):
        # Same optimizer variables, names and order as Keras's AdamW: checkpoints interchange.
        layouts = []
        for make in (keras.optimizers.AdamW, FusedAdamW):
            opt = make(learning_rate=1e-3, weight_decay=0.01)
            opt.build([keras.Variable(np.ones((2, 3)), name="kernel"), keras.Variable(np.ones(3), name="bias")])
            layouts.append([(v.name, tuple(v.shape)) for v in opt.variables])
        self.assertEqual(layouts[1], layouts[0])

    def test_bfloat16_variables_match_keras_adamw(self):
        # Not float32: the Keras-ops form of the update, computed as Keras's Adam does.
        results = []
        for make in (keras.optimizers.AdamW, FusedAdamW):
            variable = keras.Variable(np.linspace(-1, 1, 6).astype("float32"), dtype="bfloat16")
            opt = make(learning_rate=1e-2, weight_decay=0.01)
            for step in range(3):
                opt.apply([tf.constant(np.arange(6) - 2.5 + step, tf.bfloat16)], [variable])
            results.append(tf.cast(variable.value, tf.float32).numpy())
        np.testing.assert_array_equal(results[1], results[0])
        self.assertFalse(np.array_equal(results[0], np.linspace(-1, 1, 6)))

    def test_amsgrad_is_refused(self):
        with self.assertRaisesRegex(ValueError, "amsgrad"):
            FusedAdamW(amsgrad=True)

    def test_mixed_bfloat16_model(self):
        # Variables stay float32 under the mixed policy; bfloat16 gradients are cast.
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2)
            model.compile(optimizer=create_optimizer(1e-3, total_steps=10, warmup_steps=0))
            x = BertBackbone(**tiny_backbone_config()).dummy_inputs(4, 8)
            before = model.get_weights()
            loss = model.train_on_batch(x, np.array([0, 1, 0, 1]))
        finally:
            keras.config.set_dtype_policy("float32")
        self.assertTrue(np.all(np.isfinite(loss)))
        self.assertTrue(any(np.abs(a - b).max() > 0 for a, b in zip(model.get_weights(), before)))

    def test_create_optimizer_uses_it_and_it_serializes(self):
        opt = create_optimizer(1e-3, total_steps=100)
        self.assertIsInstance(opt, FusedAdamW)
        config = keras.optimizers.serialize(opt)
        revived = keras.optimizers.deserialize(config)
        self.assertIsInstance(revived, FusedAdamW)
        self.assertEqual(revived.get_config()["weight_decay"], opt.get_config()["weight_decay"])

    def test_saved_model_resumes_with_the_same_state(self):
        x = BertBackbone(**tiny_backbone_config()).dummy_inputs(4, 8)
        y = np.array([0, 1, 1, 0])
        model = BertClassifier(BertBackbone(**tiny_backbone_config()), num_classes=2, dropout=0.0)
        model.compile(optimizer=create_optimizer(1e-3, total_steps=10, warmup_steps=0))
        model.train_on_batch(x, y)
        path = os.path.join(self.get_temp_dir(), "classifier.keras")
        model.save(path)
        revived = keras.saving.load_model(path)
        self.assertIsInstance(revived.optimizer, FusedAdamW)
        # The exclusions travel in the config: the same variables decay after loading.
        self.assertEqual(revived.optimizer.excluded_variable_names, ["beta", "bias", "gamma"])
        self.assertEqual(revived.optimizer.decays, model.optimizer.decays)
        self.assertIn(False, model.optimizer.decays)
        model.train_on_batch(x, y)
        revived.train_on_batch(x, y)
        for got, expected in zip(revived.get_weights(), model.get_weights()):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


_MIRRORED = textwrap.dedent("""
    import tensorflow as tf
    tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                               [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    import keras_bert_pkg
    from keras_bert_pkg.training.fused_adamw import FusedAdamW
    results = []
    for make in (keras.optimizers.AdamW, FusedAdamW):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(2)])
            model.compile(optimizer=make(learning_rate=1e-2, weight_decay=0.01), loss="mse")
        rng = np.random.default_rng(0)
        model.fit(rng.normal(size=(16, 6)), rng.normal(size=(16, 2)), batch_size=8, epochs=2, verbose=0)
        results.append(model.get_weights())
    diff = max(float(np.abs(a - b).max()) for a, b in zip(*results))
    print("MAXDIFF", diff)
""")


@pytest.mark.slow
class FusedAdamWMirroredTest(TestCase):
    def test_mirrored_strategy_matches_keras_adamw(self):
        proc = subprocess.run([sys.executable, "-c", _MIRRORED], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=600)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MAXDIFF")), None)
        self.assertIsNotNone(line, proc.stderr[-3000:])
        self.assertLess(float(line.split()[1]), 1e-5)

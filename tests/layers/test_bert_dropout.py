"""BertDropout: Keras's Dropout semantics from 16 random bits an element.

The kept share must be `1 - rate` (to sampling error), the kept values scaled by
`1 / (1 - rate)`, neighbouring elements (the two halves of one random word) independent,
the gradient the same mask, the masks repeatable from the layer's seed and new at every
call; inference, rate 0 and `noise_shape` are Keras's layer.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_pkg.layers.bert_dropout import BertDropout, dropout_16_bit
from keras_bert_pkg.layers.bert_encoder_block import BertEncoderBlock
from tests.test_case import TestCase


class BertDropoutTest(TestCase):
    def test_kept_share_scale_and_independence(self):
        rate, n = 0.1, 1_000_000
        y = BertDropout(rate, seed=3)(np.ones((1000, 1000), "float32"), training=True).numpy()
        kept = y != 0
        # 5 standard deviations of a binomial share over a million elements
        self.assertLess(abs(kept.mean() - (1 - rate)), 5 * np.sqrt(rate * (1 - rate) / n))
        np.testing.assert_array_equal(np.unique(y), np.float32([0, 1 / (1 - rate)]))
        dropped = ~kept.reshape(-1, 2)  # the two elements of each random word
        both = (dropped[:, 0] & dropped[:, 1]).mean()
        self.assertLess(abs(both - rate ** 2), 5 * np.sqrt(rate ** 2 / (n // 2)))
        rows = ~kept[:, 0]  # the same column of every row: words far apart
        self.assertLess(abs(rows.mean() - rate), 5 * np.sqrt(rate * (1 - rate) / 1000))

    def test_gradient_is_the_mask(self):
        x = tf.Variable(np.random.default_rng(0).standard_normal((7, 3)).astype("float32"))  # odd size
        seed = tf.constant([4, 5])
        with tf.GradientTape() as tape:
            y = dropout_16_bit(x, 0.3, seed)
            total = tf.reduce_sum(y)
        grad = tape.gradient(total, x).numpy()
        mask = (y.numpy() != 0) / 0.7
        np.testing.assert_allclose(grad, mask.astype("float32"), rtol=1e-6)
        np.testing.assert_allclose(y.numpy(), x.numpy() * mask, rtol=1e-6)

    def test_masks_repeat_from_the_seed_and_change_every_call(self):
        x = np.ones((64, 64), "float32")
        first, second = BertDropout(0.5, seed=7), BertDropout(0.5, seed=7)
        a1, a2 = first(x, training=True).numpy(), first(x, training=True).numpy()
        b1 = second(x, training=True).numpy()
        np.testing.assert_array_equal(a1, b1)
        self.assertGreater(np.mean(a1 != a2), 0.3)

    def test_bfloat16_in_a_graph_of_unknown_shape(self):
        layer = BertDropout(0.1, seed=1, dtype="mixed_bfloat16")

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
        def run(x):
            return layer(x, training=True)

        y = run(tf.ones((33, 17)))
        self.assertEqual(y.dtype, tf.bfloat16)
        self.assertEqual(tuple(y.shape), (33, 17))
        scale = float(tf.cast(tf.constant(1 / 0.9, tf.bfloat16), tf.float32))
        self.assertEqual(set(np.unique(tf.cast(y, tf.float32).numpy())), {0.0, scale})

    def test_compiles_with_xla(self):  # `--xla` training steps
        run = tf.function(lambda x, seed: dropout_16_bit(x, 0.1, seed), jit_compile=True)
        y = run(tf.ones((33, 17)), tf.constant([1, 2])).numpy()  # an odd number of elements
        np.testing.assert_array_equal(np.unique(y), np.float32([0, 1 / 0.9]))
        np.testing.assert_array_equal(y, dropout_16_bit(tf.ones((33, 17)), 0.1, tf.constant([1, 2])).numpy())

    def test_inference_zero_rate_full_rate_and_noise_shape(self):
        x = np.arange(12, dtype="float32").reshape(3, 4) + 1
        np.testing.assert_array_equal(BertDropout(0.5)(x).numpy(), x)
        np.testing.assert_array_equal(BertDropout(0.0)(x, training=True).numpy(), x)
        np.testing.assert_array_equal(BertDropout(1.0)(x, training=True).numpy(), np.zeros_like(x))
        y = BertDropout(0.5, noise_shape=(3, 1), seed=2)(x, training=True).numpy()
        for row in y:  # Keras's layer: one draw per row
            self.assertEqual(len(set((row != 0).tolist())), 1)

    def test_config_round_trip_and_the_block_uses_it(self):
        layer = BertDropout(0.2, seed=5, name="d")
        clone = BertDropout.from_config(layer.get_config())
        self.assertEqual(clone.get_config(), layer.get_config())
        self.assertIsInstance(layer, keras.layers.Dropout)
        block = BertEncoderBlock(intermediate_dim=8, num_heads=2, dropout=0.1)
        for name in ("attention_dropout", "attention_output_dropout", "output_dropout"):
            self.assertIsInstance(getattr(block, name), BertDropout)

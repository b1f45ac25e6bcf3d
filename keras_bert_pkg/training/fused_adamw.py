"""FusedAdamW: Keras's AdamW with each variable's Adam update done by one fused kernel.

Keras's `Adam.update_step` writes the update as a dozen separate tensor operations per
variable (moments, square, square root, divide, three assignments), each a pass over the
variable's memory. For BERT-sized models on a CPU that costs a noticeable share of a
training step (measured: ~4.5 ms of CPU time per million parameters against ~1.9 ms
fused). TensorFlow's `ResourceApplyAdam` kernel does the same arithmetic in one pass:

    m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2)
    variable <- variable - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

which is exactly Keras's formula. The decoupled weight decay is Keras's, skipped when
`weight_decay` is 0 (Keras multiplies and assigns every weight even then: measured 5% of
a MiniLM fine-tuning step, 832 → 781 CPU-ms). A one-kernel in-place decay
(`ResourceApplyGradientDescent`) was measured too and was no faster than Keras's
multiply + assign, so it is not used.

The schedule, clipping, gradient accumulation, the excluded variables and the saved state
(the same `m` and `v` variables) are Keras's `AdamW`, unchanged. `IndexedSlices`
gradients are made dense for the Adam update itself (as Keras does: Adam decays `m` and
`v` of every row); variables that are not float32/float64, `amsgrad=True`, or a
non-TensorFlow backend use Keras's own update.

Args: those of `keras.optimizers.AdamW`.

Example:
>>> import keras
>>> opt = FusedAdamW(learning_rate=1e-3, weight_decay=0.01)
>>> v = keras.Variable([1.0, 2.0])
>>> opt.apply([keras.ops.convert_to_tensor([0.1, -0.1])], [v])
>>> [round(float(x), 4) for x in v.numpy()]
[0.999, 2.001]
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FusedAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose per-variable update is TensorFlow's fused
    `ResourceApplyAdam` kernel (module doc)."""

    def _apply_weight_decay(self, variables):
        # variable - variable * 0 * lr is the variable: skip the pass over every weight
        # (Keras's AdamW makes it even at weight_decay=0; 5% of a MiniLM fine-tuning step).
        if isinstance(self.weight_decay, (int, float)) and self.weight_decay == 0:
            return None
        return super()._apply_weight_decay(variables)

    def update_step(self, gradient, variable, learning_rate):
        tf_variable = variable.value if isinstance(variable, keras.Variable) else variable
        dtype = tf_variable.dtype
        if (self.amsgrad or keras.config.backend() != "tensorflow"
                or dtype not in (tf.float32, tf.float64)):
            return super().update_step(gradient, variable, learning_rate)
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        gradient = tf.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m = m.value if isinstance(m, keras.Variable) else m
        v = v.value if isinstance(v, keras.Variable) else v
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        return tf.raw_ops.ResourceApplyAdam(
            var=tf_variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=gradient, use_locking=False,
        )

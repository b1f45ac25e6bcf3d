"""FusedAdamW: Keras's AdamW with each variable's Adam update done by one fused kernel.

Keras's `Adam.update_step` writes the update as a dozen separate tensor operations per
variable (moments, square, square root, divide, three assignments), each a pass over the
variable's memory. For BERT-sized models on a CPU that costs a noticeable share of a
training step (measured: ~4.5 ms of CPU time per million parameters against ~1.9 ms
fused). TensorFlow's `ResourceApplyAdam` kernel does the same arithmetic in one pass:

    m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2)
    variable <- variable - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

which is exactly Keras's formula. The decoupled weight decay is Keras's formula too, but
done in each variable's own update, just before its Adam kernel, as one multiply whose
product is assigned (`variable * (1 - lr * weight_decay)`): Keras's AdamW decays every
weight in a pass of its own first, as `variable - variable * weight_decay * lr`
subtracted in place, which makes a full-size product and then reads it and the weight
again to subtract (measured on a 2-core AMX CPU for BERT-Base's 110 million weights: ~40
against ~62 ms a step). The two agree to float32 rounding. Which variables decay is
decided when the optimizer is built, by `exclude_from_weight_decay`'s variables and
names (a name excludes a variable when it matches, as a regular expression, anywhere in
its TensorFlow variable's name, e.g. `"dense/kernel:0"`, as in Keras's AdamW on this
backend; each call replaces the previous exclusions, as in Keras). With `weight_decay`
0 no variable is decayed (Keras multiplies and assigns every weight even then: measured
5% of a MiniLM fine-tuning step, 832 → 781 CPU-ms). A one-kernel in-place decay
(`ResourceApplyGradientDescent`) was measured too and was no faster than Keras's
multiply and subtract (reading the variable it updates makes TensorFlow copy it first).

The schedule, clipping, gradient accumulation and the saved state (the same `momentum`
and `velocity` variables, in the same order) are Keras's `AdamW`, unchanged. Two things
differ: `get_config` also holds `excluded_variable_names` (so a config from this class
is not Keras's AdamW's), and the `weight_decay` attribute reads None once the optimizer
is constructed, which Keras's own decay pass takes as "no decay" (setting it sets this
class's rate, `decoupled_weight_decay`). The class follows Keras's documented way to
write an optimizer (`build` creates the slots with `add_optimizer_variables`,
`update_step` finds a variable's slots with `_get_variable_index`), so it owns its slots
under public names (`momentums`, `velocities`) instead of reading Adam's private ones.
`IndexedSlices` gradients are made dense for the Adam update itself (as Keras does: Adam
decays `m` and `v` of every row). Variables that are not float32/float64 (a pure
bfloat16 or float16 policy) get the same formula written with Keras ops, computed as
Keras's `Adam` does. `amsgrad` is not offered (use `keras.optimizers.AdamW`), and the
backend must be TensorFlow.

Args:
    excluded_variable_names: regular expressions; a variable whose TensorFlow name
        matches one is not decayed, as with `exclude_from_weight_decay(var_names=...)`
        (which sets this too). They are in `get_config`, so an optimizer saved in a
        `.keras` file keeps them (Keras's AdamW loses them). The other arguments are
        `keras.optimizers.AdamW`'s.

Example:
>>> import keras
>>> opt = FusedAdamW(learning_rate=1e-3, weight_decay=0.01)
>>> v = keras.Variable([1.0, 2.0])
>>> opt.apply([keras.ops.convert_to_tensor([0.1, -0.1])], [v])
>>> [round(float(x), 4) for x in v.numpy()]
[0.999, 2.001]
"""

import re

import keras
import tensorflow as tf


def _tf_variable(variable):
    """The TensorFlow variable of a Keras variable, or a tf.Variable itself."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _handle(variable):
    """The resource handle of a Keras variable or a tf.Variable."""
    return _tf_variable(variable).handle


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class FusedAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose per-variable update is TensorFlow's fused
    `ResourceApplyAdam` kernel (module doc)."""

    def __init__(self, *args, excluded_variable_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdamW does not implement amsgrad=True; use keras.optimizers.AdamW.")
        if keras.config.backend() != "tensorflow":
            raise ValueError(f"FusedAdamW needs the TensorFlow backend, not {keras.config.backend()!r}.")
        # ids, not the variables: a variable set on an optimizer becomes part of its state
        self.excluded_variable_ids, self.excluded_variable_names = set(), None
        self.decays = []
        if excluded_variable_names:
            self.exclude_from_weight_decay(var_names=excluded_variable_names)
        self.decay_pass_disabled = True

    decay_pass_disabled = False  # True once constructed (Keras's constructor checks the rate)

    @property
    def weight_decay(self):
        """None once constructed, so Keras's own decay pass does not run: this class decays
        each variable in its own update, at `decoupled_weight_decay` (module doc)."""
        return None if self.decay_pass_disabled else self.decoupled_weight_decay

    def __setattr__(self, name, value):
        # Setting `weight_decay` (Keras's constructor does, and a user may) sets the rate.
        # Not a property setter: Keras's tracking skips an assignment of the value an
        # attribute already reads, and `weight_decay = None` must still take effect.
        super().__setattr__("decoupled_weight_decay" if name == "weight_decay" else name, value)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Keras's method: `var_list`'s variables, and those whose TensorFlow name matches
        one of the regular expressions `var_names`, are not decayed. Call it before the
        optimizer is built (Keras says so; this class refuses it afterwards)."""
        if self.built:
            raise ValueError("exclude_from_weight_decay() must be called before the optimizer is built.")
        super().exclude_from_weight_decay(var_list=var_list, var_names=var_names)  # Keras's record too
        self.excluded_variable_ids = {id(_tf_variable(v)) for v in var_list or []}
        self.excluded_variable_names = sorted(set(var_names)) if var_names else None

    def build(self, variables):
        if self.built:
            return
        keras.optimizers.Optimizer.build(self, variables)  # Adam's slots are made here instead
        self.momentums, self.velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])
        names = re.compile("|".join(self.excluded_variable_names)) if self.excluded_variable_names else None
        self.decays = [self._decays(_tf_variable(variable), names) for variable in variables]

    def _decays(self, variable, excluded_names):
        """Whether `variable` (a tf.Variable, named like "dense/kernel:0") gets the weight
        decay: not excluded by id or by the compiled `excluded_names` (module doc)."""
        if id(variable) in self.excluded_variable_ids:
            return False
        return excluded_names is None or not excluded_names.search(variable.name)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self.momentums[index], self.velocities[index]
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        dtype = variable.dtype
        decays = bool(self.decays[index] and self.decoupled_weight_decay)
        if dtype not in ("float32", "float64"):
            return self._keras_ops_update(gradient, variable, m, v, learning_rate, decays)
        if decays:
            lr_times_decay = tf.cast(learning_rate, dtype) * tf.cast(self.decoupled_weight_decay, dtype)
            variable.assign(variable * (1 - lr_times_decay))
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

    def _keras_ops_update(self, gradient, variable, m, v, learning_rate, decays):
        """The module's formula in Keras ops, for dtypes the fused kernel is not used for;
        the decay as Keras computes it (in these dtypes the two forms round differently)."""
        ops = keras.ops
        dtype = variable.dtype
        if decays:
            wd, lr = ops.cast(self.decoupled_weight_decay, dtype), ops.cast(learning_rate, dtype)
            self.assign_sub(variable, variable * wd * lr)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        alpha = (ops.cast(learning_rate, dtype) * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), step))
                 / (1 - ops.power(ops.cast(self.beta_1, dtype), step)))
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.decoupled_weight_decay
        config["excluded_variable_names"] = self.excluded_variable_names
        return config

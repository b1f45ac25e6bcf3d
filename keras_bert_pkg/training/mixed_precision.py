"""Mixed precision that follows the device: float16 with loss scaling on GPU, bfloat16
on TPU and CPU."""

import keras
import tensorflow as tf


def default_mixed_policy():
    """`"mixed_float16"` when a GPU is visible, else `"mixed_bfloat16"` (TPU and CPU)."""
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def set_precision(precision="float32"):
    """Sets the global Keras dtype policy before models are built.

    Args:
        precision: `"float32"`, `"mixed"` (the device's mixed policy), `"mixed_float16"`
            or `"mixed_bfloat16"`. Under `mixed_float16`, `model.compile` wraps the
            optimiser in a `LossScaleOptimizer` automatically.

    Returns: the policy name set.
    """
    name = default_mixed_policy() if precision == "mixed" else precision
    if name not in ("float32", "mixed_float16", "mixed_bfloat16", "bfloat16", "float16"):
        raise ValueError(f"Unknown precision {precision!r}.")
    keras.config.set_dtype_policy(name)
    return name

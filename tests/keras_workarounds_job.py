"""Runs in its own process (two logical CPUs): reproduces the Keras behaviours that
`keras_bert_pkg.keras_workarounds` works around, without and with the workarounds.

Prints `RESULT {json}`: per workaround, what happened without it and with it.
"""

import json
import os
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bert_pkg import keras_workarounds  # noqa: E402


def bool_input_fit(strategy):
    """`fit` of a model taking a bool input under two replicas: the error text, or None."""
    with strategy.scope():
        tokens = keras.Input((4,), dtype="float32", name="tokens")
        mask = keras.Input((4,), dtype="bool", name="mask")
        masked = keras.layers.Lambda(lambda t: t[0] * keras.ops.cast(t[1], "float32"))([tokens, mask])
        model = keras.Model({"tokens": tokens, "mask": mask}, keras.layers.Dense(1)(masked))
        model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensor_slices(
        ({"tokens": np.ones((8, 4), "float32"), "mask": np.ones((8, 4), bool)}, np.zeros((8, 1), "float32")))
    try:
        model.fit(data.batch(4), epochs=1, verbose=0)
        return None
    except Exception as error:  # noqa: BLE001  (the failure is the finding)
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"


def clipped_update(strategy, wrap):
    """The kernel after one SGD step with global_clipnorm=1 on a loss whose gradient has
    norm 10 (each replica's half has norm 5), over one or two replicas."""
    with strategy.scope():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False,
                                                                        kernel_initializer="zeros")])
        optimizer = keras.optimizers.SGD(1.0, global_clipnorm=1.0)
        if wrap:
            keras_workarounds.clip_after_all_reduce(optimizer)
        model.compile(optimizer=optimizer, loss=lambda y, p: -10.0 * keras.ops.sum(p) / 2.0)
    model.fit(np.ones((2, 1), "float32"), np.zeros((2, 1), "float32"), batch_size=2, verbose=0)
    return float(model.get_weights()[0][0, 0])


def main():
    installed_on_import = keras_workarounds.is_installed()
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(devices)
    result = {
        "installed_on_import": installed_on_import,
        "symbolic_build_without": bool_input_fit(mirrored),
        "clip_one_device": clipped_update(tf.distribute.OneDeviceStrategy(devices[0]), wrap=False),
        "clip_two_replicas_without": clipped_update(mirrored, wrap=False),
        "clip_two_replicas_with": clipped_update(mirrored, wrap=True),
    }
    multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
    try:
        multi_worker.reduce("MEAN", multi_worker.run(lambda: tf.constant(1.0)), axis=0)
        result["scalar_reduce_without"] = None
    except Exception as error:  # noqa: BLE001
        result["scalar_reduce_without"] = f"{type(error).__name__}: {str(error)[-300:]}"
    keras_workarounds.install()
    result["symbolic_build_with"] = bool_input_fit(mirrored)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

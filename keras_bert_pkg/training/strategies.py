"""`tf.distribute` strategies by name, for the recipes' `--strategy` flag.

| name | strategy | use |
|---|---|---|
| `default` | the current (default) strategy | one device, no distribution code path |
| `one_device` | `OneDeviceStrategy` | pin to one device (`device`, default first GPU else CPU) |
| `mirrored` | `MirroredStrategy` | synchronous data parallelism over the local GPUs (or `devices`) |
| `multi_worker_mirrored` | `MultiWorkerMirroredStrategy` | several machines, cluster from `TF_CONFIG` |
| `tpu` | `TPUStrategy` | a TPU (`tpu` address or name, `""` for a local TPU VM) |

Build models and optimizers inside `strategy.scope()`; Keras's `fit` splits each global
batch over the replicas.
"""

import os

import tensorflow as tf

STRATEGY_NAMES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "tpu")


def get_strategy(name="default", devices=None, tpu=None):
    """Returns the `tf.distribute.Strategy` called `name` (module table).

    Args:
        name: one of `STRATEGY_NAMES`.
        devices: for `one_device`, a device string (e.g. `"/gpu:1"`); for `mirrored`,
            a list of devices (default: every local GPU, else the CPU).
        tpu: for `tpu`, the TPU name or address (`""`: local TPU VM).

    Raises:
        ValueError: for an unknown name, or `multi_worker_mirrored` without `TF_CONFIG`.

    Example:
    >>> strategy = get_strategy("mirrored")
    >>> with strategy.scope():  # doctest: +SKIP
    ...     model = BertPretrainer(BertBackbone.from_preset("bert_base"))
    """
    if name in (None, "", "default"):
        return tf.distribute.get_strategy()
    if name == "one_device":
        if devices is None:
            devices = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        if isinstance(devices, (list, tuple)):
            if len(devices) != 1:
                raise ValueError(f"one_device takes one device, got {devices}.")
            devices = devices[0]
        return tf.distribute.OneDeviceStrategy(devices)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker_mirrored":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "multi_worker_mirrored needs the cluster in the TF_CONFIG environment "
                "variable (see tf.distribute.MultiWorkerMirroredStrategy).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu if tpu is not None else "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGY_NAMES}.")

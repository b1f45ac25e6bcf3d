"""`tf.distribute` strategies by name: the `--strategy` flag of every training recipe.

| name | strategy | use |
|---|---|---|
| `auto` | a TPU if one is found, else `MirroredStrategy` over every local GPU, else the default | the recipes' default |
| `default` | the default (no-op) strategy | one device, no distribution code path |
| `one_device` | `OneDeviceStrategy` | pin to one device (`devices`, default the first GPU, else the CPU) |
| `mirrored` | `MirroredStrategy` | synchronous data parallelism over the local GPUs (or `devices`) |
| `multi_worker` | `MultiWorkerMirroredStrategy` | several processes / machines, the cluster from `TF_CONFIG` |
| `tpu` | `TPUStrategy` | a TPU: `tpu` = its name or `grpc://ip:8470`, `"local"` on a TPU VM |

Build models, optimizers and metrics inside `strategy.scope()`; Keras's `fit` splits each
*global* batch over the replicas (`batch_sizes`). With several replicas, call
`keras_bert_pkg.keras_workarounds.install()` first (the recipes' flags do): Keras 3 needs
two corrections there, and `create_optimizer` clips the gradient after the all-reduce.
With them N replicas train like one device on the same global batch
(`tests/distribute`, `tests/training/test_multi_worker.py`).

Example:
>>> get_strategy("default").num_replicas_in_sync
1
"""

import glob
import json
import os
import warnings

import tensorflow as tf

from keras_bert_pkg import keras_workarounds

STRATEGY_NAMES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
_ALIASES = {"multi_worker_mirrored": "multi_worker", "none": "default", "": "default"}


def canonical_strategy_name(name):
    """`name` with aliases resolved (`multi_worker_mirrored` → `multi_worker`).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    key = "default" if name is None else str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in STRATEGY_NAMES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGY_NAMES}.")
    return key


def _find_tpu_address(tpu):
    """The TPU to connect to for `auto`: the `tpu` argument, `$TPU_NAME`, or `"local"`
    when this machine is a TPU VM (TPU devices or `/dev/accel*` chips);
    None when there is no sign of a TPU."""
    if tpu:
        return tpu
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if tf.config.list_physical_devices("TPU") or glob.glob("/dev/accel*"):
        return "local"
    return None


def _tpu_strategy(tpu):
    """Connects to the TPU `tpu` and returns a `TPUStrategy`, with a clear error when
    there is none."""
    address = tpu if tpu else None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
    except ValueError as error:
        raise ValueError(
            f"strategy 'tpu': no TPU given or found ({error}). Pass --tpu <name> or "
            "--tpu grpc://<ip>:8470 for a TPU node, --tpu local on a TPU VM.") from error
    try:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (tf.errors.NotFoundError, tf.errors.UnavailableError, tf.errors.InvalidArgumentError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RuntimeError(
            f"strategy 'tpu': could not initialise the TPU {tpu!r}: {first_line}. Is this a TPU "
            "VM with the TPU build of TensorFlow (use --tpu local), or is the TPU name / "
            "address right?") from error
    return tf.distribute.TPUStrategy(resolver)


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "strategy 'multi_worker' needs the cluster in the TF_CONFIG environment variable, "
            "e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
            "\"task\": {\"type\": \"worker\", \"index\": 0}}' on the first worker.")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        task = config["task"]
        task_type, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG is not a valid cluster description ({type(error).__name__}: {error}); "
            f"expected {{'cluster': {{'worker': [...]}}, 'task': {{'type': 'worker', 'index': i}}}}, "
            f"got {raw!r}.") from error
    members = config["cluster"].get(task_type, [])
    if not 0 <= index < len(members):
        raise ValueError(
            f"TF_CONFIG task {task_type}:{index} is not in the cluster "
            f"({len(members)} {task_type} task(s)): {raw!r}.")
    return len(workers) + len(config["cluster"].get("chief", []))


def get_strategy(name="auto", devices=None, tpu=None):
    """Returns the `tf.distribute.Strategy` called `name` (module table).

    Call it before any other TensorFlow work in the program: `multi_worker` configures
    the collective runtime and `tpu` connects to the TPU system. With several replicas,
    `keras_workarounds.install()` must have been called (a warning says so otherwise).

    Args:
        name: one of `STRATEGY_NAMES` (or `multi_worker_mirrored`); a
            `tf.distribute.Strategy` is returned unchanged.
        devices: for `one_device`, a device string (e.g. `"/gpu:1"`); for `mirrored`,
            a list of devices or a comma-separated string (default: every local GPU, else
            the CPU).
        tpu: for `tpu` (and `auto`), the TPU name or `grpc://ip:8470` address; `"local"`
            on a TPU VM.

    Raises:
        ValueError: for an unknown name, `multi_worker` without a valid `TF_CONFIG`,
            `one_device` with several devices, or `tpu` with no TPU to find.
        RuntimeError: when the TPU cannot be initialised.

    Example:
    >>> strategy = get_strategy("mirrored", devices="/cpu:0")
    >>> with strategy.scope():
    ...     backbone = BertBackbone.from_architecture("bert_tiny")
    >>> strategy.num_replicas_in_sync
    1
    """
    strategy = name if isinstance(name, tf.distribute.Strategy) else _build_strategy(name, devices, tpu)
    replicas = getattr(strategy, "num_replicas_in_sync", 1)
    if isinstance(replicas, int) and replicas > 1 and not keras_workarounds.is_installed():
        warnings.warn(
            f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas: call "
            "keras_bert_pkg.keras_workarounds.install() before training, or Keras's fit fails on "
            "bool inputs and multi-worker logs (see that module).", stacklevel=2)
    return strategy


def _build_strategy(name, devices, tpu):
    name = canonical_strategy_name(name)
    if isinstance(devices, str):
        devices = [d.strip() for d in devices.split(",") if d.strip()]
    if name == "auto":
        address = _find_tpu_address(tpu)
        if address is not None:
            return _tpu_strategy(address)
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if gpus:
            return tf.distribute.MirroredStrategy(devices=gpus)
        return tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        if not devices:
            devices = ["/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"]
        if len(devices) != 1:
            raise ValueError(f"strategy 'one_device' takes one device, got {devices}.")
        return tf.distribute.OneDeviceStrategy(devices[0])
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices or None)
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)

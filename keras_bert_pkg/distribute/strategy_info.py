"""What a `tf.distribute` strategy is: its device type, workers, task, and who writes files.

In a `multi_worker` run every worker executes the same program; only the chief
(`is_chief`) writes shared files; `worker_output_dir` gives the others a private folder.

Example:
>>> describe_strategy(tf.distribute.get_strategy())["num_replicas"]
1
"""

import os

import tensorflow as tf

def is_tpu_strategy(strategy):
    """True for a `TPUStrategy` (either API generation)."""
    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))


def device_type(strategy=None):
    """`"TPU"`, `"GPU"` or `"CPU"`: what the strategy's replicas run on (the default
    strategy runs on the first GPU when there is one)."""
    strategy = strategy or tf.distribute.get_strategy()
    if is_tpu_strategy(strategy):
        return "TPU"
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: Keras places ops on GPU:0 if any
        return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    types = {tf.DeviceSpec.from_string(d).device_type for d in devices}
    return "GPU" if "GPU" in types else ("TPU" if "TPU" in types else "CPU")


def num_workers(strategy=None):
    """Processes taking part (1 except under `multi_worker`)."""
    strategy = strategy or tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        spec = strategy.cluster_resolver.cluster_spec()
        return max(1, sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs))
    return 1


def task_type_and_id(strategy=None):
    """`(task_type, task_id)` of this process (`("worker", 0)` outside `multi_worker`)."""
    strategy = strategy or tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        resolver = strategy.cluster_resolver
        return (resolver.task_type or "worker"), int(resolver.task_id or 0)
    return "worker", 0


def is_chief(strategy=None):
    """True for the process that writes shared files (checkpoints, exports, metrics):
    always, except on the non-chief workers of a `multi_worker` run."""
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


def worker_output_dir(output_dir, strategy=None):
    """`output_dir` for the chief, `output_dir/workers/<type>_<id>` for other workers,
    so that concurrent workers never write the same file."""
    if is_chief(strategy):
        return output_dir
    task_type, task_id = task_type_and_id(strategy)
    return os.path.join(output_dir, "workers", f"{task_type}_{task_id}")


def strategy_name(strategy=None):
    """The `STRATEGY_NAMES` name of a strategy object (`auto` resolved to what it chose)."""
    strategy = strategy or tf.distribute.get_strategy()
    if is_tpu_strategy(strategy):
        return "tpu"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.OneDeviceStrategy):
        return "one_device"
    name = type(strategy).__name__
    return "default" if name == "_DefaultDistributionStrategy" else name


def describe_strategy(strategy=None):
    """A JSON-able description: name, class, replicas, workers, device type, task."""
    strategy = strategy or tf.distribute.get_strategy()
    task_type, task_id = task_type_and_id(strategy)
    try:
        devices = list(strategy.extended.worker_devices)
    except RuntimeError:
        devices = []
    return {
        "strategy": strategy_name(strategy),
        "class": type(strategy).__name__,
        "num_replicas": int(strategy.num_replicas_in_sync),
        "num_workers": num_workers(strategy),
        "device_type": device_type(strategy),
        "devices": devices,
        "task": f"{task_type}:{task_id}",
        "chief": is_chief(strategy),
    }

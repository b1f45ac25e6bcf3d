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
*global* batch over the replicas (`per-replica batch = global batch / replicas`).

Input sharding between workers (`shard_dataset`): generated data (a stream, in-memory
arrays) is sharded by DATA (every worker builds the same stream and keeps its slice of
every global batch, so a resumed run's `skip` is the same on every worker); TFRecords are
sharded by FILE with `distribute_file_dataset` (each worker reads its own files and
skips exactly the batches it consumed).

Mixed precision follows the device type (`resolve_precision`): `"mixed"` is
`mixed_float16` (with loss scaling) on GPU, `mixed_bfloat16` on TPU and on CPUs with
bfloat16 instructions, float32 on other CPUs (`mixed_precision.mixed_policy_for`).

Recipes use two calls::

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch_size", type=int, default=32, help="global batch size")
    add_strategy_flags(parser)                    # --strategy --tpu --devices --per_replica_batch_size
    args = parser.parse_args()
    strategy = strategy_from_flags(args)          # first TF call; logs the batch sizes
    with strategy.scope():
        model = ...; model.compile(...)

In a `multi_worker` run every worker executes the same program; only the chief
(`is_chief`) should write shared files; `worker_output_dir` gives the others a private
folder.

With several replicas Keras 3 (TensorFlow backend) needs three corrections, all made here:
`get_strategy` patches its first-batch shape inference and its multi-worker log averaging
(`_fix_keras_for_distribution`), and `create_optimizer` clips the gradient after the
all-reduce (`clip_after_all_reduce`). With them N replicas train like one device on the
same global batch (`tests/training/test_strategies.py`, `test_multi_worker.py`).
"""

import glob
import json
import os

import tensorflow as tf

from keras_bert_pkg.models.bert_task import first_replica_spec
from keras_bert_pkg.training.mixed_precision import mixed_policy_for

STRATEGY_NAMES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
_ALIASES = {"multi_worker_mirrored": "multi_worker", "none": "default", "": "default"}
SHARDING_POLICIES = {
    "data": tf.data.experimental.AutoShardPolicy.DATA,
    "file": tf.data.experimental.AutoShardPolicy.FILE,
    "auto": tf.data.experimental.AutoShardPolicy.AUTO,
    "off": tf.data.experimental.AutoShardPolicy.OFF,
}


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
    the collective runtime and `tpu` connects to the TPU system. It also works around
    two Keras 3 failures of `fit` with several replicas (`_fix_keras_for_distribution`).

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
    >>> strategy = get_strategy("mirrored")
    >>> with strategy.scope():  # doctest: +SKIP
    ...     model = BertPretrainer(BertBackbone.from_preset("bert_base"))
    """
    _fix_keras_for_distribution()
    if isinstance(name, tf.distribute.Strategy):
        return name
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


def _fix_keras_for_distribution():
    """Works around two Keras 3 (TensorFlow backend) failures of `fit`/`evaluate` under
    strategies with several replicas. Idempotent; skipped when Keras's internals differ.

    1. Before the first step Keras pulls the first distributed batch and averages it over
       the replicas (`strategy.reduce("MEAN", batch)`) only to learn its shapes and
       dtypes; that fails on bool tensors (a `BertPreprocessor`'s `padding_mask`) and,
       under `MultiWorkerMirroredStrategy`, on any dict of inputs. It also spends the
       dataset's first iterator, so a `shuffle(reshuffle_each_iteration=True)` then
       trains on its second order (another order than without a strategy). The patched
       build reads the shapes and dtypes from the dataset's `element_spec` (replica 0's
       when per replica), and only pulls a batch when there is no spec.
    2. Each step's logs are averaged over the workers with
       `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar loss and
       metrics ("Invalid reduction dimension 0 for input with 0 dimensions",
       tensorflow/tensorflow#72388). Scalars get a batch axis of 1 first, so the same
       all-reduce averages them over the workers.
    """
    try:
        from keras.src.backend.tensorflow import trainer as keras_tf_trainer
    except ImportError:  # another Keras layout: nothing to fix here
        return
    trainer_class = getattr(keras_tf_trainer, "TensorFlowTrainer", None)
    build = getattr(trainer_class, "_maybe_symbolic_build", None)
    if build is not None and not getattr(build, "_keras_bert_pkg_fix", False):
        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            if iterator is not None and data_batch is None and self._distribute_strategy is not None:
                data_batch = first_replica_spec(getattr(iterator, "_distributed_dataset", None))
                if data_batch is None:
                    strategy = self.distribute_strategy
                    for _, _, batches in iterator:
                        data_batch = tf.nest.map_structure(
                            lambda v: strategy.experimental_local_results(v)[0]
                            if isinstance(v, tf.distribute.DistributedValues) else v, next(batches))
                        break
                iterator = None
            return build(self, iterator=iterator, data_batch=data_batch)

        _maybe_symbolic_build._keras_bert_pkg_fix = True
        trainer_class._maybe_symbolic_build = _maybe_symbolic_build

    reduce = getattr(keras_tf_trainer, "reduce_per_replica", None)
    if reduce is not None and not getattr(reduce, "_keras_bert_pkg_fix", False):
        def reduce_per_replica(values, strategy, reduction):
            if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                def as_vector(value):
                    if not isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)):
                        return value
                    first = (strategy.experimental_local_results(value)[0]
                             if isinstance(value, tf.distribute.DistributedValues) else value)
                    if first.shape.rank != 0:
                        return value
                    return strategy.run(lambda t: tf.reshape(t, [1]), args=(value,))

                values = tf.nest.map_structure(as_vector, values)
            return reduce(values, strategy, reduction)

        reduce_per_replica._keras_bert_pkg_fix = True
        keras_tf_trainer.reduce_per_replica = reduce_per_replica


# --- what a strategy is -----------------------------------------------------------------


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


# --- batch sizes ------------------------------------------------------------------------


def batch_sizes(strategy=None, global_batch_size=None, per_replica_batch_size=None):
    """The global and per-replica batch sizes, from either one.

    `fit` takes the global batch (all replicas together); each replica computes
    `global / num_replicas` examples. Give exactly one of the two sizes.

    Returns: `(global_batch_size, per_replica_batch_size)`.

    Raises:
        ValueError: when neither or both are given (and disagree), or when the global
            batch does not split evenly over the replicas.

    Example:
    >>> batch_sizes(tf.distribute.get_strategy(), global_batch_size=32)
    (32, 32)
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = int(strategy.num_replicas_in_sync)
    if global_batch_size is None and per_replica_batch_size is None:
        raise ValueError("Give a global batch size or a per-replica batch size.")
    if per_replica_batch_size is not None:
        per_replica = int(per_replica_batch_size)
        if per_replica < 1:
            raise ValueError(f"per-replica batch size must be >= 1, got {per_replica}.")
        if global_batch_size is not None and int(global_batch_size) != per_replica * replicas:
            raise ValueError(
                f"global batch size {global_batch_size} != per-replica batch size "
                f"{per_replica} x {replicas} replicas; give only one of them.")
        return per_replica * replicas, per_replica
    global_size = int(global_batch_size)
    if global_size < 1 or global_size % replicas:
        raise ValueError(
            f"The global batch size {global_size} does not split over {replicas} replicas; "
            f"use a multiple of {replicas} (or set the per-replica batch size).")
    return global_size, global_size // replicas


def per_replica_batch_size(global_batch_size, strategy=None):
    """`global_batch_size / num_replicas` (ValueError when it does not divide)."""
    return batch_sizes(strategy, global_batch_size=global_batch_size)[1]


def global_batch_size(per_replica, strategy=None):
    """`per_replica * num_replicas`."""
    return batch_sizes(strategy, per_replica_batch_size=per_replica)[0]


# --- input sharding ---------------------------------------------------------------------


def shard_dataset(dataset, policy):
    """Sets how `dataset` is split between workers when a strategy distributes it.

    Args:
        dataset: a `tf.data.Dataset` batched with the global batch size.
        policy: `"data"` (every worker builds the whole dataset and keeps its share of
            each batch: generated data, in-memory arrays, streams), `"file"` (each worker
            reads only its files: TFRecords; prefer `distribute_file_dataset`, which also
            keeps the resume position exact), `"auto"` or `"off"`.

    Returns: the dataset with the sharding option set.
    """
    key = str(policy).lower()
    if key not in SHARDING_POLICIES:
        raise ValueError(f"Unknown sharding policy {policy!r}; expected one of {sorted(SHARDING_POLICIES)}.")
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = SHARDING_POLICIES[key]
    return dataset.with_options(options)


def shard_generated_data(dataset):
    """`shard_dataset(dataset, "data")`: for streams and in-memory data."""
    return shard_dataset(dataset, "data")


def distribute_file_dataset(strategy, files, make_dataset, global_batch_size, skip_steps=0):
    """A dataset of files sharded by FILE between the input pipelines (one a worker).

    Each pipeline reads `files[i::n]` and skips exactly the batches it consumed in
    `skip_steps` training steps, so a resumed multi-worker run continues where it
    stopped. (Letting `fit` auto-shard a global-batch dataset by FILE would make every
    worker read a global batch per step from its own files, and `skip(steps)` would then
    skip `num_workers` times too much.) With one worker the dataset is returned as
    built, for `fit` to split over the local replicas.

    Args:
        strategy: the `tf.distribute.Strategy`.
        files: the list of files (sorted; at least one per worker).
        make_dataset: `(files, batch_size, skip_batches) -> tf.data.Dataset` of batches
            of `batch_size`, skipping `skip_batches` batches, endless or long enough.
        global_batch_size: the global batch size.
        skip_steps: training steps already done (a resumed run's start step).

    Returns: a `tf.data.Dataset` (one worker) or a distributed dataset for `fit`.

    Raises:
        ValueError: with fewer files than workers.
    """
    files = list(files)
    workers = num_workers(strategy)
    if workers == 1:
        return shard_dataset(make_dataset(files, int(global_batch_size), int(skip_steps)), "off")
    if len(files) < workers:
        raise ValueError(
            f"FILE sharding needs at least one file per worker: {len(files)} file(s) for "
            f"{workers} workers ({files}). Write more (smaller) TFRecord files.")
    per_replica = per_replica_batch_size(global_batch_size, strategy)

    def pipeline(context):
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        own = files[context.input_pipeline_id::context.num_input_pipelines]
        dataset = make_dataset(own, per_replica, int(skip_steps) * local_replicas)
        return shard_dataset(dataset, "off")

    return strategy.distribute_datasets_from_function(pipeline)


# --- gradient clipping -----------------------------------------------------------------


def clip_after_all_reduce(optimizer):
    """Makes `optimizer` clip the gradient summed over the replicas, as on one device.

    Keras 3 (TensorFlow backend) clips each replica's gradient (`global_clipnorm`,
    `clipnorm`, `clipvalue`) *before* summing them over the replicas, so with N
    replicas BERT's clip at norm 1.0 would act on N partial gradients and let the
    summed gradient reach norm N (and with an embedding's sparse gradient the sum then
    fails on shapes that differ between replicas). With several replicas the patched
    optimizer sums the gradients itself, clips the sum, and hands each replica
    `clipped / N` to Keras's own sum, which rebuilds the clipped global gradient (one
    extra all-reduce per step, only when clipping is on).

    Sparse gradients (an embedding's `IndexedSlices`) are made dense before clipping, on
    any number of replicas: Keras's norm of `IndexedSlices` adds the squares of their
    rows, counting a token seen twice in the batch as two rows instead of one summed
    row, so it is not the gradient's norm (and would differ between one device and
    several). The optimizer's update densifies these gradients anyway.

    The class is unchanged (the instance's `_clip_gradients` is wrapped), so the
    optimizer saves and loads as before. `create_optimizer` applies it.

    Returns: the same optimizer.
    """
    if getattr(optimizer, "_clips_after_all_reduce", False):
        return optimizer
    keras_clip = optimizer._clip_gradients

    def _clip_gradients(grads):
        if not (optimizer.global_clipnorm or optimizer.clipnorm or optimizer.clipvalue):
            return keras_clip(grads)
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        present = [i for i, g in enumerate(grads) if g is not None]
        dense = [tf.convert_to_tensor(grads[i]) for i in present]
        if replicas > 1:
            dense = context.all_reduce(tf.distribute.ReduceOp.SUM, dense)
        clipped = keras_clip(list(dense))
        out = list(grads)
        for i, g in zip(present, clipped):
            out[i] = g / tf.cast(replicas, g.dtype) if replicas > 1 else g
        return out

    optimizer._clip_gradients = _clip_gradients
    optimizer._clips_after_all_reduce = True
    return optimizer


# --- precision --------------------------------------------------------------------------


def mixed_policy(strategy=None):
    """The mixed-precision policy for the strategy's device (`mixed_policy_for`):
    `mixed_float16` on GPU, `mixed_bfloat16` on TPU and bfloat16-capable CPUs, else
    float32."""
    return mixed_policy_for(device_type(strategy))


def resolve_precision(precision, strategy=None):
    """`"mixed"` → `mixed_policy(strategy)`; other names are returned unchanged.

    Raises:
        ValueError: for `mixed_float16` on a TPU (TPUs compute in bfloat16).
    """
    if precision is None:
        return "float32"
    if precision == "mixed":
        return mixed_policy(strategy)
    if precision in ("mixed_float16", "float16") and device_type(strategy) == "TPU":
        raise ValueError(f"precision {precision!r} on a TPU: use 'mixed' or 'mixed_bfloat16'.")
    return precision


# --- command-line flags -----------------------------------------------------------------


def add_strategy_flags(parser, default="auto"):
    """Adds `--strategy`, `--tpu`, `--devices` and `--per_replica_batch_size` to an
    `argparse` parser (the recipe keeps its own `--batch_size`, the global batch).

    Returns: the argument group.
    """
    group = parser.add_argument_group("distribution (tf.distribute)")
    group.add_argument(
        "--strategy", default=default, choices=list(STRATEGY_NAMES) + sorted(k for k in _ALIASES if k),
        help="auto: a TPU if found, else all local GPUs (mirrored), else one device; "
             "multi_worker: the cluster in TF_CONFIG; tpu: the TPU named by --tpu")
    group.add_argument("--tpu", default=None,
                       help="TPU name or grpc://ip:8470 address; 'local' on a TPU VM")
    group.add_argument("--devices", default=None,
                       help="comma-separated devices for one_device / mirrored (e.g. /gpu:0,/gpu:1)")
    group.add_argument("--per_replica_batch_size", type=int, default=None,
                       help="batch per replica; sets the global batch to this x replicas")
    return group


def strategy_from_flags(args, batch_size_attr="batch_size", private_dirs=("output_dir", "export_dir"),
                        log=print):
    """Builds the strategy of `add_strategy_flags`'s flags and settles the batch sizes.

    Call it first in `main` (before other TensorFlow work). It sets
    `args.<batch_size_attr>` to the global batch size and `args.per_replica_batch_size`
    to the per-replica one, resolves `args.precision` (when present) for the device,
    points the `private_dirs` flags of a non-chief worker at `worker_output_dir` (so
    workers never write the same file), and logs one line with the strategy, replicas,
    device type and both batch sizes.

    Returns: the `tf.distribute.Strategy`.
    """
    strategy = get_strategy(getattr(args, "strategy", "auto"), devices=getattr(args, "devices", None),
                            tpu=getattr(args, "tpu", None))
    info = describe_strategy(strategy)
    per_replica = getattr(args, "per_replica_batch_size", None)
    line = (f"strategy {info['strategy']} ({info['class']}): {info['num_replicas']} replica(s) "
            f"on {info['num_workers']} worker(s), {info['device_type']}, task {info['task']}")
    if getattr(args, batch_size_attr, None) is not None or per_replica is not None:
        global_size = None if per_replica is not None else getattr(args, batch_size_attr)
        global_size, per_replica = batch_sizes(strategy, global_size, per_replica)
        setattr(args, batch_size_attr, global_size)
        line += f"; global batch {global_size} = {per_replica} per replica x {info['num_replicas']}"
    args.per_replica_batch_size = per_replica
    if hasattr(args, "precision"):
        args.precision = resolve_precision(args.precision, strategy)
        line += f"; precision {args.precision}"
    for attr in private_dirs or ():
        if getattr(args, attr, None) and not is_chief(strategy):
            setattr(args, attr, worker_output_dir(getattr(args, attr), strategy))
    if log is not None:
        log(line)
    return strategy


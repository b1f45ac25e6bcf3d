"""How input is split between the workers of a multi-worker run.

Generated data (a stream, in-memory arrays) is sharded by DATA: every worker builds the
same stream and keeps its slice of every global batch, so a resumed run's `skip` is the
same on every worker. TFRecords are sharded by FILE with `distribute_file_dataset`: each
worker reads its own files and skips exactly the batches it consumed.

Example:
>>> ds = shard_dataset(tf.data.Dataset.range(4).batch(2), "data")
>>> [b.numpy().tolist() for b in ds]
[[0, 1], [2, 3]]
"""

import tensorflow as tf

from keras_bert_pkg.distribute.batch_sizes import per_replica_batch_size
from keras_bert_pkg.distribute.strategy_info import num_workers

SHARDING_POLICIES = {
    "data": tf.data.experimental.AutoShardPolicy.DATA,
    "file": tf.data.experimental.AutoShardPolicy.FILE,
    "auto": tf.data.experimental.AutoShardPolicy.AUTO,
    "off": tf.data.experimental.AutoShardPolicy.OFF,
}


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

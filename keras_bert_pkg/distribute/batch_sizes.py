"""Global and per-replica batch sizes: `fit` takes the global batch, each replica computes
`global / replicas` examples.

Example:
>>> batch_sizes(tf.distribute.get_strategy(), global_batch_size=32)
(32, 32)
"""

import tensorflow as tf

def batch_sizes(strategy=None, global_batch_size=None, per_replica_batch_size=None):
    """The global and per-replica batch sizes, from either one.

    `fit` takes the global batch (all replicas together); each replica computes
    `global / num_replicas` examples. Give exactly one of the two sizes.

    Returns: `(global_batch_size, per_replica_batch_size)`.

    Raises:
        ValueError: when neither or both are given (and disagree), or when the global
            batch does not split evenly over the replicas.
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

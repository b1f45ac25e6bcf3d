"""`tf.distribute`: strategies by name, what a strategy is, batch sizes, input sharding."""

"""Input sharding policies, and FILE sharding on one worker."""

import tensorflow as tf

from keras_bert_pkg.distribute.input_sharding import distribute_file_dataset, shard_dataset
from tests.test_case import TestCase


class ShardingTest(TestCase):
    def test_policies(self):
        ds = tf.data.Dataset.range(8).batch(4)
        policy = tf.data.experimental.AutoShardPolicy
        for name, expected in (("data", policy.DATA), ("file", policy.FILE), ("off", policy.OFF),
                               ("auto", policy.AUTO)):
            sharded = shard_dataset(ds, name)
            self.assertEqual(sharded.options().experimental_distribute.auto_shard_policy, expected)
            self.assertEqual([b.tolist() for b in sharded.as_numpy_iterator()], [[0, 1, 2, 3], [4, 5, 6, 7]])
        with self.assertRaisesRegex(ValueError, "Unknown sharding policy 'rows'"):
            shard_dataset(ds, "rows")

    def test_file_dataset_on_one_worker_reads_every_file_and_skips_the_steps_done(self):
        seen = []

        def make(files, batch_size, skip):
            seen.append((list(files), batch_size, skip))
            return tf.data.Dataset.range(100).batch(batch_size).skip(skip)

        ds = distribute_file_dataset(tf.distribute.get_strategy(), ["a", "b", "c"], make, 4, skip_steps=2)
        self.assertEqual(seen, [(["a", "b", "c"], 4, 2)])
        self.assertEqual(next(iter(ds)).numpy().tolist(), [8, 9, 10, 11])

"""Global and per-replica batch sizes."""

from keras_bert_pkg.distribute.batch_sizes import batch_sizes, global_batch_size, per_replica_batch_size
from tests.test_case import TestCase


class _FakeStrategy:
    """Stands in for a strategy with `n` replicas (batch-size arithmetic only)."""

    def __init__(self, n):
        self.num_replicas_in_sync = n


class BatchSizeTest(TestCase):
    def test_global_and_per_replica(self):
        four = _FakeStrategy(4)
        self.assertEqual(batch_sizes(four, global_batch_size=32), (32, 8))
        self.assertEqual(batch_sizes(four, per_replica_batch_size=8), (32, 8))
        self.assertEqual(batch_sizes(four, 32, 8), (32, 8))
        self.assertEqual(per_replica_batch_size(32, four), 8)
        self.assertEqual(global_batch_size(8, four), 32)
        self.assertEqual(batch_sizes(None, global_batch_size=5), (5, 5))  # the default strategy

    def test_errors(self):
        four = _FakeStrategy(4)
        with self.assertRaisesRegex(ValueError, "global batch size 30 does not split over 4 replicas"):
            batch_sizes(four, global_batch_size=30)
        with self.assertRaisesRegex(ValueError, "global batch size 30 != per-replica batch size 8 x 4"):
            batch_sizes(four, 30, 8)
        with self.assertRaisesRegex(ValueError, "Give a global batch size or a per-replica"):
            batch_sizes(four)
        with self.assertRaisesRegex(ValueError, "must be >= 1"):
            batch_sizes(four, per_replica_batch_size=0)

"""Tests of `keras_bert_pkg.training.strategies`: every strategy is constructed (TPU with
a mocked resolver, and for real up to its clear error here), batch sizes, sharding,
precision, clipping, the recipes' flags; MirroredStrategy over 2 logical CPU devices
against one device (in a subprocess: logical devices must be set before TF starts)."""

import argparse
import importlib.util
import json
import os
import sys
import time
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_pkg.training import strategies
from keras_bert_pkg.training.mixed_precision import cpu_has_bfloat16
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.strategies import (
    STRATEGY_NAMES, add_strategy_flags, batch_sizes, canonical_strategy_name, clip_after_all_reduce,
    describe_strategy, device_type, distribute_file_dataset, get_strategy, global_batch_size, is_chief,
    mixed_policy, per_replica_batch_size, resolve_precision, shard_dataset, strategy_from_flags,
    worker_output_dir)
from tests.test_case import TestCase
from tests.training.local_cluster import JOB, PYTHON, free_ports, result_line, result_lines, run_process, tf_config

# "mixed" on this machine's CPU: bfloat16 only where the CPU has bfloat16 instructions.
_CPU_MIXED_POLICY = "mixed_bfloat16" if cpu_has_bfloat16() is not False else "float32"

_NO_TPU_ENV = {k: v for k, v in os.environ.items() if k not in ("TPU_NAME", "TF_CONFIG")}


class _FakeStrategy:
    """Stands in for a strategy with `n` replicas (batch-size arithmetic only)."""

    def __init__(self, n):
        self.num_replicas_in_sync = n


class StrategyConstructionTest(TestCase):
    def test_names_and_aliases(self):
        self.assertEqual(STRATEGY_NAMES, ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu"))
        self.assertEqual(canonical_strategy_name("multi_worker_mirrored"), "multi_worker")
        self.assertEqual(canonical_strategy_name(None), "default")
        self.assertEqual(canonical_strategy_name(" Mirrored "), "mirrored")
        with self.assertRaisesRegex(ValueError, "Unknown strategy 'gpus'.*auto.*tpu"):
            get_strategy("gpus")

    def test_default(self):
        strategy = get_strategy("default")
        self.assertIs(strategy, tf.distribute.get_strategy())
        info = describe_strategy(strategy)
        self.assertEqual((info["strategy"], info["num_replicas"], info["num_workers"], info["chief"]),
                         ("default", 1, 1, True))
        self.assertEqual(info["device_type"], "CPU")

    def test_auto_on_a_cpu_machine_is_the_default_strategy(self):
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            self.assertEqual(tf.config.list_logical_devices("GPU"), [])
            self.assertIs(get_strategy("auto"), tf.distribute.get_strategy())

    def test_auto_takes_all_gpus_when_there_are_some(self):
        gpus = [mock.Mock(name=f"gpu{i}") for i in range(2)]
        for i, g in enumerate(gpus):
            g.name = f"/device:GPU:{i}"
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True), \
                mock.patch.object(tf.config, "list_logical_devices", return_value=gpus), \
                mock.patch.object(tf.distribute, "MirroredStrategy") as mirrored:
            get_strategy("auto")
        mirrored.assert_called_once_with(devices=["/device:GPU:0", "/device:GPU:1"])

    def test_one_device(self):
        strategy = get_strategy("one_device")
        self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
        self.assertEqual(describe_strategy(strategy)["devices"], ["/job:localhost/replica:0/task:0/device:CPU:0"])
        self.assertEqual(describe_strategy(strategy)["strategy"], "one_device")
        with self.assertRaisesRegex(ValueError, "'one_device' takes one device"):
            get_strategy("one_device", devices="/cpu:0,/cpu:1")

    def test_mirrored_builds_and_trains_a_model_in_scope(self):
        strategy = get_strategy("mirrored", devices="/cpu:0")
        self.assertIsInstance(strategy, tf.distribute.MirroredStrategy)
        self.assertEqual(describe_strategy(strategy)["strategy"], "mirrored")
        with strategy.scope():
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            model.compile(optimizer=create_optimizer(1e-2, total_steps=2), loss="mse")
        self.assertIsInstance(model.weights[0].value, tf.distribute.DistributedValues)
        model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), batch_size=2, verbose=0)
        self.assertEqual(int(model.optimizer.iterations.numpy()), 2)

    def test_a_strategy_object_is_returned_unchanged(self):
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        self.assertIs(get_strategy(strategy), strategy)

    def test_multi_worker_needs_a_valid_tf_config(self):
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            with self.assertRaisesRegex(ValueError, "needs the cluster in the TF_CONFIG"):
                get_strategy("multi_worker")
        with mock.patch.dict(os.environ, {"TF_CONFIG": "{not json"}):
            with self.assertRaisesRegex(ValueError, "TF_CONFIG is not a valid cluster description"):
                get_strategy("multi_worker")
        bad_index = json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}})
        with mock.patch.dict(os.environ, {"TF_CONFIG": bad_index}):
            with self.assertRaisesRegex(ValueError, "worker:3 is not in the cluster"):
                get_strategy("multi_worker_mirrored")

    def test_tpu_without_an_address_is_a_clear_error(self):
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            with self.assertRaisesRegex(ValueError, "no TPU given or found.*--tpu local on a TPU VM"):
                get_strategy("tpu")

    def test_tpu_construction_path_with_a_mocked_resolver(self):
        calls = []
        resolver = object()
        with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver",
                               side_effect=lambda tpu: calls.append(("resolver", tpu)) or resolver), \
                mock.patch.object(tf.config, "experimental_connect_to_cluster",
                                  side_effect=lambda r: calls.append(("connect", r))), \
                mock.patch.object(tf.tpu.experimental, "initialize_tpu_system",
                                  side_effect=lambda r: calls.append(("initialize", r))), \
                mock.patch.object(tf.distribute, "TPUStrategy",
                                  side_effect=lambda r: calls.append(("strategy", r)) or "tpu-strategy"):
            self.assertEqual(get_strategy("tpu", tpu="grpc://10.1.2.3:8470"), "tpu-strategy")
            self.assertEqual(calls, [("resolver", "grpc://10.1.2.3:8470"), ("connect", resolver),
                                     ("initialize", resolver), ("strategy", resolver)])
            # `auto` connects to the TPU named by $TPU_NAME.
            calls.clear()
            with mock.patch.dict(os.environ, dict(_NO_TPU_ENV, TPU_NAME="my-tpu"), clear=True):
                self.assertEqual(get_strategy("auto"), "tpu-strategy")
            self.assertEqual(calls[0], ("resolver", "my-tpu"))

    def test_tpu_that_does_not_initialise_is_a_clear_error(self):
        def fail(resolver):
            raise tf.errors.NotFoundError(None, None, "TPUs not found in the cluster.")

        with mock.patch.object(tf.distribute.cluster_resolver, "TPUClusterResolver", return_value=object()), \
                mock.patch.object(tf.config, "experimental_connect_to_cluster"), \
                mock.patch.object(tf.tpu.experimental, "initialize_tpu_system", side_effect=fail):
            with self.assertRaisesRegex(RuntimeError, "could not initialise the TPU 'local': TPUs not found"):
                get_strategy("tpu", tpu="local")


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


class PrecisionTest(TestCase):
    def test_mixed_follows_the_device(self):
        self.assertEqual(device_type(), "CPU")
        self.assertEqual(mixed_policy(), _CPU_MIXED_POLICY)
        self.assertEqual(resolve_precision("mixed"), _CPU_MIXED_POLICY)
        self.assertEqual(resolve_precision("float32"), "float32")
        self.assertEqual(resolve_precision(None), "float32")
        with mock.patch.object(strategies, "device_type", return_value="GPU"):
            self.assertEqual(resolve_precision("mixed"), "mixed_float16")
        with mock.patch.object(strategies, "device_type", return_value="TPU"):
            self.assertEqual(resolve_precision("mixed"), "mixed_bfloat16")
            with self.assertRaisesRegex(ValueError, "'mixed_float16' on a TPU"):
                resolve_precision("mixed_float16")

    def test_default_strategy_on_a_gpu_machine_is_gpu(self):
        with mock.patch.object(tf.config, "list_logical_devices", return_value=["gpu"]):
            self.assertEqual(device_type(tf.distribute.get_strategy()), "GPU")


class ClippingTest(TestCase):
    def test_sparse_gradient_is_clipped_by_its_true_norm(self):
        # Token 0 twice in the batch: the embedding gradient holds row 0 twice. The
        # gradient is [[6, 0], [0, 0]] (norm 6); Keras's own norm would be sqrt(18).
        grad = tf.IndexedSlices(tf.constant([[3.0, 0.0], [3.0, 0.0]]), tf.constant([0, 0]),
                                dense_shape=tf.constant([2, 2]))
        dense = tf.constant([[0.0, 0.0]])
        optimizer = create_optimizer(1e-3, total_steps=10)
        self.assertTrue(optimizer._clips_after_all_reduce)
        clipped = optimizer._clip_gradients([grad, None, dense])
        np.testing.assert_allclose(clipped[0].numpy(), [[1.0, 0.0], [0.0, 0.0]], atol=1e-6)
        self.assertIsNone(clipped[1])
        keras_own = keras.optimizers.AdamW(global_clipnorm=1.0)._clip_gradients([grad])
        self.assertNotAlmostEqual(float(tf.convert_to_tensor(keras_own[0])[0, 0]), 1.0, places=3)

    def test_no_clipping_is_keras_unchanged(self):
        optimizer = clip_after_all_reduce(keras.optimizers.SGD(0.1))
        grads = [tf.constant([30.0, 40.0])]
        self.assertIs(optimizer._clip_gradients(grads)[0], grads[0])
        self.assertIs(clip_after_all_reduce(optimizer), optimizer)


class FlagsTest(TestCase):
    def parser(self):
        p = argparse.ArgumentParser()
        p.add_argument("--batch_size", type=int, default=32, help="global batch size")
        p.add_argument("--precision", default="float32")
        p.add_argument("--output_dir", default="runs/x")
        add_strategy_flags(p)
        return p

    def test_defaults_and_log_line(self):
        args = self.parser().parse_args([])
        self.assertEqual((args.strategy, args.tpu, args.devices, args.per_replica_batch_size),
                         ("auto", None, None, None))
        lines = []
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            strategy = strategy_from_flags(args, log=lines.append)
        self.assertIs(strategy, tf.distribute.get_strategy())
        self.assertEqual((args.batch_size, args.per_replica_batch_size, args.output_dir),
                         (32, 32, "runs/x"))
        self.assertEqual(len(lines), 1)
        self.assertIn("strategy default", lines[0])
        self.assertIn("global batch 32 = 32 per replica x 1", lines[0])
        self.assertIn("precision float32", lines[0])

    def test_per_replica_batch_and_mixed_precision(self):
        args = self.parser().parse_args(["--strategy", "one_device", "--per_replica_batch_size", "8",
                                         "--precision", "mixed"])
        strategy = strategy_from_flags(args, log=None)
        self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy)
        self.assertEqual((args.batch_size, args.per_replica_batch_size, args.precision),
                         (8, 8, _CPU_MIXED_POLICY))

    def test_bad_values_are_rejected(self):
        with self.assertRaises(SystemExit), mock.patch("sys.stderr"):
            self.parser().parse_args(["--strategy", "gpus"])
        args = self.parser().parse_args(["--strategy", "multi_worker"])
        with mock.patch.dict(os.environ, _NO_TPU_ENV, clear=True):
            with self.assertRaisesRegex(ValueError, "TF_CONFIG"):
                strategy_from_flags(args, log=None)

    def test_every_training_recipe_takes_the_flags(self):
        recipes = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "recipes")
        minimal = {"pretrain": ["--text", "t.txt", "--vocab", "v.txt"],
                   "glue": ["--task", "sst2", "--preset", "bert_tiny"],
                   "squad": [], "ner": [], "swag": ["--data_dir", "swag"]}
        for name, argv in minimal.items():
            spec = importlib.util.spec_from_file_location(f"recipe_{name}", os.path.join(recipes, f"{name}.py"))
            recipe = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(recipe)
            args = recipe.parse_args(argv + ["--strategy", "one_device", "--per_replica_batch_size", "4",
                                             "--tpu", "local"])
            self.assertEqual((args.strategy, args.tpu), ("one_device", "local"), name)
            lines = []
            strategy = strategy_from_flags(args, log=lines.append)
            self.assertIsInstance(strategy, tf.distribute.OneDeviceStrategy, name)
            self.assertEqual((args.batch_size, args.per_replica_batch_size), (4, 4), name)
            self.assertIn("global batch 4 = 4 per replica x 1", lines[0], name)
            source = open(os.path.join(recipes, f"{name}.py")).read()
            self.assertIn("strategy_from_flags(", source.split("def main(")[1], name)

    def test_chief_keeps_its_output_dir(self):
        self.assertTrue(is_chief())
        self.assertEqual(worker_output_dir("runs/x"), "runs/x")


def _run_job(tmp_path, name, argv, timeout, **env):
    code, log = run_process([PYTHON, JOB] + argv, str(tmp_path / f"{name}.log"), timeout, **env)
    assert code == 0, log[-4000:]
    return log


def test_multi_worker_strategy_constructs_from_tf_config(tmp_path):
    """A one-worker cluster on 127.0.0.1 (the two-worker runs are in test_multi_worker)."""
    started = time.time()
    log = _run_job(tmp_path, "construct", ["construct"], 300, TF_CONFIG=tf_config(free_ports(1), 0))
    info = result_line(log)
    assert (info["strategy"], info["num_workers"], info["num_replicas"], info["task"], info["chief"]) == \
        ("multi_worker", 1, 1, "worker:0", True)
    assert info["mixed_policy"] == _CPU_MIXED_POLICY and info["batch_sizes"] == [8, 8]
    print(f"multi-worker construction: {time.time() - started:.1f} s")


@pytest.mark.slow  # ~45 s of CPU; 4 min of wall time on the shared 2-core machine
def test_mirrored_over_two_cpus_matches_one_device(tmp_path):
    """Same global batches (8), dropout 0, BERT's AdamW (clip 1.0): a BertClassifier on real
    SST-2 rows and a BertPretrainer on BERT's sample text, one device vs MirroredStrategy
    over 2 logical CPU devices (4 a replica). Measured: losses within 1e-7 relative,
    weights within 3e-8 (float32 summation order); asserted: 1e-6 relative / 1e-6 absolute."""
    started = time.time()
    log = _run_job(tmp_path, "trajectory", ["trajectory", "--model", "both", "--steps", "4"], 900)
    results = {r["model"]: r for r in result_lines(log)}
    assert sorted(results) == ["classifier", "pretrainer"]
    for model, r in results.items():
        assert r["replicas"] == {"one_device": 1, "mirrored": 2}, model
        assert r["per_replica_batch_size"] == {"one_device": 8, "mirrored": 4}, model
        one, mirrored = np.array(r["loss"]["one_device"]), np.array(r["loss"]["mirrored"])
        assert len(one) == 4 and np.all(np.isfinite(one))
        np.testing.assert_allclose(mirrored, one, rtol=1e-6, err_msg=model)
        assert r["max_abs_weight_diff"] < 1e-6, (model, r["max_abs_weight_diff"])
        print(f"{model}: max rel loss diff {r['max_rel_loss_diff']:.2e}, "
              f"max abs weight diff {r['max_abs_weight_diff']:.2e}")
    assert results["pretrainer"]["loss"]["one_device"][-1] < results["pretrainer"]["loss"]["one_device"][0]
    print(f"mirrored trajectories: {time.time() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

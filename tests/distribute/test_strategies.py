"""Strategies by name: construction of each (TPU with a mocked resolver), what they are,
a one-worker cluster, and MirroredStrategy over two CPUs training like one device (slow)."""

import json
import os
import time
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_pkg.distribute.strategies import STRATEGY_NAMES, canonical_strategy_name, get_strategy
from keras_bert_pkg.distribute.strategy_info import describe_strategy, device_type, is_chief, worker_output_dir
from keras_bert_pkg.training.optimizers import create_optimizer
from keras_bert_pkg.training.precision import cpu_has_bfloat16
from tests.test_case import TestCase
from tests.training.local_cluster import JOB, PYTHON, free_ports, result_line, result_lines, run_process, tf_config

# "mixed" on this machine's CPU: bfloat16 only where the CPU has bfloat16 instructions.
_CPU_MIXED_POLICY = "mixed_bfloat16" if cpu_has_bfloat16() is not False else "float32"

_NO_TPU_ENV = {k: v for k, v in os.environ.items() if k not in ("TPU_NAME", "TF_CONFIG")}


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

    def test_default_strategy_on_a_gpu_machine_is_gpu(self):
        with mock.patch.object(tf.config, "list_logical_devices", return_value=["gpu"]):
            self.assertEqual(device_type(tf.distribute.get_strategy()), "GPU")

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



"""MultiWorkerMirroredStrategy with 2 worker processes on 127.0.0.1 (TF_CONFIG, free
ports): pre-training through `recipes/pretrain.py` (tiny BertPretrainer, BERT's sample
text), fine-tuning (tiny BertClassifier, real SST-2 rows), FILE-sharded TFRecords, and a
worker killed mid-run and restarted with the cluster. Every process has a deadline and is
killed when its test ends. Slow: each cluster start costs two TensorFlow start-ups."""

import glob
import io
import json
import os
import signal
import time
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf

from tests.test_case import SHARED_DATA, UNCASED_VOCAB
from tests.training.local_cluster import (JOB, PROJECT_ROOT, PYTHON, LocalCluster, result_line,
                                          run_process)

pytestmark = pytest.mark.slow

SAMPLE_TEXT = SHARED_DATA / "pretrain_text" / "bert_sample_text" / "sample_text.txt"
TINY = {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64,
        "max_sequence_length": 64, "dropout": 0.0}
STEPS, LOG_EVERY, CHECKPOINT_EVERY, BATCH = 40, 2, 4, 8
DEADLINE = 900  # seconds for one cluster run on the loaded 2-core machine


def pretrain_argv(output_dir, config, strategy="multi_worker", *extra, records=None):
    """`recipes/pretrain.py` on BERT's sample text (masked on the fly), or on `records`."""
    source = (["--input_files", str(records)] if records else
              ["--text", str(SAMPLE_TEXT), "--max_seq_length", "64", "--max_predictions_per_seq", "10"])
    return [PYTHON, os.path.join(PROJECT_ROOT, "recipes", "pretrain.py"), *source,
            "--vocab", str(UNCASED_VOCAB), "--config", str(config), "--batch_size", str(BATCH), "--steps", str(STEPS),
            "--learning_rate", "1e-3", "--warmup_steps", "4", "--log_every", str(LOG_EVERY),
            "--checkpoint_every", str(CHECKPOINT_EVERY), "--strategy", strategy,
            "--output_dir", str(output_dir), "--verbose", "0", *extra]


def keras_file_weights(path):
    """Every weight array of a `.keras` file, by its HDF5 path."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    weights = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: weights.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    assert weights, path
    return weights


def max_abs_diff(a, b):
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - b[k]))) for k in a)


def assert_identical(a, b, what):
    assert sorted(a) == sorted(b), what
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{what}: {k} differs by {np.max(np.abs(a[k] - b[k]))}"


def checkpoint_steps(directory):
    return sorted(int(os.path.basename(p)[5:]) for p in glob.glob(os.path.join(directory, "ckpt-*"))
                  if not p.endswith(".tmp") and os.path.exists(os.path.join(p, "state.json")))


def optimizer_iterations(checkpoint):
    state = json.load(open(os.path.join(checkpoint, "state.json")))
    index = [i for i, p in enumerate(state["variable_paths"]["optimizer"])
             if p.rsplit("/", 1)[-1] in ("iteration", "iterations")]
    assert len(index) == 1, state["variable_paths"]["optimizer"][:5]
    with np.load(os.path.join(checkpoint, "variables.npz")) as arrays:
        return int(arrays[f"optimizer/{index[0]:06d}"])


def run_cluster(argv, log_dir, **env):
    started = time.time()
    with LocalCluster(2, lambda i: argv, str(log_dir), **env) as cluster:
        cluster.start()
        codes = cluster.wait(DEADLINE)
        assert codes == [0, 0], cluster.describe()
        outputs = [cluster.output(i) for i in range(2)]
    return outputs, time.time() - started


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_config):
    """A 2-worker pre-training run, start to end."""
    out = tmp_path_factory.mktemp("mw_pretrain")
    _, seconds = run_cluster(pretrain_argv(out / "run", tiny_config), out / "logs")
    print(f"\n2-worker pre-training, {STEPS} steps: {seconds:.0f} s")
    return out / "run"


def test_pretraining_two_workers_identical_weights(uninterrupted):
    chief, other = uninterrupted, uninterrupted / "workers" / "worker_1"
    # Both workers end with identical weights.
    assert_identical(keras_file_weights(chief / "pretrainer.keras"),
                     keras_file_weights(other / "pretrainer.keras"), "worker 0 vs worker 1")
    # Global batch 8 = 4 per replica x 2 replicas on 2 workers; every step logged once.
    metrics = json.load(open(chief / "metrics.json"))
    assert (metrics["strategy"], metrics["num_replicas"], metrics["distribution"]["num_workers"],
            metrics["batch_size"], metrics["per_replica_batch_size"]) == ("multi_worker", 2, 2, 8, 4)
    assert [h["step"] for h in metrics["history"]] == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    losses = [h["loss"] for h in metrics["history"]]
    assert losses == [h["loss"] for h in json.load(open(other / "metrics.json"))["history"]]
    assert losses[-1] < losses[0]
    assert json.load(open(other / "metrics.json"))["distribution"]["task"] == "worker:1"
    # Only the chief writes checkpoints.
    assert checkpoint_steps(chief / "checkpoints")[-1] == STEPS
    assert optimizer_iterations(chief / "checkpoints" / f"ckpt-{STEPS:09d}") == STEPS
    assert not (other / "checkpoints").exists()


def test_pretraining_two_workers_equal_one_process(tiny_config, tmp_path):
    """The masking stream is sharded by DATA, so 2 workers see the global batches one
    process sees. Whole-word masking draws its masks in Python; the in-graph masker of
    the default path draws other (equally valid) masks once tf.data re-instantiates its
    random ops for distribution, so it is not comparable across the two set-ups."""
    _, seconds = run_cluster(pretrain_argv(tmp_path / "two", tiny_config, "multi_worker",
                                           "--whole_word_masking"), tmp_path / "logs")
    started = time.time()
    code, log = run_process(pretrain_argv(tmp_path / "one", tiny_config, "default", "--whole_word_masking"),
                            str(tmp_path / "one.log"), DEADLINE)
    assert code == 0, log[-4000:]
    two = json.load(open(tmp_path / "two" / "metrics.json"))
    one = json.load(open(tmp_path / "one" / "metrics.json"))
    assert (two["num_replicas"], one["num_replicas"]) == (2, 1)
    diff = max_abs_diff(keras_file_weights(tmp_path / "two" / "pretrainer.keras"),
                        keras_file_weights(tmp_path / "one" / "pretrainer.keras"))
    losses = np.array([h["loss"] for h in two["history"]])
    one_losses = np.array([h["loss"] for h in one["history"]])
    print(f"\n2 workers {seconds:.0f} s, one process {time.time() - started:.0f} s; after {STEPS} steps: "
          f"max abs weight diff {diff:.2e}, max rel loss diff "
          f"{np.max(np.abs(losses - one_losses) / one_losses):.2e}")
    np.testing.assert_allclose(losses, one_losses, rtol=1e-5)
    assert diff < 1e-5, diff


def test_finetuning_two_workers_identical_weights_and_equal_to_one_process(tmp_path):
    out = tmp_path / "ft"
    argv = [PYTHON, JOB, "finetune", "--steps", "6", "--batch_size", "8", "--output_dir", str(out)]
    outputs, seconds = run_cluster(argv, tmp_path / "logs")
    results = [result_line(text) for text in outputs]
    assert [r["task"] for r in results] == ["worker:0", "worker:1"]
    for r in results:
        assert (r["strategy"], r["num_workers"], r["num_replicas"], r["global_batch_size"],
                r["per_replica_batch_size"], r["iterations"]) == ("multi_worker", 2, 2, 8, 4, 6)
    weights = [np.load(r["weights_file"]) for r in results]
    assert_identical(dict(weights[0]), dict(weights[1]), "worker 0 vs worker 1")
    assert results[0]["loss"] == results[1]["loss"]

    code, log = run_process([PYTHON, JOB, "finetune", "--strategy", "default", "--steps", "6",
                             "--batch_size", "8", "--output_dir", str(tmp_path / "one")],
                            str(tmp_path / "one.log"), DEADLINE)
    assert code == 0, log[-4000:]
    one = result_line(log)
    assert one["num_replicas"] == 1
    reference = np.load(one["weights_file"])
    diff = max(float(np.max(np.abs(weights[0][k] - reference[k]))) for k in reference.files)
    print(f"\n2-worker fine-tuning: {seconds:.0f} s; vs one process: max abs weight diff {diff:.2e}, "
          f"losses {results[0]['loss']} vs {one['loss']}")
    np.testing.assert_allclose(results[0]["loss"], one["loss"], rtol=1e-6)
    assert diff < 1e-6, diff


def kill_and_restart(argv, out, log_dir):
    """Starts a 2-worker run, kills worker 1 (SIGKILL) once the first checkpoint exists,
    stops the survivor, starts the cluster again on the same output directory and lets
    it finish. Returns a line describing what happened and the newest checkpoint step at
    the restart."""
    first_checkpoint = out / "checkpoints" / f"ckpt-{CHECKPOINT_EVERY:09d}" / "state.json"
    with LocalCluster(2, lambda i: argv, str(log_dir)) as cluster:
        started = time.time()
        cluster.start()
        assert cluster.wait_for(first_checkpoint.exists, DEADLINE), cluster.describe()
        cluster.kill(1, signal.SIGKILL)
        killed_at, kill_time = checkpoint_steps(out / "checkpoints")[-1], time.monotonic()
        # The survivor cannot finish: it fails (or hangs in a collective) without its peer.
        while cluster.procs[0].poll() is None and time.monotonic() < kill_time + 120:
            time.sleep(0.2)
        survivor, survivor_seconds = cluster.procs[0].poll(), time.monotonic() - kill_time
        cluster.stop()
        resume_step = checkpoint_steps(out / "checkpoints")[-1]
        assert CHECKPOINT_EVERY <= resume_step < STEPS, resume_step
        assert not (out / "metrics.json").exists()  # the first run did not finish
        first_seconds = time.time() - started

        started = time.time()
        cluster.start()  # fresh ports, same output directory
        codes = cluster.wait(DEADLINE)
        assert codes == [0, 0], cluster.describe()
        second_seconds = time.time() - started
    fate = (f"exited with code {survivor} after {survivor_seconds:.1f} s" if survivor is not None
            else "still running after 120 s, killed")
    return (f"killed worker 1 at checkpoint step {killed_at}; worker 0 {fate}; newest checkpoint "
            f"{resume_step}; {first_seconds:.0f} s + {second_seconds:.0f} s"), resume_step


def assert_resumed_like(out, uninterrupted, resume_step, what):
    """The restarted run in `out` resumed at `resume_step` and ended as `uninterrupted`."""
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["resumed_from_step"] == resume_step
    # Nothing lost or repeated: every logged step once, the optimizer at the last step.
    assert [h["step"] for h in metrics["history"]] == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    assert optimizer_iterations(out / "checkpoints" / f"ckpt-{STEPS:09d}") == STEPS
    assert optimizer_iterations(uninterrupted / "checkpoints" / f"ckpt-{STEPS:09d}") == STEPS
    # Same weights as the uninterrupted run, on both workers.
    final = keras_file_weights(out / "pretrainer.keras")
    assert_identical(final, keras_file_weights(out / "workers" / "worker_1" / "pretrainer.keras"),
                     "restarted worker 0 vs worker 1")
    diff = max_abs_diff(final, keras_file_weights(uninterrupted / "pretrainer.keras"))
    print(f"{what}: resumed from step {metrics['resumed_from_step']}; restarted vs uninterrupted: "
          f"max abs weight diff {diff:.2e}")
    assert diff <= 1e-6, diff  # measured: 0.0 (bit-identical)
    reference = json.load(open(uninterrupted / "metrics.json"))["history"]
    np.testing.assert_allclose([h["loss"] for h in metrics["history"]], [h["loss"] for h in reference],
                               rtol=1e-6)


def test_killed_worker_resumes_from_the_last_checkpoint(uninterrupted, tiny_config, tmp_path):
    """Worker 1 is killed (SIGKILL) once a checkpoint exists; MultiWorkerMirroredStrategy
    cannot lose a member, so the cluster is started again (both workers, as a job
    scheduler would) and resumes from the newest checkpoint: the run ends at the same
    step with every step logged once and the uninterrupted run's weights."""
    out = tmp_path / "run"
    line, resume_step = kill_and_restart(pretrain_argv(out, tiny_config), out, tmp_path / "logs")
    print("\n" + line)
    assert_resumed_like(out, uninterrupted, resume_step, "text stream (DATA sharding)")


def test_killed_worker_resumes_on_file_sharded_records(tiny_config, tmp_path):
    """The same on TFRecords written by `recipes/create_pretraining_data.py` from BERT's
    sample text: sharded by FILE between the workers (`distribute_file_dataset`), each
    worker's input skips exactly the batches it consumed before the kill."""
    code, log = run_process([PYTHON, os.path.join(PROJECT_ROOT, "recipes", "create_pretraining_data.py"),
                             "--input_file", str(SAMPLE_TEXT), "--output_dir", str(tmp_path / "records"),
                             "--vocab", str(UNCASED_VOCAB), "--max_seq_length", "64",
                             "--max_predictions_per_seq", "10", "--dupe_factor", "4", "--num_shards", "4",
                             "--num_workers", "1", "--no_progress"], str(tmp_path / "data.log"), DEADLINE)
    assert code == 0, log[-4000:]
    files = sorted(glob.glob(str(tmp_path / "records" / "*.tfrecord")))
    assert len(files) >= 2, files

    records = tmp_path / "records" / "*.tfrecord"
    _, seconds = run_cluster(pretrain_argv(tmp_path / "uninterrupted", tiny_config, records=records),
                             tmp_path / "logs_a")
    metrics = json.load(open(tmp_path / "uninterrupted" / "metrics.json"))
    assert metrics["train_data"]["input_files"] and metrics["num_replicas"] == 2
    line, resume_step = kill_and_restart(pretrain_argv(tmp_path / "run", tiny_config, records=records),
                                         tmp_path / "run", tmp_path / "logs_b")
    print(f"\n{len(files)} record files; uninterrupted {seconds:.0f} s; {line}")
    assert_resumed_like(tmp_path / "run", tmp_path / "uninterrupted", resume_step, "TFRecords (FILE sharding)")


def test_file_sharded_records_resume_at_the_exact_batch(tmp_path):
    """`distribute_file_dataset`: 4 TFRecord files, 2 workers; each worker reads only its
    files, and a run started at step 3 gets exactly the batches steps 4-6 got."""
    data = tmp_path / "records"
    data.mkdir()
    for f in range(4):
        with tf.io.TFRecordWriter(str(data / f"part-{f}.tfrecord")) as writer:
            for j in range(12):
                feature = {"id": tf.train.Feature(int64_list=tf.train.Int64List(value=[100 * f + j]))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    runs = {}
    for skip, steps in ((0, 6), (3, 3)):
        argv = [PYTHON, JOB, "records", "--steps", str(steps), "--skip_steps", str(skip),
                "--batch_size", "4", "--output_dir", str(data)]
        outputs, seconds = run_cluster(argv, tmp_path / f"logs_{skip}")
        runs[skip] = {r["task"]: r["steps"] for r in map(result_line, outputs)}
        print(f"\nrecords from step {skip}: {seconds:.0f} s")
    seen = {}
    for task in (0, 1):
        full = runs[0][task]
        assert all(len(step) == 2 for step in full)  # per-replica batch 4 / 2
        assert runs[3][task] == full[3:], (task, runs[3][task], full)
        ids = [i for step in full for i in step]
        assert len(set(ids)) == len(ids) == 12
        assert {(i // 100) % 2 for i in ids} == {task}, ids  # files task, task + 2
        seen[task] = set(ids)
    assert not seen[0] & seen[1]

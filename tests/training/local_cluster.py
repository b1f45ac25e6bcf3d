"""A multi-worker TensorFlow cluster of local processes on 127.0.0.1, for the tests.

Each worker is a subprocess with its own `TF_CONFIG` (free ports picked at start), its
own process group (so a kill reaches its children too) and its stdout+stderr in a log
file. Every wait has a deadline; leaving the `with` block kills whatever still runs.

    with LocalCluster(2, lambda i: [sys.executable, "job.py"], log_dir) as cluster:
        cluster.start()
        codes = cluster.wait(timeout=300)
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB = os.path.join(PROJECT_ROOT, "tests", "training", "distributed_job.py")
PYTHON = sys.executable


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (held together while picked)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports, index):
    """The `TF_CONFIG` of worker `index` of a cluster of workers on `ports`."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def subprocess_env(**extra):
    """The environment of a test subprocess: the project importable, TF quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PROJECT_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("TF_CONFIG", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_process(argv, log_path, timeout, **env):
    """Runs one process to completion (killed at `timeout` seconds); returns its exit
    code and its log."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                                env=subprocess_env(**env), start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise AssertionError(f"{argv} ran past {timeout} s; log:\n{_tail(log_path)}")
        finally:
            _kill_group(proc)
    return code, open(log_path).read()


def result_lines(text):
    """The JSON of every `RESULT ` line of a job's output (AssertionError with the
    output's end when there is none)."""
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise AssertionError(f"no RESULT line in the output:\n{text[-3000:]}")
    return [json.loads(line[len("RESULT "):]) for line in lines]


def result_line(text):
    """The JSON of the last `RESULT ` line of a job's output."""
    return result_lines(text)[-1]


def _tail(path, chars=4000):
    try:
        return open(path).read()[-chars:]
    except OSError:
        return "(no log)"


def _kill_group(proc, sig=signal.SIGKILL):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


class LocalCluster:
    """`num_workers` worker processes forming one MultiWorkerMirroredStrategy cluster.

    Args:
        num_workers: workers.
        command: `index -> argv` of worker `index`.
        log_dir: where `worker_<i>.log` (and `worker_<i>.<run>.log` on restarts) go.
        env: extra environment variables.
    """

    def __init__(self, num_workers, command, log_dir, **env):
        self.num_workers = num_workers
        self.command = command
        self.log_dir = log_dir
        self.env = env
        self.procs = []
        self.runs = 0
        self.logs = []
        os.makedirs(log_dir, exist_ok=True)

    def start(self):
        """Starts every worker on fresh ports (a restarted cluster gets new ones)."""
        self.stop()
        ports = free_ports(self.num_workers)
        self.runs += 1
        self.procs, self.logs = [], []
        for i in range(self.num_workers):
            path = os.path.join(self.log_dir, f"worker_{i}.run{self.runs}.log")
            self.logs.append(path)
            log = open(path, "w")
            self.procs.append(subprocess.Popen(
                self.command(i), stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                env=subprocess_env(TF_CONFIG=tf_config(ports, i), **self.env),
                start_new_session=True))
            log.close()
        return ports

    def wait(self, timeout, indices=None):
        """Waits for the workers (`indices`, default all) to exit; returns their exit
        codes. Past `timeout` seconds every worker is killed and AssertionError raised
        with the logs."""
        indices = range(self.num_workers) if indices is None else indices
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.procs[i].poll() is not None for i in indices):
                return [self.procs[i].returncode for i in indices]
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"workers {list(indices)} still running after {timeout} s:\n" + self.describe())

    def wait_for(self, predicate, timeout, poll=0.05):
        """Polls `predicate()` until true; False at `timeout` or when a worker exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if any(p.poll() is not None for p in self.procs):
                return bool(predicate())
            time.sleep(poll)
        return False

    def kill(self, index, sig=signal.SIGKILL):
        """Kills worker `index` (its whole process group)."""
        _kill_group(self.procs[index], sig)

    def stop(self):
        """Kills every worker still running."""
        for proc in self.procs:
            _kill_group(proc)

    def output(self, index):
        return open(self.logs[index]).read()

    def describe(self):
        return "\n".join(f"--- worker {i} (exit {p.poll()}) ---\n{_tail(self.logs[i])}"
                         for i, p in enumerate(self.procs))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

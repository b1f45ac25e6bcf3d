"""What every benchmark shares: the machine line, interleaved timing, tables, JSON.

Every benchmark prints, beside its figures, the machine it ran on: the CPU, the load
average (`os.getloadavg()`) at the start and at the end, and the machine's measured
matrix-multiply rate in float32 and bfloat16 (a 1024x1024x1024 `tf.matmul`, best and
median of several runs). On a shared machine absolute figures move with the load; the
ratios between implementations timed in the same run are what to compare.

Timing (`time_interleaved`): each implementation is warmed up (its first call traces and
compiles), then the implementations are timed in turns, round after round, alternating
the order, so that a change of load hits all of them alike. Each sample records wall
time and the CPU time of the process (and of its finished worker processes); the tables give throughput as items per wall-clock
second (the usual figure) and items per CPU-second (work per item, much less sensitive to
other processes taking the cores), and the ratios ours / peer of both.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python benchmarks/x.py` from a fresh clone
    sys.path.insert(0, str(ROOT))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend first)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bert_pkg.frozen_weights import frozen_weights_assumed  # noqa: E402
from keras_bert_pkg.training.precision import cpu_has_bfloat16  # noqa: E402

SHARED_DATA = Path(os.environ.get("KERAS_BERT_SHARED_DATA", ROOT.parent / "shared" / "data"))
UNCASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt"
MINILM_DIR = SHARED_DATA / "weights" / "all-MiniLM-L6-v2"
SST2_DEV = SHARED_DATA / "glue" / "SST-2" / "dev.tsv"


def require_file(path):
    """Returns `path`, or raises naming it and the shared-data convention."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: the benchmarks read the real data from ../shared/data beside "
            "the project (or set KERAS_BERT_SHARED_DATA).")
    return path


# --- the machine ---------------------------------------------------------------------
def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def default_precisions():
    """`"float32,mixed_bfloat16"` where the CPU has bfloat16 instructions, else `"float32"`
    (emulated bfloat16 is slower than float32, and Model Garden's bf16 graph there runs
    on slow fallback kernels: 0.2 seq/s for BERT-Base inference); `--precisions` forces."""
    return "float32" if cpu_has_bfloat16() is False else "float32,mixed_bfloat16"


def load_average():
    """The 1, 5 and 15-minute load averages (all zero where unavailable)."""
    try:
        return tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        return (0.0, 0.0, 0.0)


def gemm_rate(dtype="float32", n=1024, repeats=7):
    """The measured rate of one n x n x n `tf.matmul`, in GFLOP/s.

    Returns: dict `best` and `median` (wall clock) and `per_cpu_second` (GFLOP per
    CPU-second of this process, median).
    """
    dtype = tf.as_dtype(dtype)
    a = tf.cast(tf.random.stateless_normal((n, n), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_normal((n, n), seed=(3, 4)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    matmul(a, b).numpy()
    matmul(a, b).numpy()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        matmul(a, b).numpy()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    flops = 2.0 * n ** 3 / 1e9
    return {"best": round(flops / min(wall), 1), "median": round(flops / float(np.median(wall)), 1),
            "per_cpu_second": round(flops / max(float(np.median(cpu)), 1e-9), 1)}


def matmul_limit(precision, m, k, n, repeats=5):
    """The measured limit of a precision at one matmul shape: the best rate (GFLOP/s,
    wall clock) of an `[m, k] x [k, n]` matmul by any framework here (TensorFlow, and
    PyTorch when installed), in the same run as the figures it is the limit of.

    Returns: dict `tensorflow`, `torch` (None when not installed) and `best`.
    """
    dtype = {"mixed_bfloat16": "bfloat16", "bfloat16": "bfloat16", "mixed_float16": "float16"}.get(precision, "float32")
    flops = 2.0 * m * k * n / 1e9
    a = tf.cast(tf.random.stateless_normal((m, k), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_normal((k, n), seed=(3, 4)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    rates = {"tensorflow": _best_rate(lambda: matmul(a, b).numpy(), flops, repeats), "torch": None}
    torch = optional_module("torch")
    if torch is not None and dtype != "float16":  # PyTorch here is the CPU build: no GPU float16
        ta = torch.randn(m, k).to(getattr(torch, dtype))
        tb = torch.randn(k, n).to(getattr(torch, dtype))
        with torch.inference_mode():
            rates["torch"] = _best_rate(lambda: torch.matmul(ta, tb)[0, 0].item(), flops, repeats)
    rates["best"] = max(r for r in rates.values() if r)
    return rates


def _best_rate(call, gflop, repeats):
    call()
    call()
    best = min(_seconds(call) for _ in range(repeats))
    return round(gflop / best, 1)


def _seconds(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def machine_info(measure_gemm=True):
    """The machine line's facts: CPU, cores, load, GEMM rates, library versions."""
    import keras

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import keras_hub

        versions["keras_hub"] = keras_hub.__version__
    except ImportError:
        pass
    info = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in cpu_flags(),
        "bfloat16": cpu_has_bfloat16(),  # any bfloat16 instructions (x86 or Arm); None: unknown
        "load_start": load_average(),
        "versions": versions,
        "frozen_weights": frozen_weights_assumed(),  # oneDNN's serving-only mode
    }
    if measure_gemm:
        info["gemm_fp32_gflops"] = gemm_rate("float32")
        info["gemm_bf16_gflops"] = gemm_rate("bfloat16")
    return info


def machine_lines(info):
    """Human-readable lines for `machine_info` (plus the end-of-run load)."""
    lines = [f"machine: {info['cpu']}, {info['cores']} cores"
             f"{', AVX512-BF16' if info.get('avx512_bf16') else ''}"
             f"{', no bfloat16 instructions' if info.get('bfloat16') is False else ''}"
             f"{'; TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1 (serving mode)' if info.get('frozen_weights') else ''}; "
             + ", ".join(f"{k} {v}" for k, v in info["versions"].items())]
    load = f"load average (1/5/15 min): {'/'.join(map(str, info['load_start']))} at start"
    if info.get("load_end"):
        load += f", {'/'.join(map(str, info['load_end']))} at end"
    lines.append(load)
    if "gemm_fp32_gflops" in info:
        f32, b16 = info["gemm_fp32_gflops"], info["gemm_bf16_gflops"]
        lines.append(
            f"GEMM 1024^3 rate now: fp32 {f32['best']} GFLOP/s best, {f32['median']} median "
            f"({f32['per_cpu_second']} per CPU-s); bf16 {b16['best']} best, {b16['median']} median "
            f"({b16['per_cpu_second']} per CPU-s)")
    return lines


# --- optional peers --------------------------------------------------------------------
def optional_module(name):
    """The imported module, or None when it is not installed."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def huggingface_status():
    """`(available, note)` for the Hugging Face (PyTorch) peer: torch and transformers."""
    import importlib.util

    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"Hugging Face skipped: {', '.join(missing)} not installed (optional, never a dependency)"
    return True, "Hugging Face: torch and transformers found"


# --- timing ----------------------------------------------------------------------------
@dataclass
class Timing:
    """Samples of one implementation: each sample is `calls` calls of `items` items."""

    name: str
    items: int
    calls: int = 1
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)

    @property
    def items_per_second(self):
        return self.items * self.calls / float(np.median(self.wall))

    @property
    def items_per_cpu_second(self):
        return self.items * self.calls / max(float(np.median(self.cpu)), 1e-9)

    def summary(self):
        return {"name": self.name, "items_per_call": self.items, "calls_per_sample": self.calls,
                "samples": len(self.wall), "items_per_s": round(self.items_per_second, 3),
                "items_per_cpu_s": round(self.items_per_cpu_second, 3),
                "wall_s": [round(w, 4) for w in self.wall], "cpu_s": [round(c, 4) for c in self.cpu]}


def cpu_seconds():
    """CPU time of this process and of its finished child processes (worker pools)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def time_interleaved(candidates, items, repeats=3, warmup=1, min_sample_seconds=0.0, log=print):
    """Times several implementations in alternating turns.

    Args:
        candidates: dict name → zero-argument callable doing one unit of work and
            blocking until it is done (e.g. ending in `.numpy()`).
        items: dict name → items one call processes (sequences, sentences, ...), or an
            int for all.
        repeats: timed samples per implementation.
        warmup: untimed calls per implementation first (tracing, compilation, caches).
        min_sample_seconds: each sample repeats the call until about this long (fast
            models), calibrated from the last warm-up call.

    Returns: dict name → `Timing`.
    """
    timings = {}
    for name, fn in candidates.items():
        start = time.perf_counter()
        for _ in range(max(warmup, 1)):
            start = time.perf_counter()
            fn()
        last = time.perf_counter() - start
        calls = 1 if min_sample_seconds <= 0 else max(1, math.ceil(min_sample_seconds / max(last, 1e-6)))
        count = items[name] if isinstance(items, dict) else items
        timings[name] = Timing(name, count, calls)
        if log:
            log(f"  warmed up {name}: {last:.3f} s a call, {calls} call(s) a sample")
    names = list(candidates)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            t = timings[name]
            w, c = time.perf_counter(), cpu_seconds()
            for _ in range(t.calls):
                candidates[name]()
            t.wall.append(time.perf_counter() - w)
            t.cpu.append(cpu_seconds() - c)
    return timings


def run_in_child(script, spec, timeout=None):
    """Runs `python <script> --child '<spec as JSON>'` in a fresh process (nothing of one
    measurement stays allocated for the next) and returns the JSON dict the child printed
    on its `RESULT ` line, or `{"failed": reason}` (its last error line, or exit code, or
    that it ran past `timeout` seconds and was killed)."""
    try:
        proc = subprocess.run([sys.executable, str(script), "--child", json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"killed after {timeout} s"}
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is not None:
        return json.loads(line[len("RESULT "):])
    errors = [ln for ln in proc.stderr.splitlines() if "Error" in ln]
    return {"failed": errors[-1].strip()[:300] if errors else f"exit code {proc.returncode}"}


# --- tables ----------------------------------------------------------------------------
@dataclass
class Row:
    """One line of a results table."""

    case: str
    implementation: str
    precision: str
    timing: Timing
    note: str = ""
    peer_of: str = ""  # for ours: the name of the row it is compared with
    gflop_per_item: float = 0.0  # the matmul work of one item (0: not counted)
    limit_gflops: float = 0.0  # `matmul_limit(...)["best"]` for this case and precision

    def share_of_limit(self):
        """The matmul rate reached, as a share of the measured limit (None when not counted)."""
        if not (self.gflop_per_item and self.limit_gflops):
            return None
        return self.timing.items_per_second * self.gflop_per_item / self.limit_gflops

    def to_dict(self):
        d = {k: v for k, v in asdict(self).items() if k != "timing"}
        d.update(self.timing.summary())
        share = self.share_of_limit()
        d["share_of_limit"] = None if share is None else round(share, 3)
        return d


def format_table(rows, unit, comparisons):
    """A Markdown table of `rows` plus the ratio lines.

    Args:
        rows: list of `Row`.
        unit: what an item is ("seq", "sentences", ...).
        comparisons: list of `(ours_row, peer_row)`; each adds ours/peer ratios.
    """
    lines = [f"| case | implementation | precision | {unit}/s | {unit}/CPU-s | share of the limit | note |",
             "|---|---|---|---:|---:|---:|---|"]
    for row in rows:
        t, share = row.timing, row.share_of_limit()
        share = "" if share is None else f"{100 * share:.0f}% of {row.limit_gflops:.0f} GFLOP/s"
        lines.append(f"| {row.case} | {row.implementation} | {row.precision} | "
                     f"{t.items_per_second:.2f} | {t.items_per_cpu_second:.2f} | {share} | {row.note} |")
    if comparisons:
        lines += ["", "| case | ours | peer | ours/peer (wall) | ours/peer (CPU time) |",
                  "|---|---|---|---:|---:|"]
        for ours, peer in comparisons:
            lines.append(
                f"| {ours.case} | {ours.implementation} {ours.precision} | "
                f"{peer.implementation} {peer.precision} | "
                f"{ours.timing.items_per_second / peer.timing.items_per_second:.2f}x | "
                f"{ours.timing.items_per_cpu_second / peer.timing.items_per_cpu_second:.2f}x |")
    return "\n".join(lines)


def ratio(ours, peer):
    """`(wall ratio, CPU-time ratio)` of two rows' throughputs."""
    return (ours.timing.items_per_second / peer.timing.items_per_second,
            ours.timing.items_per_cpu_second / peer.timing.items_per_cpu_second)


# --- command line and reports ----------------------------------------------------------
def base_parser(description):
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed samples per implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per implementation")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--no_gemm", action="store_true",
                        help="skip measuring the GEMM rates (smoke tests)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: TensorFlow's default, all cores)")
    return parser


def start(title, args):
    """Applies common settings and prints the header; returns the machine info dict."""
    if getattr(args, "threads", 0):
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    info = machine_info(measure_gemm=not args.no_gemm)
    print(f"## {title}", flush=True)
    for line in machine_lines(info):
        print(line, flush=True)
    return info


def finish(title, info, args, rows, comparisons, unit, notes=(), extra=None):
    """Prints the table (with the end-of-run load) and writes the JSON report."""
    info["load_end"] = load_average()
    print(f"\n### {title}: results")
    for line in machine_lines(info):
        print(line)
    print(format_table(rows, unit, comparisons))
    for note in notes:
        print(f"- {note}")
    sys.stdout.flush()
    report = {
        "benchmark": title,
        "argv": sys.argv,
        "machine": info,
        "unit": unit,
        "rows": [r.to_dict() for r in rows],
        "comparisons": [
            {"case": o.case, "ours": f"{o.implementation} {o.precision}",
             "peer": f"{p.implementation} {p.precision}",
             "ratio_wall": round(ratio(o, p)[0], 3), "ratio_cpu": round(ratio(o, p)[1], 3)}
            for o, p in comparisons],
        "notes": list(notes),
    }
    if extra:
        report.update(extra)
    return write_report(args, report)


def write_report(args, report):
    """Writes `report` as JSON to `--json` when given; returns it."""
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


def set_policies(precision):
    """Sets the Keras 3 and the tf-keras (Model Garden) global dtype policies."""
    import keras

    keras.config.set_dtype_policy(precision)
    tf_keras = optional_module("tf_keras")
    if tf_keras is not None:
        tf_keras.mixed_precision.set_global_policy(precision)


def short_precision(precision):
    return {"float32": "fp32", "mixed_bfloat16": "bf16", "mixed_float16": "fp16",
            "bfloat16": "bf16 weights"}.get(precision, precision)

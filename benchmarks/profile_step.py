"""Where the time of our forward pass or pre-training step goes: op time by kind, and
the oneDNN kernels that ran.

Two views of the same calls (our `BertBackbone` or `BertPretrainer`, random weights, one
random batch, after two warm-up calls):

1. TensorFlow's profiler (`tf.profiler.experimental`): the time of every TensorFlow op
   executed in the traced calls, summed by op type and by kind (matmul, quantize,
   transpose, softmax, normalization, cast, optimizer, element-wise, other). Ops on the
   two inter-op threads overlap, so the op time can exceed the wall time; both are printed. The matmul rate
   (the encoder's matmul work, `models.forward_gflop`, over the matmul ops' time) is set
   beside the limit the same shapes reach in isolation (`common.matmul_limit`). For
   `--task pretrain`, one more traced step is split by time into its phases
   (`step_phases`): the forward, the backward (from the first matmul under
   `gradient_tape/` to the last op there), and what runs after the last gradient (the
   optimizer's update, which waits for the clip's global norm), each with its wall time
   and op time by kind.
2. oneDNN's verbose log (`ONEDNN_VERBOSE=1`, in a child process: it must be set before
   TensorFlow starts): each primitive kind and implementation (e.g.
   `brg_matmul:avx512_core_bf16`), how often it ran and its summed time.

Commands (the issue's cases):
    python benchmarks/profile_step.py --case base:16:128 --precision mixed_bfloat16
    python benchmarks/profile_step.py --task pretrain --case base:8:128 --precision mixed_bfloat16
    TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1 python benchmarks/profile_step.py --case base:16:128 --precision int8

`--precision int8` builds ours in mixed_bfloat16, quantizes it (`model.quantize("int8")`,
as `backbone_inference.py --precisions mixed_bfloat16 --int8` times it) and profiles that:
`QuantizeV2` is a kind of its own beside the int8 kernels; the activations' range
reductions (`Min`, `Max`) and the kernels' column sums (`Sum`) show in the table by op type.
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.models import SIZES, forward_gflop, ours_backbone, parse_case, random_inputs  # noqa: E402
from benchmarks.training_step import ours_step, pretraining_batch  # noqa: E402

import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

TITLE = "Profile of one forward pass / pre-training step"
KINDS = (  # op type (TensorFlow's, oneDNN-rewritten names included) -> kind; first match wins
    ("other", ("ExpandDims",)),
    ("matmul", ("MatMul", "Conv", "Einsum")),
    ("quantize", ("QuantizeV2",)),
    ("transpose", ("Transpose",)),
    ("softmax", ("Softmax",)),
    ("normalization", ("Mean", "SquaredDifference", "Rsqrt", "FusedBatchNorm", "LayerNorm", "Variance")),
    ("cast", ("Cast",)),
    ("optimizer", ("ApplyAdam", "ResourceApply", "AssignVariable", "AssignAdd", "AssignSub")),
    ("element-wise", ("Add", "Mul", "Sub", "Div", "Tanh", "Erf", "Pow", "Gelu", "Maximum", "Minimum",
                      "Select", "Square", "Sqrt", "Neg", "Exp", "Log", "Relu", "BiasAdd")),
)


def op_kind(op_type):
    """The kind of a TensorFlow op type (module table); `"other"` when none matches.

    >>> op_kind("_MklNativeFusedMatMul"), op_kind("_MklTranspose"), op_kind("Reshape")
    ('matmul', 'transpose', 'other')
    """
    for kind, parts in KINDS:
        if any(part in op_type for part in parts):
            return kind
    return "other"


def build_call(task, size, batch, length, precision, predictions=20):
    """A zero-argument callable running one forward pass (`"forward"`) or one
    pre-training step (`"pretrain"`) of ours, and the matmul GFLOP it does."""
    common.set_policies("mixed_bfloat16" if precision == "int8" else precision)
    try:
        if task == "forward":
            model = ours_backbone(size, "gelu")
            if precision == "int8":
                model.quantize("int8")
            x = {k: tf.constant(v) for k, v in random_inputs(batch, length).items()}
            fn = tf.function(lambda inputs: model(inputs, training=False)["sequence_output"])
            return (lambda: fn(x).numpy()), batch * forward_gflop(size, length)
        x, y = pretraining_batch(batch, length, predictions)
        return ours_step("pretrain", size, x, y), 3 * batch * forward_gflop(size, length)
    finally:
        common.set_policies("float32")


def traced_ops(call, calls):
    """Traces `calls` calls; returns `([(start_ps, end_ps, op name, op type)], wall seconds)`
    of every TensorFlow op executed in them, in order of start."""
    folder = tempfile.mkdtemp(prefix="profile_")
    tf.profiler.experimental.start(folder)
    started = time.perf_counter()
    for _ in range(calls):
        call()
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(sorted(glob.glob(os.path.join(folder, "**", "*.xplane.pb"), recursive=True))[-1], "rb") as f:
        space.ParseFromString(f.read())
    ops = []
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and "::" not in name:  # "<op name>:<op type>": one executed op
                    start = line.timestamp_ns * 1000 + event.offset_ps
                    ops.append((start, start + event.duration_ps, *name.rsplit(":", 1)))
    return sorted(ops), wall


def op_times(call, calls):
    """Traces `calls` calls; returns `({op type: seconds}, wall seconds)` summed over them."""
    ops, wall = traced_ops(call, calls)
    seconds = collections.Counter()
    for start, end, _, op_type in ops:
        seconds[op_type] += (end - start) * 1e-12
    return dict(seconds), wall


def step_phases(ops):
    """The phases of one traced training step, from its ops (`traced_ops` of one call):
    `forward` from its first op to the first gradient matmul (gradient ops are those under
    the tape's `gradient_tape/` scope), `backward` from there to the last gradient op's end, and
    `after` from there to the last op's end (the optimizer's update once every gradient,
    and so the clip's global norm, is known). Returns `{phase: (wall ms, {kind: op ms})}`,
    each op counted in the phase it starts in.

    >>> ops = [(0, 5e9, "m/MatMul", "_MklMatMul"), (5e9, 9e9, "gradient_tape/m/MatMul", "_MklMatMul"),
    ...        (9e9, 10e9, "adam/ResourceApplyAdam_1", "ResourceApplyAdam")]
    >>> {phase: (wall, dict(kinds)) for phase, (wall, kinds) in step_phases(ops).items()}
    {'forward': (5.0, {'matmul': 5.0}), 'backward': (4.0, {'matmul': 4.0}), 'after': (1.0, {'optimizer': 1.0})}
    """
    gradient = [op for op in ops if op[2].startswith("gradient_tape/")]
    if not gradient:
        raise ValueError("no op under gradient_tape/ in the trace: not a training step")
    # The backward opens with its first matmul: shape and constant ops of the gradient
    # graph have no inputs from the forward and may run at the very start.
    first = min((op[0] for op in gradient if op_kind(op[3]) == "matmul"), default=gradient[0][0])
    last = max(op[1] for op in gradient)
    bounds = {"forward": (ops[0][0], first), "backward": (first, last), "after": (last, max(op[1] for op in ops))}
    kinds = {phase: collections.Counter() for phase in bounds}
    for start, stop, _, op_type in ops:
        phase = "forward" if start < first else "backward" if start < last else "after"
        kinds[phase][op_kind(op_type)] += (stop - start) * 1e-9
    return {phase: ((end - begin) * 1e-9, kinds[phase]) for phase, (begin, end) in bounds.items()}


def onednn_kernels(spec):
    """Runs this script as a child with `ONEDNN_VERBOSE=1`; returns
    `{"kind impl": [count, milliseconds]}` of the traced calls' primitive executions."""
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    kernels, counting = collections.defaultdict(lambda: [0, 0.0]), False
    for line in proc.stdout.splitlines():
        if line.startswith("MARK "):
            counting = line == "MARK start"
            continue
        fields = line.split(",")
        if counting and line.startswith("onednn_verbose") and "exec" in fields:
            i = fields.index("exec")
            try:
                ms = float(fields[-1])
            except ValueError:
                continue
            entry = kernels[f"{fields[i + 2]} {fields[i + 3]}"]
            entry[0] += 1
            entry[1] += ms
    if not kernels:
        raise RuntimeError(f"no oneDNN verbose lines from the child (exit {proc.returncode}): "
                           f"{proc.stderr.strip().splitlines()[-1:] }")
    return {k: [n, round(ms, 3)] for k, (n, ms) in sorted(kernels.items(), key=lambda kv: -kv[1][1])}


def child(spec):
    """The oneDNN-verbose child: the same calls, with markers around the counted ones."""
    size, batch, length = parse_case(spec["case"])
    call, _ = build_call(spec["task"], size, batch, length, spec["precision"])
    call()
    call()
    print("MARK start", flush=True)
    for _ in range(spec["calls"]):
        call()
    print("MARK end", flush=True)


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["forward", "pretrain"], default="forward")
    parser.add_argument("--case", default="base:16:128", help="size:batch:length")
    parser.add_argument("--precision", default="mixed_bfloat16", choices=["float32", "mixed_bfloat16", "bfloat16", "int8"])
    parser.add_argument("--calls", type=int, default=3, help="traced calls")
    parser.add_argument("--no_onednn", action="store_true", help="skip the oneDNN verbose child")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if args.precision == "int8" and args.task != "forward":
        parser.error("int8 is an inference precision: profile it with --task forward.")
    info = common.start(TITLE, args)
    size, batch, length = parse_case(args.case)
    call, gflop = build_call(args.task, size, batch, length, args.precision)
    for _ in range(max(args.warmup, 2)):
        call()
    by_type, wall = op_times(call, args.calls)
    by_kind = collections.Counter()
    for op_type, seconds in by_type.items():
        by_kind[op_kind(op_type)] += seconds
    total = sum(by_kind.values())
    _, hidden, _, intermediate = SIZES[size]
    limit = (0.0 if args.no_gemm or args.precision == "int8" else
             common.matmul_limit(args.precision, batch * length, hidden, intermediate)["best"])
    matmul_rate = gflop * args.calls / by_kind["matmul"] if by_kind["matmul"] else 0.0
    print(f"\n### {args.task} {args.case} {common.short_precision(args.precision)}: "
          f"{wall / args.calls * 1e3:.1f} ms a call (wall), op time {total / args.calls * 1e3:.1f} ms a call")
    print("| kind | ms a call | share of op time |\n|---|---:|---:|")
    for kind, seconds in by_kind.most_common():
        print(f"| {kind} | {seconds / args.calls * 1e3:.2f} | {100 * seconds / total:.1f}% |")
    print("\n| op type | ms a call | kind |\n|---|---:|---|")
    for op_type, seconds in sorted(by_type.items(), key=lambda kv: -kv[1])[:15]:
        print(f"| {op_type} | {seconds / args.calls * 1e3:.2f} | {op_kind(op_type)} |")
    print(f"\nmatmul ops: {matmul_rate:.0f} GFLOP/s over their own time"
          + (f", the limit at [{batch * length}, {hidden}] x [{hidden}, {intermediate}]: {limit:.0f} GFLOP/s "
             f"({100 * matmul_rate / limit:.0f}%)" if limit else ""))
    report = {"benchmark": TITLE, "argv": sys.argv, "machine": info, "task": args.task, "case": args.case,
              "precision": args.precision, "calls": args.calls, "wall_ms_per_call": wall / args.calls * 1e3,
              "op_ms_per_call": {k: v / args.calls * 1e3 for k, v in by_type.items()},
              "kind_ms_per_call": {k: v / args.calls * 1e3 for k, v in by_kind.items()},
              "matmul_gflops": matmul_rate, "limit_gflops": limit}
    if args.task == "pretrain":
        phases = step_phases(traced_ops(call, 1)[0])
        print("\nOne more traced step, its phases (wall ms; op ms by kind started in each):")
        print("| phase | wall ms | op ms | matmul | optimizer | cast | element-wise | other kinds |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|")
        for phase, (ms, kinds) in phases.items():
            named = [kinds.get(k, 0.0) for k in ("matmul", "optimizer", "cast", "element-wise")]
            print(f"| {phase} | {ms:.1f} | {sum(kinds.values()):.1f} | "
                  + " | ".join(f"{v:.1f}" for v in named) + f" | {sum(kinds.values()) - sum(named):.1f} |")
        report["phases_ms"] = {phase: {"wall": ms, **kinds} for phase, (ms, kinds) in phases.items()}
    if not args.no_onednn:
        kernels = onednn_kernels({"task": args.task, "case": args.case, "precision": args.precision,
                                  "calls": args.calls})
        print("\n| oneDNN primitive and implementation | runs a call | ms a call |\n|---|---:|---:|")
        for name, (count, ms) in list(kernels.items())[:15]:
            print(f"| {name} | {count / args.calls:g} | {ms / args.calls:.2f} |")
        report["onednn"] = kernels
    return common.write_report(args, report)


if __name__ == "__main__":
    main()

"""Peak memory: ours against keras-hub and Model Garden, inference and pre-training step.

Each (implementation, workload, precision) runs in a fresh Python process, one after the
other, so that no allocation of one is counted for another. The child process imports
everything, notes its resident memory (RSS), builds the model, runs the first call
(tracing) and notes the peak RSS so far (Linux `VmHWM`); then it resets the peak
(`/proc/self/clear_refs`), runs `--steps` more calls and notes the steady-state peak.
The table gives, in MB:

- `peak`: the highest RSS of the whole process (imports, build, tracing, steps);
- `steady`: the highest RSS during the steady-state calls;
- `model + work`: `steady` minus the RSS after the imports (weights, optimizer state,
  activations, compiled functions).

Workloads: backbone inference (the backbone-inference benchmark's forward pass) and a
pre-training step (the training-step benchmark's MLM + NSP step; keras-hub: MLM only).

Command (default, ~3 minutes on an idle 2-core machine):
    python benchmarks/peak_memory.py
Larger runs:
    python benchmarks/peak_memory.py --inference_case base:32:512 --pretrain_case base:16:128
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402

TITLE = "Peak memory (RSS)"
_PROC_STATUS = Path("/proc/self/status")


def _status_mb(field):
    for line in _PROC_STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{field} not in /proc/self/status (peak memory needs Linux).")


def _reset_peak():
    Path("/proc/self/clear_refs").write_text("5")


def child(spec):
    """Runs one measurement in this process; returns its JSON-able result."""
    import time

    import keras_hub  # noqa: F401  (imports are part of the baseline)
    import official.nlp.modeling  # noqa: F401

    from benchmarks.backbone_inference import build_forward
    from benchmarks.models import parse_case, random_inputs
    from benchmarks.training_step import keras_hub_step, model_garden_step, ours_step, pretraining_batch

    baseline = _status_mb("VmRSS")
    size, batch, length = parse_case(spec["case"])
    start = time.perf_counter()
    if spec["workload"] == "inference":
        fn = build_forward(spec["impl"], size, random_inputs(batch, length), spec["precision"])
    else:
        x, y = pretraining_batch(batch, length, spec["predictions"])
        builders = {"ours": ours_step, "Model Garden": model_garden_step, "keras-hub": keras_hub_step}
        common.set_policies(spec["precision"])
        try:
            fn = builders[spec["impl"]]("pretrain", size, x, y)
        finally:
            common.set_policies("float32")
    fn()
    first_call_peak = _status_mb("VmHWM")
    _reset_peak()
    for _ in range(spec["steps"]):
        fn()
    return {"baseline_mb": round(baseline, 1), "peak_mb": round(max(first_call_peak, _status_mb("VmHWM")), 1),
            "steady_peak_mb": round(_status_mb("VmHWM"), 1),
            "model_and_work_mb": round(_status_mb("VmHWM") - baseline, 1),
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--inference_case", default="base:16:128")
    parser.add_argument("--pretrain_case", default="base:8:128")
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--workloads", default="inference,pretrain")
    parser.add_argument("--precisions", default=common.default_precisions(),
                        help="float32 and mixed_bfloat16 where the CPU has bfloat16 instructions")
    parser.add_argument("--impls", default="ours,keras-hub,Model Garden")
    parser.add_argument("--steps", type=int, default=2, help="steady-state calls after the first")
    parser.add_argument("--child", default=None, help=argparse_hidden())
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return None
    info = common.start(TITLE, args)
    results, notes = [], []
    for workload in args.workloads.split(","):
        case = args.inference_case if workload == "inference" else args.pretrain_case
        for precision in args.precisions.split(","):
            for impl in args.impls.split(","):
                spec = {"impl": impl, "workload": workload, "case": case, "precision": precision,
                        "predictions": args.predictions, "steps": args.steps}
                label = f"{workload} {case} {common.short_precision(precision)}"
                result = common.run_in_child(Path(__file__).resolve(), spec)
                if "failed" in result:
                    notes.append(f"{label}: {impl} failed: {result['failed']}")
                    print(f"{label}: {impl} FAILED ({result['failed']})", flush=True)
                    continue
                result = dict(spec, label=label, **result)
                results.append(result)
                print(f"{label}: {impl}: peak {result['peak_mb']:.0f} MB, steady {result['steady_peak_mb']:.0f} MB, "
                      f"model + work {result['model_and_work_mb']:.0f} MB", flush=True)
    info["load_end"] = common.load_average()
    print(f"\n### {TITLE}: results")
    for line in common.machine_lines(info):
        print(line)
    lines = ["| workload | implementation | peak MB | steady MB | model + work MB | ours / peer (model + work) |",
             "|---|---|---:|---:|---:|---:|"]
    for r in results:
        ours = next((o for o in results if o["label"] == r["label"] and o["impl"] == "ours"), None)
        rel = "" if ours is None or r["impl"] == "ours" else f"{ours['model_and_work_mb'] / r['model_and_work_mb']:.2f}x"
        lines.append(f"| {r['label']} | {r['impl']} | {r['peak_mb']:.0f} | {r['steady_peak_mb']:.0f} | "
                     f"{r['model_and_work_mb']:.0f} | {rel} |")
    print("\n".join(lines))
    notes.append("each measurement in a fresh process; model + work = steady-state peak RSS minus RSS after imports")
    for note in notes:
        print(f"- {note}")
    report = {"benchmark": TITLE, "argv": sys.argv, "machine": info, "results": results, "notes": notes}
    return common.write_report(args, report)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()

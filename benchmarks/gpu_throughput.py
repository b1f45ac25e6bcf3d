"""GPU throughput beside NVIDIA's published TensorFlow 2 BERT figures: BERT-Large
pre-training at sequence 128 and BERT-Base inference at batch 8, sequence 128, ours in
mixed_float16 compiled with XLA, and Model Garden's pre-training step on the same GPU.

NVIDIA's figures (NVIDIA/DeepLearningExamples, TensorFlow2/LanguageModeling/BERT/README.md,
the TensorFlow 21.02 NGC container on a DGX A100 80GB, one GPU):
- pre-training phase 1 (sequence 128), mixed precision: 485.59 sequences/s, at 312
  sequences a GPU with LAMB and 256 accumulation steps (one update per 256 batches);
- SQuAD v1.1 inference, BERT-Base FP16, batch 8, sequence 128: 1,786.25 sentences/s.

Ours: one optimizer step of `BertPretrainer` (AdamW with global-norm clipping, the update
applied every step, so ours does more work a sequence than NVIDIA's accumulated steps) on a
fixed random batch with 20 masked positions a sequence; inference: the `BertBackbone`
forward (`training=False`). Each measurement runs in a fresh process; a batch that does
not fit in the GPU's memory is halved until it does, and the table says the batch used.
A different GPU than the A100 (an H100 or H200) makes the ratio to NVIDIA's figure a
statement about that GPU too; the ratio to Model Garden is within one run.

NVIDIA's inference figure is of its SQuAD model (the encoder and a span head), ours of
the encoder alone (the span head is one [hidden, 2] projection). With no GPU the script
stops, unless `--allow_cpu` (its test) says to time the CPU.

Command (a machine with a GPU and this project's environment; about 5 minutes when the
default batches fit, most of it XLA compiling BERT-Large; the JSON report goes to
runs/bench/gpu_throughput.json):
    python benchmarks/gpu_throughput.py
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.backbone_inference import build_forward  # noqa: E402
from benchmarks.models import case_limit, forward_gflop, parse_case, random_inputs  # noqa: E402
from benchmarks.training_step import model_garden_step, ours_step, pretraining_batch  # noqa: E402
import tensorflow as tf  # noqa: E402  (after `common`, which sets the backend up)

TITLE = "GPU throughput beside NVIDIA's TF2 BERT (A100 80GB)"
NVIDIA_A100 = {"pretrain": 485.59, "inference": 1786.25}  # sequences/s, one GPU (README above)
NVIDIA_BATCH = {"pretrain": 312, "inference": 8}
# how running out of GPU memory reads (TensorFlow, XLA, cuBLAS/cuDNN), compared in lower case
OUT_OF_MEMORY = ("resource_exhausted", "resourceexhausted", "out of memory", "oom when allocating",
                 "failed to allocate", "alloc_failed", "dst tensor is not initialized")


def out_of_memory(text):
    """Whether an error text says the device ran out of memory.

    >>> out_of_memory("ResourceExhaustedError: OOM when allocating tensor"), out_of_memory("ValueError: bad case")
    (True, False)
    """
    return any(mark in text.lower() for mark in OUT_OF_MEMORY)


def measure(spec):
    """Builds one implementation for one job at one batch and times it; a JSON-able dict of
    its `Timing` fields, or of its failure (`failed`, `out_of_memory`). Runs in a child
    process (`--child`)."""
    size, batch, length = parse_case(spec["case"])
    common.set_policies(spec["precision"])
    try:
        if spec["job"] == "pretrain":
            x, y = pretraining_batch(batch, length, spec["predictions"])
            step = (ours_step("pretrain", size, x, y, jit=spec["xla"]) if spec["impl"] == "ours"
                    else model_garden_step("pretrain", size, x, y))
        else:
            step = build_forward("ours", size, random_inputs(batch, length), spec["precision"], jit=spec["xla"])
        step()  # traces and compiles; running out of memory shows here
        t = common.time_interleaved({spec["impl"]: step}, batch, repeats=spec["repeats"], warmup=spec["warmup"],
                                    min_sample_seconds=spec["min_sample_seconds"])[spec["impl"]]
    except Exception as e:  # reported to the parent, which may retry at a smaller batch
        text = f"{type(e).__name__}: {e}"
        return {"failed": " ".join(text.split())[:300],
                "out_of_memory": isinstance(e, tf.errors.ResourceExhaustedError) or out_of_memory(text)}
    finally:
        common.set_policies("float32")
    return {"items": t.items, "calls": t.calls, "wall": t.wall, "cpu": t.cpu}


def largest_fitting_batch(run, batch):
    """`run(batch)` → result dict, halving `batch` while the result says the GPU ran out of
    memory. Returns `(batch, result)`: the batch that ran, or the last one tried and its failure.

    >>> largest_fitting_batch(lambda b: {"failed": "OOM when allocating"} if b > 100 else {"items": b}, 312)
      batch 312 does not fit (OOM when allocating); trying 156
      batch 156 does not fit (OOM when allocating); trying 78
    (78, {'items': 78})
    """
    while True:
        result = run(batch)
        failure = result.get("failed", "")
        if not failure or batch == 1 or not (result.get("out_of_memory") or out_of_memory(failure)):
            return batch, result
        print(f"  batch {batch} does not fit ({failure[:120]}); trying {batch // 2}", flush=True)
        batch //= 2


def gpu_names(gpus):
    """The names TensorFlow gives the physical GPU devices `gpus` (e.g. "NVIDIA H200")."""
    return [tf.config.experimental.get_device_details(d).get("device_name", d.name) for d in gpus]


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--pretrain_case", default="large:312:128",
                        help="size:batch:length of the pre-training step (NVIDIA's phase 1: 312 a GPU)")
    parser.add_argument("--predictions", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--inference_case", default="base:8:128", help="size:batch:length of inference")
    parser.add_argument("--precision", default="mixed_float16")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True,
                        help="compile ours with XLA (jit_compile=True); if that fails other than by "
                             "memory, ours is timed without it")
    parser.add_argument("--peers", default="model_garden", help="model_garden, or empty")
    parser.add_argument("--min_sample_seconds", type=float, default=2.0)
    parser.add_argument("--allow_cpu", action="store_true", help="time the CPU when no GPU is found")
    parser.add_argument("--child_timeout", type=float, default=900,
                        help="seconds one measurement (build, compile, timing) may take before it is killed")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    # float16 loss scaling starts high and skips the first updates that overflow: warm up past them
    parser.set_defaults(warmup=5, json=str(Path(__file__).resolve().parents[1] / "runs" / "bench" / "gpu_throughput.json"))
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(measure(json.loads(args.child))), flush=True)
        return None
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        parser.error("no GPU found (TensorFlow lists none: is its CUDA build installed?); "
                     "--allow_cpu times the CPU instead")
    for gpu in gpus:  # this process measures the GEMM rates only: leave the memory to the children
        tf.config.experimental.set_memory_growth(gpu, True)
    info = common.start(TITLE, args)
    info["gpus"] = gpu_names(gpus)
    print("GPUs: " + (", ".join(info["gpus"]) or "none (the figures below are the CPU's)"), flush=True)
    precision = common.short_precision(args.precision)
    rows, comparisons, notes, beside_nvidia = [], [], [], []
    ours_pretraining = None  # (its row, its batch): Model Garden starts at that batch and is compared there
    jobs = [("pretrain", args.pretrain_case, "ours")]
    if "model_garden" in args.peers:
        jobs.append(("pretrain", args.pretrain_case, "Model Garden"))
    jobs.append(("inference", args.inference_case, "ours"))
    for job, case_text, impl in jobs:
        size, batch, length = parse_case(case_text)
        if impl != "ours" and ours_pretraining:
            batch = ours_pretraining[1]

        def run(b, xla):
            spec = {"job": job, "impl": impl, "case": f"{size}:{b}:{length}", "precision": args.precision,
                    "predictions": args.predictions, "xla": xla, "repeats": args.repeats,
                    "warmup": args.warmup, "min_sample_seconds": args.min_sample_seconds}
            return common.run_in_child(Path(__file__).resolve(), spec, timeout=args.child_timeout)

        xla = args.xla and impl == "ours"
        print(f"\n{job} {case_text}, {args.precision}: {impl}{' + XLA' if xla else ''}", flush=True)
        ran, result = largest_fitting_batch(lambda b: run(b, xla), batch)
        if "failed" in result and xla and not result.get("out_of_memory"):
            notes.append(f"{job} ours + XLA: {result['failed']}; timed without XLA")
            print(f"  with XLA: FAILED ({result['failed']}); again without it", flush=True)
            xla = False
            ran, result = largest_fitting_batch(lambda b: run(b, xla), batch)
        if "failed" in result:
            notes.append(f"{job} {impl}: {result['failed']}")
            print(f"  FAILED ({result['failed']})", flush=True)
            continue
        name = impl + (" + XLA" if xla else "")
        case = f"{job} {size} b{ran} s{length}" + (f" p{args.predictions}" if job == "pretrain" else "")
        passes = 3 if job == "pretrain" else 1  # a training step is about 3 forward passes
        # on a GPU one matmul a timed call measures its launch more than its rate: no limit there
        limit = 0.0 if gpus else case_limit(size, ran, length, args.precision, args.no_gemm)
        row = common.Row(case, name, precision, common.Timing(name, result["items"], result["calls"],
                                                              result["wall"], result["cpu"]),
                         gflop_per_item=passes * forward_gflop(size, length), limit_gflops=limit)
        rows.append(row)
        print(f"  {name}: {row.timing.items_per_second:.2f} seq/s at batch {ran}", flush=True)
        if impl == "ours":
            beside_nvidia.append({"job": job, "case": case, "ours_seq_per_s": round(row.timing.items_per_second, 2),
                                  "nvidia_a100_seq_per_s": NVIDIA_A100[job], "nvidia_batch": NVIDIA_BATCH[job],
                                  "ratio": round(row.timing.items_per_second / NVIDIA_A100[job], 3)})
            ours_pretraining = (row, ran) if job == "pretrain" else ours_pretraining
        elif ours_pretraining and ours_pretraining[1] == ran:
            comparisons.append((ours_pretraining[0], row))
        else:
            notes.append(f"Model Garden ({case}) not compared: ours' pre-training "
                         + (f"ran at another batch ({ours_pretraining[0].case})" if ours_pretraining else "failed"))
    print("\n| job | case | ours seq/s | NVIDIA A100 seq/s (batch) | ours / NVIDIA |\n|---|---|---:|---:|---:|")
    for b in beside_nvidia:
        print(f"| {b['job']} | {b['case']} | {b['ours_seq_per_s']:.2f} | {b['nvidia_a100_seq_per_s']:.2f} "
              f"({b['nvidia_batch']}) | {b['ratio']:.2f}x |")
    notes += [f"GPUs: {', '.join(info['gpus']) or 'none'}",
              "NVIDIA's pre-training figure applies LAMB once per 256 accumulated batches; ours applies "
              "AdamW every step",
              "NVIDIA's inference figure is its SQuAD model's (encoder + span head); ours is the encoder's"]
    if "model_garden" in args.peers:
        notes.append("Model Garden: BertPretrainerV2 in one tf.function, without XLA (its default), "
                     "loss-scaled in float16 as its trainer does")
    return common.finish(TITLE, info, args, rows, comparisons, "seq", notes, extra={"beside_nvidia": beside_nvidia})


if __name__ == "__main__":
    main()

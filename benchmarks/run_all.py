"""Runs every benchmark (each in its own process, default settings) and checks the targets.

`make bench` calls this. Each benchmark prints its own table; their JSON reports go to
`--out` (default `runs/bench/`), and at the end this prints the issue's targets with the
measured figures: met, or the distance to them.

Targets (measured in one run on the same machine):
- BERT-Base fixed-shape inference (batch 16, sequence 128): >= 16 seq/s in bf16 and
  >= 1.15x keras-hub's bf16;
- raw SST-2 dev text -> logits (MiniLM size, batch 32): >= 25x keras-hub at its defaults
  (and >= 1.2x Hugging Face with dynamic padding, when torch is installed);
- pre-training step: >= 1.2x Model Garden;
- serving soak: 0 errors, no memory growth after warm-up.

Command:
    python benchmarks/run_all.py                      # everything, defaults
    python benchmarks/run_all.py --only backbone_inference,training_step
    python benchmarks/run_all.py --extra "--repeats 5"   # passed to every benchmark
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ["backbone_inference", "text_to_predictions", "squad_serving", "training_step",
              "tokenizer_throughput", "pretraining_data", "peak_memory", "quantization", "serving_soak"]


def _comparison(report, case_prefix, ours, peer):
    for c in report.get("comparisons", []):
        if c["case"].startswith(case_prefix) and c["ours"] == ours and c["peer"] == peer:
            return c
    return None


def _row(report, case_prefix, implementation, precision):
    for r in report.get("rows", []):
        if r["case"].startswith(case_prefix) and r["implementation"] == implementation and r["precision"] == precision:
            return r
    return None


def _lacks_bfloat16(report):
    """The report's machine is known to have no bfloat16 instructions."""
    return report.get("machine", {}).get("bfloat16") is False


def check_targets(reports):
    """Lines stating each target, the measured figure, and met / distance."""
    lines = []

    def verdict(value, target):
        if value is None:
            return "not measured"
        return "MET" if value >= target else f"not met ({value / target:.0%} of the target)"

    def ratio_line(label, c, target):
        return (f"{label}: {c['ratio_wall']:.2f}x wall, {c['ratio_cpu']:.2f}x CPU time -> "
                f"{verdict(c['ratio_wall'], target)} (wall), {verdict(c['ratio_cpu'], target)} (CPU time)")

    bi = reports.get("backbone_inference")
    if bi:
        row = _row(bi, "base b16 s128", "ours (gelu)", "bf16") or _row(bi, "base b16 s128", "ours", "bf16")
        value = row["items_per_s"] if row else None
        lines.append(f"BERT-Base b16 s128 bf16 >= 16 seq/s: {value if value is not None else '-'} seq/s "
                     f"(load {bi['machine']['load_start'][0]}) -> {verdict(value, 16)}")
        if row is None and _lacks_bfloat16(bi):
            lines[-1] += " (this CPU has no bfloat16 instructions: bf16 not measured by default)"
        for precision in ("bf16", "fp32"):
            c = _comparison(bi, "base b16 s128", f"ours (gelu) {precision}", f"keras-hub {precision}")
            if c:
                lines.append(ratio_line(f"BERT-Base {precision} >= 1.15x keras-hub {precision}", c, 1.15))
                break
        for precision in ("fp32", "bf16"):
            c = _comparison(bi, "base b16 s128", f"ours (gelu) {precision}", f"Hugging Face {precision}")
            if c:
                lines.append(f"BERT-Base {precision} vs Hugging Face {precision} (no target): "
                             f"{c['ratio_wall']:.2f}x wall, {c['ratio_cpu']:.2f}x CPU time")
    tp = reports.get("text_to_predictions")
    if tp:
        best = None
        for c in tp.get("comparisons", []):
            if c["peer"].startswith("keras-hub defaults"):
                if best is None or c["ratio_wall"] > best["ratio_wall"]:
                    best = c
        if best:
            lines.append(f"SST-2 dev text -> logits >= 25x keras-hub defaults: {best['ours']}: "
                         f"{best['ratio_wall']:.1f}x wall, {best['ratio_cpu']:.1f}x CPU time -> "
                         f"{verdict(best['ratio_wall'], 25)} (wall), {verdict(best['ratio_cpu'], 25)} (CPU time)")
        hf = [c for c in tp.get("comparisons", []) if c["peer"].startswith("Hugging Face")]
        if hf:
            c = max(hf, key=lambda c: c["ratio_wall"])
            lines.append(f"SST-2 dev text -> logits >= 1.2x Hugging Face: {c['ratio_wall']:.2f}x -> "
                         f"{verdict(c['ratio_wall'], 1.2)}")
        else:
            lines.append("SST-2 dev text -> logits >= 1.2x Hugging Face: not measured (torch not installed)")
    ss = reports.get("squad_serving")
    if ss:
        hf = [c for c in ss.get("comparisons", []) if c["peer"].startswith("Hugging Face")]
        for precision in ("fp32", "bf16"):
            same = [c for c in hf if c["ours"].endswith(precision) and c["peer"].endswith(precision)]
            if same:  # against the pipeline's fastest batch size in the same precision
                c = min(same, key=lambda c: c["ratio_wall"])
                lines.append(f"SQuAD dev served, {precision}, >= 2x the HF question-answering pipeline at its "
                             f"fastest {precision}: {c['ratio_wall']:.2f}x -> {verdict(c['ratio_wall'], 2.0)}")
        if not hf:
            lines.append("SQuAD dev served >= 2x the HF question-answering pipeline: not measured "
                         "(torch / transformers<5 not installed)")
    soak = reports.get("serving_soak")
    if soak:
        errors = soak["models"]["all"]["errors"]
        memory = soak["memory"]
        lines.append(f"serving soak: {errors} errors in {soak['models']['all']['requests']} requests -> "
                     f"{'met' if errors == 0 else 'NOT met'}; server memory after warm-up "
                     f"{memory['after_warmup_mib']} MiB, growth to the end {memory['growth_mib']:+} MiB "
                     f"(trend {memory['trend_mib_per_min']:+} MiB/min)")
    ts = reports.get("training_step")
    if ts:
        for precision in ("fp32", "bf16"):
            c = _comparison(ts, "pretrain", f"ours {precision}", f"Model Garden {precision}")
            if c:
                lines.append(ratio_line(f"pre-training step {precision} >= 1.2x Model Garden {precision}", c, 1.2))
            elif precision == "bf16" and _lacks_bfloat16(ts):
                lines.append("pre-training step bf16: not measured (this CPU has no bfloat16 instructions)")
            else:
                lines.append(f"pre-training step {precision} vs Model Garden {precision}: not measured "
                             "(see the training-step notes)")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench"), help="folder for the JSON reports")
    parser.add_argument("--extra", default="", help="arguments passed to every benchmark")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or BENCHMARKS
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"Unknown benchmark(s) {sorted(unknown)}; known: {BENCHMARKS}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reports, failed = {}, []
    for name in names:
        report_path = out / f"{name}.json"
        command = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--json", str(report_path)]
        command += shlex.split(args.extra)
        print(f"\n$ {' '.join(shlex.quote(c) for c in command)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command, cwd=ROOT, env=dict(os.environ))
        print(f"({name}: {time.perf_counter() - start:.0f} s, exit code {code})", flush=True)
        if code == 0 and report_path.exists():
            reports[name] = json.loads(report_path.read_text())
        else:
            failed.append(name)
    print("\n## Targets")
    for line in check_targets(reports):
        print(f"- {line}")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

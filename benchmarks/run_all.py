"""Runs every benchmark (each in its own process, default settings) and checks the targets.

`make bench` calls this. Each benchmark prints its own table; their JSON reports go to
`--out` (default `runs/bench/`), and at the end this prints the issue's targets with the
measured figures: met, or the distance to them.

Targets (measured in one run on the same machine), of the benchmark issue and of the
bf16 / AMX / int8 issue (docs/BENCHMARKS.md has both tables):
- BERT-Base fixed-shape inference (batch 16, sequence 128): >= 16 seq/s in bf16,
  >= 1.15x keras-hub's bf16, >= 1.2x Hugging Face's bf16 (when torch is installed) and
  >= 60% of the bf16 limit; int8 >= 1.3x our bf16 (`backbone_inference --int8`, which
  this passes);
- raw SST-2 dev text -> logits (MiniLM size, batch 32): >= 25x keras-hub at its defaults,
  and ours in bf16 (fp32 where the CPU has no bfloat16 instructions) >= 1.2x and >= 1.5x
  Hugging Face with dynamic padding at its fastest precision;
- pre-training step: >= 1.2x Model Garden; in bf16 >= 1.3x and >= 40% of the limit;
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
ARGUMENTS = {"backbone_inference": ["--int8"]}  # beyond each benchmark's defaults, for a target


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


def _fastest(report, implementation_prefix):
    """The row of the highest throughput among the implementations named so."""
    rows = [r for r in report.get("rows", []) if r["implementation"].startswith(implementation_prefix)]
    return max(rows, key=lambda r: r["items_per_s"]) if rows else None


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
        c = _comparison(bi, "base b16 s128", "ours (gelu) bf16", "Hugging Face bf16")
        if c:
            lines.append(ratio_line("BERT-Base bf16 >= 1.2x Hugging Face bf16", c, 1.2))
        c = _comparison(bi, "base b16 s128", "ours (gelu) fp32", "Hugging Face fp32")
        if c:
            lines.append(f"BERT-Base fp32 vs Hugging Face fp32 (no target): "
                         f"{c['ratio_wall']:.2f}x wall, {c['ratio_cpu']:.2f}x CPU time")
        share = row.get("share_of_limit") if row else None
        if share is not None:
            lines.append(f"BERT-Base bf16 >= 60% of the bf16 limit: {share:.0%} -> {verdict(share, 0.6)}")
        c = _comparison(bi, "base b16 s128", "ours int8 int8", "ours bf16")
        if c:
            lines.append(ratio_line("BERT-Base int8 >= 1.3x ours bf16", c, 1.3))
        elif _comparison(bi, "base b16 s128", "ours int8 int8", "ours fp32"):
            lines.append("BERT-Base int8 >= 1.3x ours bf16: not measured (bf16 not measured on this CPU)")
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
        peer = _fastest(tp, "Hugging Face")
        ours = _row(tp, "SST-2", "ours (length-bucketed)", "bf16") or _row(tp, "SST-2", "ours (length-bucketed)",
                                                                           "fp32")
        c = peer and ours and _comparison(tp, "SST-2", f"{ours['implementation']} {ours['precision']}",
                                          f"{peer['implementation']} {peer['precision']}")
        if c:
            lines.append(f"SST-2 dev text -> logits, ours {ours['precision']} >= 1.2x / 1.5x Hugging Face at "
                         f"its fastest ({peer['precision']}): {c['ratio_wall']:.2f}x wall, {c['ratio_cpu']:.2f}x "
                         f"CPU time -> {verdict(c['ratio_wall'], 1.2)} / {verdict(c['ratio_wall'], 1.5)} (wall)")
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
        for precision, target in (("fp32", 1.2), ("bf16", 1.3)):
            c = _comparison(ts, "pretrain", f"ours {precision}", f"Model Garden {precision}")
            if c:
                lines.append(ratio_line(f"pre-training step {precision} >= {target}x Model Garden {precision}",
                                        c, target))
                share = (_row(ts, "pretrain", "ours", precision) or {}).get("share_of_limit")
                if precision == "bf16" and share is not None:
                    lines.append(f"pre-training step bf16 >= 40% of the bf16 limit: {share:.0%} -> "
                                 f"{verdict(share, 0.4)}")
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
        command += ARGUMENTS.get(name, []) + shlex.split(args.extra)
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

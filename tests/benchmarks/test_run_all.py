"""`run_all.check_targets`: each target line read from the benchmarks' JSON reports."""

from benchmarks import run_all


def _row(case, implementation, precision, items_per_s, share=None):
    return {"case": case, "implementation": implementation, "precision": precision,
            "items_per_s": items_per_s, "items_per_cpu_s": items_per_s / 2, "share_of_limit": share}


def _comparison(case, ours, peer, wall, cpu):
    return {"case": case, "ours": ours, "peer": peer, "ratio_wall": wall, "ratio_cpu": cpu}


MACHINE = {"load_start": [0.5, 0.5, 0.5], "bfloat16": True}


def _lines(**reports):
    return run_all.check_targets(reports)


def _line(lines, start):
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_inference_targets_of_both_issues():
    case = "base b16 s128"
    report = {"machine": MACHINE,
              "rows": [_row(case, "ours (gelu)", "bf16", 33.79, 0.81), _row(case, "Hugging Face", "bf16", 25.19),
                       _row(case, "ours int8", "int8", 45.26)],
              "comparisons": [_comparison(case, "ours (gelu) bf16", "Hugging Face bf16", 1.34, 1.40),
                              _comparison(case, "ours int8 int8", "ours bf16", 1.29, 1.37)]}
    lines = _lines(backbone_inference=report)
    assert _line(lines, "BERT-Base b16 s128 bf16 >= 16 seq/s").endswith("MET")
    assert "1.34x wall" in _line(lines, "BERT-Base bf16 >= 1.2x Hugging Face bf16")
    assert _line(lines, "BERT-Base bf16 >= 60% of the bf16 limit") == \
        "BERT-Base bf16 >= 60% of the bf16 limit: 81% -> MET"
    int8 = _line(lines, "BERT-Base int8 >= 1.3x ours bf16")
    assert "not met (99% of the target) (wall)" in int8 and "MET (CPU time)" in int8


def test_int8_against_fp32_only_says_bf16_was_not_measured():
    case = "base b16 s128"
    report = {"machine": dict(MACHINE, bfloat16=False),
              "rows": [_row(case, "ours (gelu)", "fp32", 6.0, 0.7), _row(case, "ours int8", "int8", 5.0)],
              "comparisons": [_comparison(case, "ours int8 int8", "ours fp32", 0.8, 0.8)]}
    lines = _lines(backbone_inference=report)
    assert "not measured" in _line(lines, "BERT-Base int8 >= 1.3x ours bf16")
    assert not [line for line in lines if "60% of the bf16 limit" in line]


def test_text_compares_ours_bf16_with_hugging_face_at_its_fastest():
    case = "SST-2 dev b32"
    ours_bf16 = "ours (length-bucketed) bf16"
    hf = "Hugging Face (per-batch dynamic padding)"
    report = {"machine": MACHINE,
              "rows": [_row(case, "ours (length-bucketed)", "fp32", 616.9),
                       _row(case, "ours (length-bucketed)", "bf16", 962.9),
                       _row(case, hf, "fp32", 170.2), _row(case, hf, "bf16", 478.2),
                       _row(case, hf, "bf16 weights", 484.2)],
              "comparisons": [_comparison(case, ours_bf16, f"{hf} fp32", 5.66, 5.98),
                              _comparison(case, ours_bf16, f"{hf} bf16", 2.01, 2.12),
                              _comparison(case, ours_bf16, f"{hf} bf16 weights", 1.99, 2.09),
                              _comparison(case, "ours (length-bucketed) fp32", f"{hf} bf16 weights", 1.27, 1.31)]}
    line = _line(_lines(text_to_predictions=report), "SST-2 dev text -> logits, ours bf16")
    assert "at its fastest (bf16 weights): 1.99x wall" in line and line.endswith("MET / MET (wall)")


def test_pretraining_step_bf16_target_and_share():
    case = "pretrain base b8 s128 p20"
    report = {"machine": MACHINE,
              "rows": [_row(case, "ours", "bf16", 8.33, 0.58), _row(case, "Model Garden", "bf16", 5.86, 0.41),
                       _row(case, "ours", "fp32", 5.22, 0.89), _row(case, "Model Garden", "fp32", 4.07, 0.70)],
              "comparisons": [_comparison(case, "ours bf16", "Model Garden bf16", 1.25, 1.31),
                              _comparison(case, "ours fp32", "Model Garden fp32", 1.28, 1.29)]}
    lines = _lines(training_step=report)
    assert "MET (wall)" in _line(lines, "pre-training step fp32 >= 1.2x Model Garden fp32")
    assert "not met (96% of the target) (wall)" in _line(lines, "pre-training step bf16 >= 1.3x Model Garden bf16")
    assert _line(lines, "pre-training step bf16 >= 40% of the bf16 limit").endswith("58% -> MET")

"""oneDNN's frozen-weights mode: faster dense layers for processes that only serve.

TensorFlow's oneDNN kernels read `TF_ONEDNN_ASSUME_FROZEN_WEIGHTS` once, when the first
matmul or convolution kernel of the process is built. With it set to `1`, every such
kernel treats its weights as constants: it lets oneDNN choose the weight layout of its
fastest kernel, converts the weights once and keeps that copy. On CPUs with AMX this is
what moves BERT's dense layers (TensorFlow's fused matmul + bias (+ GELU)) from oneDNN's
generic `gemm:jit` kernel to the AMX `brgemm` one: on a 2-core AMX Xeon, BERT-Base
forward at batch 16, length 128, with bfloat16 weights went from 42 to 65 sequences a
second (docs/BENCHMARKS.md).

The kept copy is never refreshed: a kernel goes on computing with the weights it saw
first. A process that trains with the mode on therefore trains on stale weights, and
nothing fails (TensorFlow 2.20: a fused dense layer's output is unchanged after its
kernel is reassigned; `tests/test_frozen_weights.py` checks that this still holds). So
set it only in the environment of a process that serves: TF Serving
(`docker run -e TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1 ...`), or a Python process that loads a
model and predicts, before that process starts. A `BertTask` refuses to train (`fit`,
`train_on_batch`) while it is set (`refuse_training`).

Example:
>>> frozen_weights_assumed({"TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1"})
True
>>> frozen_weights_assumed({})
False
"""

import os

ENV_VAR = "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS"


def frozen_weights_assumed(environ=None):
    """Whether `environ` (default: this process's environment) turns the mode on, as
    TensorFlow reads the variable (`1` or `true`, any case)."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return value.strip().lower() in ("1", "true")


def refuse_training(environ=None):
    """Raises `RuntimeError` when the mode is on: training here would not see its updates."""
    if frozen_weights_assumed(environ):
        raise RuntimeError(
            f"{ENV_VAR} is set in this process's environment: TensorFlow's oneDNN kernels then "
            "keep the first weights they see, so training here would go on computing with the "
            f"initial weights. Unset {ENV_VAR} for training; set it only for processes that serve.")

"""Mixed precision that follows the device: float16 with loss scaling on GPU, bfloat16
on TPU and on CPUs with bfloat16 instructions, float32 on other CPUs.

A CPU without bfloat16 arithmetic (x86 before AVX512-BF16 / AMX, Arm without BF16)
runs bfloat16 matmuls by converting to float32 and back: slower than float32, not faster
(measured on a 2-core AVX2 EPYC: a 1024^3 matmul at 103 GFLOP/s in bfloat16 against 140
in float32). There `"mixed"` means float32; `"mixed_bfloat16"` still forces bfloat16.

Example:
>>> resolve_precision("mixed", "GPU")
'mixed_float16'
"""

import logging
import platform

import keras
import tensorflow as tf

from keras_bert_pkg.distribute.strategy_info import device_type

_X86_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_ARM_BF16_FEATURES = ("bf16",)


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU has bfloat16 arithmetic instructions.

    Reads the `flags` (x86: `avx512_bf16`, `amx_bf16`) or `Features` (Arm: `bf16`) line
    of `cpuinfo`. Returns True or False, or None where that file cannot be read (not
    Linux); Apple silicon from M2 on has BF16 (`platform.machine() == "arm64"` on macOS
    is taken as True).
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        if platform.system() == "Darwin" and platform.machine() == "arm64":
            return True
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "flags":
            return any(flag in value.split() for flag in _X86_BF16_FLAGS)
        if key == "features":
            return any(flag in value.split() for flag in _ARM_BF16_FEATURES)
    return None


PRECISIONS = ("float32", "mixed", "mixed_float16", "mixed_bfloat16")


def resolve_precision(precision="float32", device=None, cpuinfo="/proc/cpuinfo"):
    """The Keras dtype policy for a precision name on a device: the one place that decides.

    `"mixed"` is `mixed_float16` (with loss scaling) on GPU, `mixed_bfloat16` on TPU and on
    CPUs with bfloat16 instructions (or when that cannot be told), and `float32` on CPUs
    known to lack them (a warning says so). Other names are returned as they are.

    Args:
        precision: one of `PRECISIONS` (None means float32).
        device: `"CPU"`, `"GPU"`, `"TPU"`, a `tf.distribute.Strategy` (its replicas'
            device), or None (the default device: a GPU when one is visible).
        cpuinfo: where to read the CPU's flags.

    Raises:
        ValueError: for an unknown name, or `mixed_float16` on a TPU.

    Example:
    >>> resolve_precision("mixed", "GPU"), resolve_precision("mixed", "TPU")
    ('mixed_float16', 'mixed_bfloat16')
    """
    precision = precision or "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}: expected one of {PRECISIONS}.")
    if device is None:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    elif not isinstance(device, str):
        device = device_type(device)
    if precision == "mixed_float16" and device == "TPU":
        raise ValueError("precision 'mixed_float16' on a TPU: use 'mixed' or 'mixed_bfloat16'.")
    if precision != "mixed":
        return precision
    if device == "GPU":
        return "mixed_float16"
    if device == "TPU" or cpu_has_bfloat16(cpuinfo) is not False:
        return "mixed_bfloat16"
    logging.getLogger("keras_bert_pkg").warning(
        "precision 'mixed': this CPU has no bfloat16 instructions (%s), where bfloat16 is "
        "slower than float32; using float32 (pass 'mixed_bfloat16' to force bfloat16).",
        "/".join(_X86_BF16_FLAGS + _ARM_BF16_FEATURES))
    return "float32"


def set_precision(precision="float32", device=None):
    """Sets the global Keras dtype policy (`resolve_precision`) before models are built.

    Under `mixed_float16`, `model.compile` wraps the optimizer in a `LossScaleOptimizer`.

    Returns: the policy name set.
    """
    name = resolve_precision(precision, device)
    keras.config.set_dtype_policy(name)
    return name

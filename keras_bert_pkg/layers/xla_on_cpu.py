"""When the training graphs compile their element-wise work with XLA: on CPU, at static shapes.

`gelu_for_training` and `BertLayerNorm`'s training path can each run as two XLA-compiled
functions (forward, backward), which fuse a dozen element-wise passes into one or two.
They do so only when both hold:

- TensorFlow sees no GPU: on CPU XLA needs nothing installed beyond TensorFlow, while a
  GPU needs CUDA's compiler tools for XLA, which a GPU machine may lack; and the speed-ups
  were measured on CPUs only.
- the tensor's shape is static: XLA compiles once for every shape it meets (~0.1–0.7 s
  each on a 2-core CPU), so the fixed shapes of pre-training and of fixed-length batches
  qualify, and the per-batch lengths of bucketed fine-tuning (an unknown token axis in the
  traced graph) keep TensorFlow's ops.

Example:
>>> import tensorflow as tf
>>> compiles_on_cpu(tf.zeros([4, 8])) == cpu_only()
True
"""

import functools

import tensorflow as tf


@functools.lru_cache(maxsize=None)
def cpu_only():
    """True when TensorFlow sees no GPU."""
    return not tf.config.list_physical_devices("GPU")


def compiles_on_cpu(x):
    """True when a training path may compile its work on `x` with XLA (module doc)."""
    return cpu_only() and x.shape.is_fully_defined()

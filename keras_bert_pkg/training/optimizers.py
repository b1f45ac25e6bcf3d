"""BERT's optimisers: AdamW with decoupled weight decay (LAMB for large batches).

The paper trains with Adam, weight decay 0.01 (not on LayerNorm parameters or biases),
beta1 0.9, beta2 0.999, epsilon 1e-6, linear warm-up then linear decay, and gradient
clipping at norm 1.0. Keras's `AdamW` keeps Adam's bias correction, which Google's
`AdamWeightDecayOptimizer` omitted; the difference vanishes after a few hundred steps.
"""

import keras

from keras_bert_pkg.keras_workarounds import clip_after_all_reduce
from keras_bert_pkg.training.fused_adamw import FusedAdamW
from keras_bert_pkg.training.warmup_linear_decay import WarmupLinearDecay

# Keras variable names of LayerNorm scale/offset and of every bias.
NO_DECAY_VARIABLE_NAMES = ["gamma", "beta", "bias"]


def create_optimizer(
    learning_rate,
    total_steps,
    warmup_steps=None,
    optimizer="adamw",
    weight_decay=0.01,
    global_clipnorm=1.0,
    gradient_accumulation_steps=None,
    epsilon=1e-6,
):
    """Builds BERT's optimiser with its warm-up/decay schedule.

    Args:
        learning_rate: peak learning rate.
        total_steps: optimiser steps of the whole run (the decay reaches 0 there).
        warmup_steps: warm-up steps; default 10% of `total_steps`.
        optimizer: `"adamw"` (the paper; `FusedAdamW`, Keras's AdamW with a fused
            update kernel) or `"lamb"` (large-batch pre-training).
        weight_decay: decoupled weight decay, not applied to LayerNorm or biases.
        global_clipnorm: clip gradients to this global norm (None to disable).
        gradient_accumulation_steps: accumulate this many batches per update.
        epsilon: Adam epsilon.

    Example:
    >>> opt = create_optimizer(5e-5, total_steps=1000)
    >>> type(opt).__name__
    'FusedAdamW'
    """
    if warmup_steps is None:
        warmup_steps = int(0.1 * total_steps)
    schedule = WarmupLinearDecay(learning_rate, total_steps=max(int(total_steps), 1),
                                 warmup_steps=min(int(warmup_steps), max(int(total_steps), 1)))
    common = dict(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=epsilon,
        global_clipnorm=global_clipnorm,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    if optimizer == "adamw":
        opt = FusedAdamW(**common)  # Keras's AdamW, one fused kernel per variable update
    elif optimizer == "lamb":
        opt = keras.optimizers.Lamb(**common)
    else:
        raise ValueError(f"Unknown optimizer {optimizer!r}; expected 'adamw' or 'lamb'.")
    if weight_decay:
        opt.exclude_from_weight_decay(var_names=NO_DECAY_VARIABLE_NAMES)
    return clip_after_all_reduce(opt)  # with several replicas, clip the summed gradient

"""GELU in the two forms BERT checkpoints use.

Google's original BERT code computes GELU with the tanh approximation; Hugging Face's
`"gelu"` is the exact erf form (its `"gelu_new"` is the tanh one). A checkpoint must be
run with the form it was trained with, so the backbone records the name.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
def gelu_approximate(x):
    """GELU, tanh approximation: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).

    Example:
    >>> import numpy as np
    >>> float(gelu_approximate(np.float32(1.0)))  # doctest: +ELLIPSIS
    0.841...
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
def gelu_exact(x):
    """GELU, exact form: x * Phi(x) with the Gaussian CDF computed through erf."""
    return keras.activations.gelu(x, approximate=False)


_ACTIVATIONS = {
    "gelu_approximate": gelu_approximate,
    "gelu_new": gelu_approximate,
    "gelu_tanh": gelu_approximate,
    "gelu": gelu_exact,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
}


def get_activation(name):
    """Returns the activation function for a name used in BERT configs.

    Args:
        name: `"gelu_approximate"` (tanh form; also `"gelu_new"`, `"gelu_tanh"`),
            `"gelu"` / `"gelu_exact"` (erf form) or `"relu"`.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown hidden_activation {name!r}; expected one of {sorted(_ACTIVATIONS)}."
        )
    return _ACTIVATIONS[name]

"""BERT architectures by name: the sizes of the paper and of the small BERTs (random weights).

Each gives the `BertBackbone` constructor arguments. Intermediate size is 4H,
512 positions, 2 segments and the 30522-token uncased vocabulary unless overridden.
"""

_SIZES = {
    # name: (num_layers, hidden_dim, num_heads)
    "bert_tiny": (2, 128, 2),
    "bert_mini": (4, 256, 4),
    "bert_small": (4, 512, 8),
    "bert_medium": (8, 512, 8),
    "bert_base": (12, 768, 12),
    "bert_large": (24, 1024, 16),
}


def _architecture(num_layers, hidden_dim, num_heads):
    return {
        "vocabulary_size": 30522,
        "num_layers": num_layers,
        "num_heads": num_heads,
        "hidden_dim": hidden_dim,
        "intermediate_dim": 4 * hidden_dim,
        "max_sequence_length": 512,
        "num_segments": 2,
        "dropout": 0.1,
        "hidden_activation": "gelu_approximate",
        "layer_norm_epsilon": 1e-12,
        "initializer_range": 0.02,
    }


BACKBONE_ARCHITECTURES = {name: _architecture(*size) for name, size in _SIZES.items()}


def architecture_config(name, **overrides):
    """Returns a copy of an architecture's constructor arguments with `overrides` applied.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in BACKBONE_ARCHITECTURES:
        raise ValueError(
            f"Unknown BERT architecture {name!r}. Known architectures: {sorted(BACKBONE_ARCHITECTURES)}."
        )
    config = dict(BACKBONE_ARCHITECTURES[name])
    unknown = set(overrides) - set(config) - {"return_all_layers", "causal", "dtype", "name"}
    if unknown:
        raise ValueError(f"Unknown BertBackbone argument(s) for architecture {name!r}: {sorted(unknown)}.")
    config.update(overrides)
    return config

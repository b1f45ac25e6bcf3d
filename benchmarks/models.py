"""Builders for the models the benchmarks compare: ours, keras-hub, Model Garden, HF.

Each peer is built at its library's defaults except for the architecture sizes, which
are set to the case's; the GELU form is matched where the defaults differ (keras-hub's
BERT uses the exact erf GELU, Model Garden's the tanh approximation; ours is built with
the same form as the peer it is compared with).
"""

from benchmarks import common  # noqa: F401  (sys.path and backend set-up)

SIZES = {
    # name: (num_layers, hidden_dim, num_heads, intermediate_dim)
    "tiny": (2, 128, 2, 512),
    "mini": (4, 256, 4, 1024),
    "small": (4, 512, 8, 2048),
    "medium": (8, 512, 8, 2048),
    "minilm": (6, 384, 12, 1536),  # all-MiniLM-L6-v2's shape
    "base": (12, 768, 12, 3072),
    "large": (24, 1024, 16, 4096),
}
VOCABULARY_SIZE = 30522


def forward_gflop(size, length):
    """The matmul work of one sequence through the encoder (GFLOP): per token and layer
    2 x (4 h^2 + 2 h i) for the projections and the feed-forward net plus 2 x 2 x length x h
    for the attention scores and their weighted sum; embeddings and pooler left out
    (BERT-Base at length 128: 22.35). A training step is about 3 times this.

    >>> round(forward_gflop("base", 128), 2)
    22.35
    """
    layers, hidden, _, intermediate = SIZES[size]
    per_token = 2 * (4 * hidden ** 2 + 2 * hidden * intermediate) + 4 * length * hidden
    return layers * length * per_token / 1e9


def case_limit(size, batch, length, precision, skip=False):
    """`matmul_limit` at the case's largest matmul, [batch x length, hidden] x [hidden,
    intermediate] (0 with `skip`), printed."""
    if skip:
        return 0.0
    _, hidden, _, intermediate = SIZES[size]
    limit = common.matmul_limit(precision, batch * length, hidden, intermediate)
    print(f"  limit: {limit['best']} GFLOP/s (TensorFlow {limit['tensorflow']}, PyTorch {limit['torch']}) "
          f"at [{batch * length}, {hidden}] x [{hidden}, {intermediate}]", flush=True)
    return limit["best"]


def parse_case(text):
    """`"base:16:128"` → `("base", 16, 128)`, with a clear error for bad input."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in SIZES:
        raise ValueError(f"Bad case {text!r}: expected size:batch:length with size in {sorted(SIZES)}.")
    return parts[0], int(parts[1]), int(parts[2])


def ours_backbone(size, activation="gelu_approximate", dtype=None, dropout=0.1):
    from keras_bert_pkg import BertBackbone

    layers, hidden, heads, inner = SIZES[size]
    return BertBackbone(vocabulary_size=VOCABULARY_SIZE, num_layers=layers, num_heads=heads,
                        hidden_dim=hidden, intermediate_dim=inner, dropout=dropout,
                        hidden_activation=activation, dtype=dtype)


def keras_hub_backbone(size, dtype=None):
    import keras_hub

    layers, hidden, heads, inner = SIZES[size]
    return keras_hub.models.BertBackbone(vocabulary_size=VOCABULARY_SIZE, num_layers=layers,
                                         num_heads=heads, hidden_dim=hidden, intermediate_dim=inner,
                                         dtype=dtype)


def model_garden_encoder(size):
    """Model Garden's `BertEncoder` (tf-keras); its dtype follows tf-keras's global policy."""
    from official.nlp.modeling import networks

    layers, hidden, heads, inner = SIZES[size]
    return networks.BertEncoder(vocab_size=VOCABULARY_SIZE, hidden_size=hidden, num_layers=layers,
                                num_attention_heads=heads, inner_dim=inner, type_vocab_size=2,
                                dict_outputs=True)


def model_garden_inputs(x):
    return {"input_word_ids": x["token_ids"], "input_mask": x["padding_mask"],
            "input_type_ids": x["segment_ids"]}


def huggingface_model(size, task="backbone", num_labels=2):
    """A randomly initialised Hugging Face (PyTorch) BERT of the case's size (eval mode)."""
    import transformers

    layers, hidden, heads, inner = SIZES[size]
    config = transformers.BertConfig(vocab_size=VOCABULARY_SIZE, hidden_size=hidden, num_hidden_layers=layers,
                                     num_attention_heads=heads, intermediate_size=inner,
                                     hidden_act="gelu", num_labels=num_labels)
    classes = {"backbone": transformers.BertModel, "classifier": transformers.BertForSequenceClassification,
               "span": transformers.BertForQuestionAnswering}
    return classes[task](config).eval()


def huggingface_at(model, precision):
    """A Hugging Face model at one of our precisions, and the context its calls run in:
    float32 as it is; `mixed_bfloat16` under `torch.autocast("cpu", torch.bfloat16)`
    (float32 weights, bfloat16 matmuls: the usual mixed precision); `bfloat16` with its
    weights cast (`model.to(torch.bfloat16)`, as ours with `dtype="bfloat16"`).

    Returns: `(model, context)`, `context()` a fresh context manager for each call.
    """
    import contextlib

    import torch

    if precision == "bfloat16":
        return model.to(torch.bfloat16), contextlib.nullcontext
    if precision not in ("float32", "mixed_bfloat16"):
        raise ValueError(f"No Hugging Face counterpart of precision {precision!r}.")
    bf16 = precision == "mixed_bfloat16"
    return model, lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def random_inputs(batch, length, seed=0, pad_from=None):
    """Token ids drawn from the real vocabulary range, two segments, optional padding."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mask = np.ones((batch, length), "int32")
    if pad_from is not None:
        mask[:, pad_from:] = 0
    return {
        "token_ids": (rng.integers(1000, VOCABULARY_SIZE, (batch, length)) * mask).astype("int32"),
        "segment_ids": (np.arange(length)[None, :] >= length // 2).astype("int32").repeat(batch, 0) * mask,
        "padding_mask": mask,
    }

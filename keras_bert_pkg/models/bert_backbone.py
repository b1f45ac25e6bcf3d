"""BertBackbone: the bidirectional Transformer encoder of BERT (Devlin et al., 2018)."""

import keras
import numpy as np
from keras import ops
from keras_hub.layers import PositionEmbedding

from keras_bert_pkg import keras_workarounds
from keras_bert_pkg.checkpoints import load_report
from keras_bert_pkg.checkpoints.presets import read_preset
from keras_bert_pkg.layers.activations import get_activation
from keras_bert_pkg.layers.bert_encoder_block import (BertEncoderBlock, is_legacy_weight_path,
                                                      upgrade_legacy_weight)
from keras_bert_pkg.layers.causal_attention_mask import CausalAttentionMask
from keras_bert_pkg.layers.reversible_embedding import ReversibleEmbedding
from keras_bert_pkg.models.bert_architectures import architecture_config


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertBackbone(keras.Model):
    """BERT encoder: embeddings, `num_layers` post-LayerNorm Transformer blocks, pooler.

    Embeddings are the sum of token, segment and learned position embeddings, followed
    by LayerNorm and dropout (section 3 of the paper). Each block is a `BertEncoderBlock`
    (self-attention, add & norm, feed-forward, add & norm, with a fused-matmul forward
    pass). The pooler is a tanh dense layer on the [CLS] vector.

    `BertBackbone.from_preset(name_or_path)` builds one from a pretrained checkpoint with
    its weights; `BertBackbone.from_architecture("bert_base")` builds a named size with
    random weights.

    Args:
        vocabulary_size: number of WordPiece tokens.
        num_layers: number of Transformer blocks (L).
        num_heads: attention heads (A).
        hidden_dim: hidden size (H).
        intermediate_dim: feed-forward inner size (4H in the paper).
        dropout: dropout on embeddings, attention probabilities and block outputs.
        max_sequence_length: number of learned positions.
        num_segments: number of segment (token type) embeddings.
        hidden_activation: `"gelu_approximate"` (tanh form, Google's checkpoints),
            `"gelu"` (exact erf form, Hugging Face's `"gelu"`) or `"relu"`.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 in BERT).
        initializer_range: stddev of the truncated-normal initializer.
        return_all_layers: also output `encoder_outputs`, the list of every block's
            output (the paper's feature-based approach concatenates the last four).
        causal: use a left-to-right attention mask (the paper's LTR ablation).
        dtype: a dtype or `keras.DTypePolicy` (e.g. `"mixed_bfloat16"`).

    Inputs: dict of `token_ids`, `segment_ids` (int, [batch, length]) and
    `padding_mask` (bool or int, [batch, length], true for real tokens).
    Outputs: dict of `sequence_output` [batch, length, hidden_dim] and
    `pooled_output` [batch, hidden_dim] (plus `encoder_outputs` on request).

    Sublayers (public attributes): `token_embedding` (`layers.ReversibleEmbedding`, keras-hub's
    with a one-matmul tied reverse pass),
    `segment_embedding`, `position_embedding` (keras-hub `PositionEmbedding`),
    `embeddings_layer_norm`, `transformer_layers` (the blocks) and `pooled_dense`.

    Example:
    >>> import numpy as np
    >>> backbone = BertBackbone.from_architecture("bert_tiny")
    >>> out = backbone({"token_ids": np.array([[101, 7592, 102]]),
    ...                 "segment_ids": np.zeros((1, 3), "int32"),
    ...                 "padding_mask": np.ones((1, 3), "int32")})
    >>> tuple(out["sequence_output"].shape), tuple(out["pooled_output"].shape)
    ((1, 3, 128), (1, 128))
    """

    def __init__(
        self,
        vocabulary_size=30522,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        hidden_activation="gelu_approximate",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        return_all_layers=False,
        causal=False,
        dtype=None,
        **kwargs,
    ):
        if hidden_dim % num_heads:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) must be divisible by num_heads ({num_heads})."
            )
        activation = get_activation(hidden_activation)

        def init():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        token_embedding = ReversibleEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=init(),
            dtype=dtype, name="token_embedding",
        )
        # The masked-LM output projection (`reverse=True`) in the compute dtype, as the
        # encoder's matmuls: Keras embeddings do not autocast their table, so it would
        # otherwise run in float32 (~8% of a bfloat16 pre-training step of BERT-Base).
        token_embedding.reverse_dtype = token_embedding.compute_dtype
        segment_embedding = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=init(),
            dtype=dtype, name="segment_embedding",
        )
        position_embedding = PositionEmbedding(
            max_sequence_length, initializer=init(), dtype=dtype, name="position_embedding",
        )
        embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        # Keras's class, not BertLayerNorm: a functional model's weights file names its
        # layers by class, so another class would orphan the weights of saved backbones.
        embeddings_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm",
        )
        embeddings_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")
        blocks = [
            BertEncoderBlock(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=init(),
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        pooled_dense = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=init(),
            dtype=dtype, name="pooled_dense",
        )

        embeddings_layers = (token_embedding, position_embedding, segment_embedding,
                             embeddings_add, embeddings_norm, embeddings_dropout)
        causal_mask = CausalAttentionMask(name="causal_attention_mask") if causal else None

        # === Functional model ===
        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
        }
        outputs = _encode(embeddings_layers, causal_mask, blocks, pooled_dense, inputs, return_all_layers)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.hidden_activation = hidden_activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.return_all_layers = return_all_layers
        self.causal = causal
        self.layer_dtype_policy = keras.dtype_policies.get(dtype) if dtype else keras.config.dtype_policy()
        self.token_embedding = token_embedding
        self.segment_embedding = segment_embedding
        self.position_embedding = position_embedding
        self.embeddings_layer_norm = embeddings_norm
        self.transformer_layers = blocks
        self.pooled_dense = pooled_dense
        # Layers without weights, kept for the `output_positions` call.
        self._embeddings_layers = embeddings_layers
        self._causal_mask = causal_mask

    def call(self, inputs, training=None, mask=None, output_positions=None):
        """The functional graph, or with `output_positions` (int [batch, positions]) the
        same encoder whose last block computes only those positions and [CLS]:
        `sequence_output` is then [batch, positions, hidden], the rows the whole output
        holds at those positions, and `pooled_output` is unchanged (the class doc)."""
        if output_positions is None:
            return super().call(inputs, training=training, mask=mask)
        return _encode(self._embeddings_layers, self._causal_mask, self.transformer_layers,
                       self.pooled_dense, inputs, self.return_all_layers, output_positions)

    def compute_output_spec(self, inputs, training=None, mask=None, output_positions=None):
        spec = super().compute_output_spec(inputs, training=training, mask=mask)
        if output_positions is None:
            return spec
        batch, positions = output_positions.shape
        rows = keras.KerasTensor((batch, positions, self.hidden_dim),
                                 dtype=spec["sequence_output"].dtype)
        spec = dict(spec, sequence_output=rows)
        if self.return_all_layers:
            spec["encoder_outputs"] = spec["encoder_outputs"][:-1] + [rows]
        return spec

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "hidden_activation": self.hidden_activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            "return_all_layers": self.return_all_layers,
            "causal": self.causal,
        }
        config["dtype"] = keras.dtype_policies.serialize(self.layer_dtype_policy)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @classmethod
    def from_architecture(cls, name, **overrides):
        """Builds a randomly initialised backbone of a named size.

        Args:
            name: `bert_tiny`, `bert_mini`, `bert_small`, `bert_medium`, `bert_base` or
                `bert_large` (see `bert_architectures.py`).
            **overrides: constructor arguments to change (e.g. `vocabulary_size`).
        """
        return cls(**architecture_config(name, **overrides))

    @classmethod
    def from_preset(cls, preset, load_weights=True, strict=False, **overrides):
        """Builds a backbone of a pretrained checkpoint, with its weights.

        The configuration (sizes, activation, LayerNorm epsilon) comes from the
        checkpoint's own config.

        Args:
            preset: a published checkpoint name (`"bert_base_uncased"`, see
                `keras_bert_pkg.checkpoints.registry`; downloaded once) or a Hugging Face,
                Google TF1, Model Garden TF2 or keras-hub directory, or a `.keras` file.
            load_weights: False builds the architecture only (random weights).
            strict: raise instead of warning on unused tensors or missing weights.
            **overrides: constructor arguments to change (e.g. `dtype`, `dropout`).

        Example:
        >>> backbone = BertBackbone.from_preset(checkpoint_dir)
        >>> backbone.num_layers, backbone.hidden_activation
        (2, 'gelu')
        """
        return cls.from_contents(read_preset(preset), load_weights, strict, **overrides)

    @classmethod
    def from_contents(cls, contents, load_weights=True, strict=False, **overrides):
        """`from_preset` on checkpoint contents already read (`checkpoints.presets.read_preset`)."""
        backbone = cls(**{**contents.config, **overrides})
        if load_weights:
            load_report.load_weights(backbone, contents, strict=strict)
        return backbone

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # Weights files of keras_bert_pkg 0.1 hold the blocks in keras-hub's layout;
        # Keras reads the blocks after this call, from the upgraded store.
        keras_workarounds.upgrade_weights_store(store, is_legacy_weight_path, upgrade_legacy_weight)

    def dummy_inputs(self, batch_size=2, sequence_length=8):
        """A small valid input dict, for building and smoke tests."""
        return {
            "token_ids": np.ones((batch_size, sequence_length), "int32"),
            "segment_ids": np.zeros((batch_size, sequence_length), "int32"),
            "padding_mask": np.ones((batch_size, sequence_length), "int32"),
        }


def _encode(embeddings_layers, causal_mask, blocks, pooled_dense, inputs, return_all_layers,
            output_positions=None):
    """BERT's forward pass on the backbone's layers (symbolic or real tensors): a dict of
    `sequence_output`, `pooled_output` and, with `return_all_layers`, `encoder_outputs`
    (every block's output).

    With `output_positions`, the last block computes only [CLS] and those positions
    (`BertEncoderBlock`'s `query_positions`), and `sequence_output` holds those positions.
    """
    token_embedding, position_embedding, segment_embedding, add, norm, dropout = embeddings_layers
    mask = ops.cast(inputs["padding_mask"], "bool")
    tokens = token_embedding(inputs["token_ids"])
    x = add([tokens, position_embedding(tokens), segment_embedding(inputs["segment_ids"])])
    x = dropout(norm(x))
    attention_mask = causal_mask(x) if causal_mask is not None else None
    encoder_outputs = []
    for i, block in enumerate(blocks):
        queries = None
        if output_positions is not None and i == len(blocks) - 1:
            positions = ops.cast(output_positions, "int32")
            cls = ops.zeros_like(ops.sum(positions, axis=1, keepdims=True))  # [batch, 1]
            queries = ops.concatenate([cls, positions], axis=1)
        x = block(x, padding_mask=mask, attention_mask=attention_mask, query_positions=queries)
        encoder_outputs.append(x)
    if output_positions is not None:
        encoder_outputs[-1] = x[:, 1:, :]
    outputs = {"sequence_output": encoder_outputs[-1], "pooled_output": pooled_dense(x[:, 0, :])}
    if return_all_layers:
        outputs["encoder_outputs"] = encoder_outputs
    return outputs

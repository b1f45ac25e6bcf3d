"""BertPretrainer: BERT's pre-training model, masked LM + next-sentence prediction."""

import keras
import tensorflow as tf
from keras import ops
from keras_hub.layers import MaskedLMHead

from keras_bert_pkg.checkpoints import load_report
from keras_bert_pkg.checkpoints.presets import read_preset
from keras_bert_pkg.layers.activations import get_activation
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_task import BertTask

_EPSILON = 1e-5  # the original's denominator guard of the masked-LM mean


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class BertPretrainer(BertTask):
    """A `BertBackbone` with the two pre-training heads of the paper (section 3.1).

    - Masked LM (`masked_lm_head`, keras-hub `MaskedLMHead`): the hidden states at
      `masked_lm_positions` only (the backbone's last block computes no other rows but
      [CLS]'s: `BertBackbone.call`'s `output_positions`), then dense (hidden size, the backbone's GELU) and
      LayerNorm (the backbone's epsilon, 1e-12), then the output projection **tied** to
      `backbone.token_embedding` (the transposed embedding matrix) plus an output bias
      (`output_bias`, shape [vocabulary_size]).
    - Next sentence (`next_sentence_head`, `Dense(2)`) on the pooled `[CLS]` output.

    `compile()` sets BERT's loss: the masked-LM cross-entropy averaged over the real
    predictions (`sum(w * ce) / (sum(w) + 1e-5)` with `w = masked_lm_weights`), plus
    the next-sentence cross-entropy averaged over the batch; metrics `mlm_loss`,
    `nsp_loss`, `mlm_accuracy` (over real predictions) and `nsp_accuracy`. Train with
    `fit` on `(x, y)` batches from `pretraining_record_dataset` or
    `pretraining_stream_dataset`.

    The paper's ablations: `next_sentence=False` drops the next-sentence head and loss
    ("No NSP"); a backbone built with `causal=True` together with left-to-right targets
    (`left_to_right=True` in the datasets) gives "LTR & No NSP".

    Args:
        backbone: a `BertBackbone`.
        next_sentence: add the next-sentence head and loss.

    Inputs: the backbone's dict (`token_ids`, `segment_ids`, `padding_mask`) plus
    `masked_lm_positions` (int, [batch, predictions]).
    Outputs: dict `mlm_logits` [batch, predictions, vocabulary_size] and (with
    `next_sentence`) `nsp_logits` [batch, 2].
    Labels (`y`): dict `masked_lm_ids`, `masked_lm_weights`, `next_sentence_labels`
    (1 = B is random, the original's convention).

    Example:
    >>> from keras_bert_pkg.data.pretraining_documents import read_documents
    >>> from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary
    >>> tokenizer = BertTokenizer(vocab_file)
    >>> ds = pretraining_stream_dataset(read_documents(text_file, tokenizer),
    ...                                 MaskingVocabulary.from_tokenizer(tokenizer),
    ...                                 batch_size=4, seq_length=32, max_predictions_per_seq=4)
    >>> backbone = BertBackbone.from_architecture("bert_tiny", vocabulary_size=110)
    >>> model = BertPretrainer(backbone)
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss', 'mlm_accuracy', 'mlm_loss', 'nsp_accuracy', 'nsp_loss']
    """

    def __init__(self, backbone, next_sentence=True, **kwargs):
        if next_sentence and getattr(backbone, "causal", False):
            raise ValueError(
                "BertPretrainer: a causal (left-to-right) backbone's [CLS] vector sees only "
                "itself, so next-sentence prediction cannot work; use next_sentence=False "
                "(the paper's 'LTR & No NSP' ablation).")
        dtype = backbone.dtype_policy
        init = keras.initializers.TruncatedNormal(stddev=backbone.initializer_range)
        masked_lm_head = MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation=get_activation(backbone.hidden_activation),
            kernel_initializer=init,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=dtype,
            name="masked_lm_head",
        )
        next_sentence_head = keras.layers.Dense(
            2, kernel_initializer=init, dtype=dtype, name="next_sentence_head") if next_sentence else None

        inputs = dict(backbone.input)
        inputs["masked_lm_positions"] = keras.Input(shape=(None,), dtype="int32", name="masked_lm_positions")
        # The backbone's last block computes only the masked positions and [CLS], the
        # rows the heads read (`BertBackbone.call`'s `output_positions`): its
        # `sequence_output` is [batch, predictions, hidden], row j at masked position j.
        positions = inputs["masked_lm_positions"]
        features = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")},
                            output_positions=positions)
        rows = ops.cumsum(ops.ones_like(positions), axis=1) - 1  # 0, 1, ... in every row
        outputs = {"mlm_logits": masked_lm_head(features["sequence_output"], mask_positions=rows)}
        if next_sentence:
            outputs["nsp_logits"] = next_sentence_head(features["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, backbone=backbone, **kwargs)

        self.next_sentence = bool(next_sentence)
        self.uses_pooled_output = self.next_sentence  # only the next-sentence head reads it
        self.masked_lm_head = masked_lm_head
        self.next_sentence_head = next_sentence_head
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="mlm_accuracy")
        if next_sentence:
            self.nsp_loss_tracker = keras.metrics.Mean(name="nsp_loss")
            self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="nsp_accuracy")

    # --- training -------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, **kwargs):
        """Compiles with BERT's pre-training loss (the class doc).

        Args:
            optimizer: an optimizer (e.g. `keras_bert_pkg.training.create_optimizer`).
            loss: leave None for BERT's loss; a custom `loss` replaces it (then `y`
                must match the output dict as in plain Keras).
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, ...).
        """
        self._bert_loss = loss is None
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def _check_labels(self, y):
        names = ["masked_lm_ids", "masked_lm_weights"] + (["next_sentence_labels"] if self.next_sentence else [])
        if not isinstance(y, dict) or any(n not in y for n in names):
            got = sorted(y) if isinstance(y, dict) else type(y).__name__
            raise ValueError(f"BertPretrainer: labels must be a dict with {names}; got {got}.")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not getattr(self, "_bert_loss", True):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        self._check_labels(y)
        mlm_logits = ops.cast(y_pred["mlm_logits"], "float32")
        ids = ops.cast(y["masked_lm_ids"], "int32")
        weights = ops.cast(y["masked_lm_weights"], "float32")
        per_token = keras.losses.sparse_categorical_crossentropy(ids, mlm_logits, from_logits=True)
        # The gradients are summed over replicas, so each replica returns its share of the
        # global-batch loss: the masked-LM sum divided by the real predictions of the whole
        # global batch (counted over all replicas), the NSP mean divided by the replicas.
        # Any number of replicas then gives the one-device loss and gradients.
        replica = tf.distribute.get_replica_context()
        replicas = replica.num_replicas_in_sync if replica is not None else 1
        local_sum = ops.sum(per_token * weights)
        local_count = ops.sum(weights)
        count = replica.all_reduce("sum", local_count) if replicas > 1 else local_count
        total = local_sum / (count + _EPSILON)
        # The trackers are weighted by the data (real predictions, examples): they then
        # report the mean over all predictions / examples seen (all replicas, all
        # batches), and a step that ends on exhausted input (whose data-independent ops
        # may still run) adds nothing.
        self.mlm_loss_tracker.update_state(local_sum / (local_count + _EPSILON), sample_weight=local_count)
        if self.next_sentence:
            nsp_logits = ops.cast(y_pred["nsp_logits"], "float32")
            labels = ops.reshape(ops.cast(y["next_sentence_labels"], "int32"), [-1])
            nsp_loss = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, nsp_logits, from_logits=True))
            total = total + nsp_loss / replicas
            self.nsp_loss_tracker.update_state(nsp_loss, sample_weight=ops.cast(ops.shape(labels)[0], "float32"))
        for extra in self.losses:  # regularisation, if any
            total = total + ops.cast(extra, "float32") / replicas
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if getattr(self, "_bert_loss", True):
            self.mlm_accuracy.update_state(y["masked_lm_ids"], y_pred["mlm_logits"],
                                           sample_weight=y["masked_lm_weights"])
            if self.next_sentence:
                labels = ops.reshape(y["next_sentence_labels"], [-1])
                self.nsp_accuracy.update_state(labels, y_pred["nsp_logits"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # --- checkpoints ----------------------------------------------------------------
    @classmethod
    def from_preset(cls, preset, next_sentence=None, load_weights=True, strict=False, **overrides):
        """Builds a pretrainer of a pretrained checkpoint: backbone and heads loaded.

        The masked-LM head (`cls/predictions/*`) and next-sentence head
        (`cls/seq_relationship/*`) come from the checkpoint when it has them.

        Args:
            preset: a published checkpoint name or a checkpoint directory / file of any
                format (see `BertBackbone.from_preset`).
            next_sentence: build the next-sentence head; default: when the checkpoint
                has one (or has no heads at all).
            load_weights: False builds the architecture only (random weights).
            strict: raise instead of warning on unused tensors or missing weights.
            **overrides: `BertBackbone` arguments to change (e.g. `dtype`).

        Example:
        >>> pretrainer = BertPretrainer.from_preset(pretrainer_file)  # heads included
        >>> sorted(pretrainer.output)
        ['mlm_logits', 'nsp_logits']
        """
        return cls.from_contents(read_preset(preset), next_sentence, load_weights, strict, **overrides)

    @classmethod
    def from_contents(cls, contents, next_sentence=None, load_weights=True, strict=False, **overrides):
        """`from_preset` on checkpoint contents already read (`checkpoints.presets.read_preset`)."""
        if next_sentence is None:
            next_sentence = contents.has_next_sentence_head or not contents.has_masked_lm_head
        backbone = BertBackbone.from_contents(contents, load_weights=False, **overrides)
        pretrainer = cls(backbone, next_sentence=next_sentence)
        if load_weights:
            load_report.load_weights(pretrainer, contents, strict=strict)
        return pretrainer

    # --- serialization --------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        del config["preprocessor"]  # pre-training reads records, not raw text
        config["next_sentence"] = self.next_sentence
        return config

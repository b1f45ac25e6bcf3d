"""The pieces of a BERT pre-training run, for `recipes/pretrain.py` and your own scripts.

A run is: the data (`PretrainingData`, from TFRecords or from text masked on the fly), a
`BertPretrainer` (`build_pretrainer`) compiled with BERT's optimizer, `resumable_fit`
(killed and restarted, it continues exactly), a held-out evaluation before and after with
the most-frequent-token baseline (`HeldOutEvaluation`), and the outputs
(`save_pretraining_outputs`). Each piece is one call; `recipes/pretrain.py` shows them
together.

The paper's two-phase schedule (appendix A.2) is two runs: 90% of the steps at length
128 (`max_predictions_per_seq=20`), then 10% at 512 (80) from the first run's
`pretrainer.keras` (`build_pretrainer(init_checkpoint=...)`) with a fresh optimizer and
warm-up. Position embeddings are 512 long from the start, so phase 2 trains the
positions beyond 128 that phase 1 never saw.

Example:
>>> tokenizer = BertTokenizer(vocab_file)
>>> data = PretrainingData.from_text([text_file], tokenizer, batch_size=2, seq_length=32,
...                                  max_predictions_per_seq=4)
>>> model = build_pretrainer(tokenizer.vocabulary_size(), architecture="bert_tiny")
>>> model.compile(optimizer=create_optimizer(1e-3, total_steps=2))
>>> history = model.fit(data.dataset(0), steps_per_epoch=2, epochs=1, verbose=0)
>>> sorted(history.history)
['loss', 'mlm_accuracy', 'mlm_loss', 'nsp_accuracy', 'nsp_loss']
"""

import dataclasses
import json
import os

import tensorflow as tf

from keras_bert_pkg.atomic_files import atomic_path, atomic_write
from keras_bert_pkg.checkpoints.tf1 import config_from_bert_config
from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary
from keras_bert_pkg.data.masked_lm_baseline import most_frequent_token_baseline
from keras_bert_pkg.data.pretraining_documents import read_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary, create_training_instances
from keras_bert_pkg.data.pretraining_records import (count_records, expand_file_patterns, inspect_record_file,
                                                     instances_dataset, pretraining_record_dataset)
from keras_bert_pkg.data.pretraining_stream import pretraining_stream_dataset
from keras_bert_pkg.distribute.input_sharding import distribute_file_dataset, shard_dataset
from keras_bert_pkg.distribute.strategy_info import is_chief
from keras_bert_pkg.models.bert_architectures import architecture_config
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
from keras_bert_pkg.training.run_artifacts import plot_history, write_metrics


@dataclasses.dataclass
class PretrainingData:
    """The training input of a pre-training run, positioned at any step.

    Build it with `from_records` or `from_text`. `dataset(step)` is the global-batch
    dataset skipping `step` batches (deterministic, so a resumed run continues on exactly
    the batches an uninterrupted run would see); `distributed(strategy, step)` is what to
    give `fit` under a strategy (TFRecords sharded by FILE between workers, generated data
    by DATA).

    Attributes:
        source: what the data is, for `metrics.json`.
        seq_length, max_predictions_per_seq: the lengths (records: read from them).
    """

    source: dict
    seq_length: int
    max_predictions_per_seq: int
    _make: object
    _files: list = None

    @classmethod
    def from_records(cls, file_patterns, batch_size, seq_length=None, max_predictions_per_seq=None,
                     seed=0, shuffle_buffer=10000, left_to_right=False):
        """TFRecords of `create_pretraining_data` (or of the original tool)."""
        files = expand_file_patterns(file_patterns)

        def make(files_to_read, batch, skip):
            return pretraining_record_dataset(
                files_to_read, batch, seq_length=seq_length,
                max_predictions_per_seq=max_predictions_per_seq, shuffle=True,
                shuffle_buffer=shuffle_buffer, seed=seed, skip_batches=skip,
                left_to_right=left_to_right)

        lengths, _ = inspect_record_file(files[0])
        records = count_records(files)  # one read of every file: a cut file is named before training
        return cls({"input_files": files, "batch_size": batch_size, "records": records},
                   lengths["input_ids"], lengths["masked_lm_ids"],
                   lambda step: make(files, batch_size, step), (files, make))

    @classmethod
    def from_text(cls, paths, tokenizer, batch_size, seq_length=128, max_predictions_per_seq=20,
                  text_format="auto", document_range=None, seed=0, short_seq_prob=0.1,
                  masked_lm_prob=0.15, whole_word_masking=False, shuffle_buffer=1000,
                  left_to_right=False):
        """Raw text masked on the fly: fresh pairs and masks on every pass."""
        documents = read_documents(expand_file_patterns(paths), tokenizer, text_format, document_range)
        vocab = MaskingVocabulary.from_tokenizer(tokenizer)

        def make(step):
            return pretraining_stream_dataset(
                documents, vocab, batch_size, seq_length=seq_length,
                max_predictions_per_seq=max_predictions_per_seq, seed=seed,
                short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob,
                whole_word_masking=whole_word_masking, shuffle_buffer=shuffle_buffer,
                skip_batches=step, left_to_right=left_to_right)

        return cls({"text": expand_file_patterns(paths), "documents": len(documents)},
                   seq_length, max_predictions_per_seq, make)

    def dataset(self, step=0):
        """The global-batch training dataset, `step` batches in."""
        return self._make(step)

    def distributed(self, strategy, step=0):
        """What `fit` trains on under `strategy`, `step` batches in."""
        if self._files is None:
            return shard_dataset(self.dataset(step), "data")
        files, make = self._files
        return distribute_file_dataset(strategy, files, make, self.source["batch_size"], step)


def heldout_dataset(tokenizer, batch_size, input_files=None, text=None, text_format="auto",
                    document_range=None, seq_length=128, max_predictions_per_seq=20, seed=0,
                    left_to_right=False):
    """A fixed held-out set: TFRecords read once, or text made into masked pairs once
    (with `seed + 1`, so its masks are not the training stream's)."""
    if (input_files is None) == (text is None):
        raise ValueError("give exactly one of input_files and text for the held-out set.")
    if input_files is not None:
        ds = pretraining_record_dataset(input_files, batch_size, shuffle=False, repeat=False,
                                        drop_remainder=False, left_to_right=left_to_right)
    else:
        documents = read_documents(expand_file_patterns(text), tokenizer, text_format, document_range)
        instances = create_training_instances(
            documents, MaskingVocabulary.from_tokenizer(tokenizer), max_seq_length=seq_length,
            dupe_factor=1, max_predictions_per_seq=max_predictions_per_seq, seed=seed + 1)
        ds = instances_dataset(instances, batch_size, seq_length, max_predictions_per_seq,
                               left_to_right=left_to_right)
    return shard_dataset(ds, "data")  # small sets (often one file): every worker reads it


def backbone_config(vocabulary_size, architecture=None, config_file=None, **overrides):
    """`BertBackbone` arguments: a named architecture, or a JSON file of our arguments or
    a Google `bert_config.json` (its `"gelu"` is the tanh form)."""
    if (architecture is None) == (config_file is None):
        raise ValueError("give exactly one of architecture and config_file.")
    if architecture is not None:
        config = architecture_config(architecture)
    else:
        with open(config_file, encoding="utf-8") as f:
            raw = json.load(f)
        if "hidden_size" in raw:
            config = config_from_bert_config(raw, source=config_file)
        else:
            unknown = sorted(set(raw) - set(architecture_config("bert_tiny")) - {"causal", "name"})
            if unknown:
                raise ValueError(f"{config_file}: unknown BertBackbone argument(s) {unknown}.")
            config = raw
    return {**config, "vocabulary_size": vocabulary_size, **overrides}


def build_pretrainer(vocabulary_size, architecture=None, config_file=None, init_checkpoint=None,
                     next_sentence=True, left_to_right=False, dropout=None):
    """A `BertPretrainer` of fresh weights, or of a checkpoint's (phase 2, or continued
    pre-training of a published model).

    Args:
        vocabulary_size: the tokenizer's vocabulary size.
        architecture, config_file: the backbone's size (see `backbone_config`).
        init_checkpoint: start from this checkpoint (any format, e.g. phase 1's
            `pretrainer.keras`) instead; its heads are loaded when it has them.
        next_sentence: False for the paper's "No NSP" ablation.
        left_to_right: the "LTR & No NSP" ablation (a causal backbone; needs
            `next_sentence=False`).
        dropout: override the backbone's dropout.
    """
    if left_to_right and next_sentence:
        raise ValueError("left_to_right needs next_sentence=False (the paper's 'LTR & No NSP').")
    overrides = {"causal": bool(left_to_right)}
    if dropout is not None:
        overrides["dropout"] = float(dropout)
    if init_checkpoint:
        model = BertPretrainer.from_preset(init_checkpoint, next_sentence=next_sentence, **overrides)
        if model.backbone.vocabulary_size != vocabulary_size:
            raise ValueError(f"{init_checkpoint} has {model.backbone.vocabulary_size} token "
                             f"embeddings, the vocabulary {vocabulary_size} tokens.")
        return model
    backbone = BertBackbone(**backbone_config(vocabulary_size, architecture, config_file, **overrides))
    return BertPretrainer(backbone, next_sentence=next_sentence)


class HeldOutEvaluation:
    """Masked-LM and next-sentence scores on a held-out set before and after training.

    `before(model)` evaluates once per run folder: a resumed run reads the figure of its
    first start from `<folder>/initial_eval.json` instead of evaluating a trained model.
    `after(model, train_dataset)` adds the most-frequent-token baseline (the accuracy of
    always predicting the commonest masked token of the training data).

    Args:
        dataset: the held-out dataset (`heldout_dataset`).
        folder: the run folder.
        steps: evaluation batches (None: all).
    """

    def __init__(self, dataset, folder, steps=None):
        dataset = dataset if steps is None else dataset.take(steps)
        # Counted once, so that Keras knows the set's length (a finite set of unknown
        # length ends each evaluation with Keras's "ran out of data" warning).
        batches = int(dataset.reduce(0, lambda count, _: count + 1))
        self.dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
        self.steps = steps
        self.path = os.path.join(folder, "initial_eval.json")

    def evaluate(self, model):
        return model.evaluate(self.dataset, return_dict=True, verbose=0)

    def before(self, model, fresh):
        """The held-out scores of the untrained model (`fresh`: no checkpoint yet)."""
        if not fresh and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        scores = self.evaluate(model)
        if is_chief(model.distribute_strategy):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with atomic_write(self.path) as f:
                json.dump(scores, f, default=float)
        return scores

    def after(self, model, train_dataset, tokenizer, baseline_batches=100):
        """`{"final_eval", "most_frequent_token_baseline"}` of the trained model."""
        baseline = most_frequent_token_baseline(
            train_dataset, self.dataset, tokenizer.vocabulary_size(),
            max_train_batches=baseline_batches, max_eval_batches=self.steps)
        baseline["token"] = tokenizer.id_to_token(baseline["token_id"])
        return {"final_eval": self.evaluate(model), "most_frequent_token_baseline": baseline}


def save_pretraining_outputs(model, tokenizer, folder, metrics, title="BERT pre-training"):
    """Writes a run's outputs: `metrics.json`, `pretraining_curves.png` (loss, masked-LM
    and next-sentence accuracy against the step), `pretrainer.keras`, `backbone.keras`
    and `vocab.txt`."""
    write_metrics(folder, metrics)
    if metrics.get("history"):
        plot_history(metrics["history"], os.path.join(folder, "pretraining_curves.png"), title=title)
    for saved, name in ((model, "pretrainer.keras"), (model.backbone, "backbone.keras")):
        with atomic_path(os.path.join(folder, name)) as tmp:
            saved.save(tmp)
    write_vocabulary(tokenizer.get_vocabulary(), os.path.join(folder, "vocab.txt"))

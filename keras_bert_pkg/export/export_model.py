"""`export_model(model, export_dir, ...)`: SavedModels for TF Serving, with the tokenizer inside.

One call writes two SavedModels in TF Serving's layout, each version written to a
temporary directory and renamed into place (see `serving_layout`):

- `<export_dir>/<name>/<version>/`: the text model. Signatures `serving_default`
  (raw strings in, tokenized in the graph, named task outputs), `serve_token_ids` and
  `serve_examples`. Its graph holds one op outside core TensorFlow, TensorFlow Text's
  `FastWordpieceTokenizeWithOffsets`, which the stock TF Serving model server links
  (TensorFlow Text's op library is part of it); a Python process loading it must
  `import tensorflow_text` first.
- `<export_dir>/<name>_token_ids/<version>/`: the same model with `serving_default`
  = `serve_token_ids`, plus `serve_examples`, and core TensorFlow ops only. A SavedModel
  is loaded whole (every function in it must have its ops registered), so the token-id
  signatures live in a model of their own for servers and processes that cannot load
  TensorFlow Text (custom server builds, other runtimes, environments without the
  package).

Both carry the vocabulary as an asset (`assets/vocab.txt`, also `loaded.vocabulary_file`),
the labels when given (`assets/labels.txt`), TF Serving warm-up requests
(`assets.extra/tf_serving_warmup_requests`) and `assets.extra/export_info.json`
(signatures, their inputs and outputs, the ops outside core TensorFlow).
"""

import dataclasses
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_bert_pkg.checkpoints.vocabulary_file import write_vocabulary
from keras_bert_pkg.export import example_parsing, op_report, serving_layout, warmup
from keras_bert_pkg.export.backbone_signatures import BackboneSignatures
from keras_bert_pkg.export.classifier_signatures import ClassifierSignatures
from keras_bert_pkg.export.multiple_choice_signatures import MultipleChoiceSignatures
from keras_bert_pkg.export.span_labeler_signatures import SpanLabelerSignatures
from keras_bert_pkg.export.token_classifier_signatures import TokenClassifierSignatures
from keras_bert_pkg.models.bert_backbone import BertBackbone
from keras_bert_pkg.models.bert_classifier import BertClassifier
from keras_bert_pkg.models.bert_multiple_choice import BertMultipleChoice
from keras_bert_pkg.models.bert_span_labeler import BertSpanLabeler
from keras_bert_pkg.models.bert_token_classifier import BertTokenClassifier
from keras_bert_pkg.text import text_packing
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

TOKEN_IDS_SUFFIX = "_token_ids"
_BUILDERS = ((BertBackbone, BackboneSignatures), (BertClassifier, ClassifierSignatures),
             (BertMultipleChoice, MultipleChoiceSignatures))


@dataclasses.dataclass
class ExportResult:
    """What `export` wrote.

    Attributes:
        name: the model name (the directory under `export_dir`).
        version: the integer version written.
        path: the text model's version directory.
        token_ids_path: the core-ops-only model's version directory (or None).
        signatures: `{signature name: {"inputs": [...], "outputs": [...]}}` of the text
            model.
        non_core_ops: ops of the text model outside core TensorFlow.
    """

    name: str
    version: int
    path: str
    token_ids_path: str
    signatures: dict
    non_core_ops: list


def signature_builder(model, tokenizer, sequence_length, labels=None, text_inputs=None,
                      decoding=None):
    """The `TaskSignatures` builder for a model, chosen by its class; `decoding` is the
    span labeler's `SpanDecoding` or the token classifier's `TagDecoding`."""
    if isinstance(model, BertSpanLabeler):
        return SpanLabelerSignatures(model, tokenizer, sequence_length, labels, text_inputs, decoding)
    if isinstance(model, BertTokenClassifier):
        return TokenClassifierSignatures(model, tokenizer, sequence_length, labels, text_inputs, decoding)
    if decoding is not None:
        raise ValueError(f"export: decoding options are for a BertSpanLabeler or a BertTokenClassifier, "
                         f"not a {type(model).__name__}.")
    for model_class, builder_class in _BUILDERS:
        if isinstance(model, model_class):
            return builder_class(model, tokenizer, sequence_length, labels, text_inputs)
    raise TypeError(
        f"export: no serving signatures for {type(model).__name__}; expected a BertBackbone, "
        "BertClassifier, BertSpanLabeler, BertTokenClassifier or BertMultipleChoice.")


def _resolve_tokenizer(model, tokenizer):
    if tokenizer is None:
        preprocessor = getattr(model, "preprocessor", None)
        tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None:
        raise ValueError(
            f"export: {type(model).__name__} has no preprocessor; pass tokenizer= (a "
            "BertTokenizer or the path of its vocab.txt).")
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = BertTokenizer(str(tokenizer))
    return tokenizer


def _resolve_sequence_length(model, sequence_length):
    backbone = getattr(model, "backbone", model)
    maximum = int(backbone.max_sequence_length)
    if sequence_length is None:
        preprocessor = getattr(model, "preprocessor", None)
        sequence_length = getattr(preprocessor, "sequence_length", None) or maximum
    sequence_length = int(sequence_length)
    if not 3 <= sequence_length <= maximum:
        raise ValueError(f"export: sequence_length must be between 3 and the backbone's "
                         f"max_sequence_length {maximum}, got {sequence_length}.")
    return sequence_length


class _Functions:
    """The three tf.functions of a builder."""

    def __init__(self, builder):
        self.builder = builder

        def serve_token_ids(token_ids, segment_ids, padding_mask):
            inputs = builder.check_token_inputs(
                {"token_ids": token_ids, "segment_ids": segment_ids,
                 "padding_mask": padding_mask}, "serve_token_ids")
            return builder.token_outputs(inputs)

        def serve_examples(examples):
            inputs = example_parsing.parse_examples(examples, builder.num_choices)
            return builder.token_outputs(builder.check_token_inputs(inputs, "serve_examples"))

        names = builder.text_inputs

        def serve_text(*texts):
            return builder.text_outputs(dict(zip(names, texts)))

        self.token_ids = tf.function(serve_token_ids, input_signature=builder.token_specs(),
                                     autograph=False)
        self.examples = tf.function(
            serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
            autograph=False)
        self.text = tf.function(serve_text, input_signature=builder.text_specs(), autograph=False)


def _warmup_token_inputs(builder, texts):
    """Valid token-id inputs (one example) packed from the warm-up text, as the text
    signature packs it."""
    strings = [tf.constant(np.asarray(texts[n], dtype=object)[:1]) for n in builder.text_inputs]
    if builder.num_choices is not None:
        packed = text_packing.pack_choices(builder.tokenizer, strings[0], strings[1],
                                           builder.sequence_length)
    else:
        packed = text_packing.pack_texts(builder.tokenizer, strings, builder.sequence_length)
    return {key: np.asarray(value, np.int32) for key, value in text_packing.model_inputs(packed).items()}


def _signature_io(concrete):
    inputs = sorted(s.name for s in tf.nest.flatten(concrete.structured_input_signature)
                    if isinstance(s, tf.TensorSpec))
    return {"inputs": inputs, "outputs": sorted(concrete.structured_outputs)}


def _write_savedmodel(path, functions, signatures, vocabulary, labels):
    concretes = {name: getattr(functions, attr).get_concrete_function()
                 for name, attr in signatures.items()}
    root = tf.Module()
    seen = set()
    variables = []
    for concrete in concretes.values():
        for v in concrete.variables:
            if id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
    root.model_variables = variables
    for attr in set(signatures.values()):
        setattr(root, attr, getattr(functions, attr))
    files = tempfile.mkdtemp(prefix="keras_bert_pkg_assets_")
    try:
        vocab_path = write_vocabulary(vocabulary, os.path.join(files, "vocab.txt"))
        root.vocabulary_file = tf.saved_model.Asset(vocab_path)
        if labels is not None:
            labels_path = os.path.join(files, "labels.txt")
            with open(labels_path, "w", encoding="utf-8") as f:
                f.write("".join(label + "\n" for label in labels))
            root.labels_file = tf.saved_model.Asset(labels_path)
        tf.saved_model.save(root, path, signatures=concretes)
    finally:
        shutil.rmtree(files, ignore_errors=True)
    return {name: _signature_io(c) for name, c in concretes.items()}


def export_model(model, export_dir="savedmodels", name=None, *, version=None, tokenizer=None,
           sequence_length=None, labels=None, text_inputs=None, token_ids_model=True,
           warmup_inputs=None, decoding=None):
    """Exports a BERT model as TF Serving SavedModels (raw text and token ids).

    Args:
        model: a `BertBackbone` (embeddings), `BertClassifier`, `BertSpanLabeler`,
            `BertTokenClassifier` or `BertMultipleChoice`.
        export_dir: the TF Serving root (`savedmodels/`); versions go to
            `<export_dir>/<name>/<version>/`.
        name: the model name (default by task: `embeddings`, `classifier`, `squad`,
            `ner`, `multiple_choice`).
        version: the integer version (default: one more than the highest existing in
            either variant); an existing version is never overwritten.
        tokenizer: the `BertTokenizer` (or the path of its vocab.txt) when the model
            has no preprocessor.
        sequence_length: the longest packed input (default: the preprocessor's, else
            the backbone's `max_sequence_length`). Text is truncated to it; token-id
            inputs longer than it are rejected. Shorter inputs run at their own length.
        labels: class names (classifier, multiple choice: optional) or tag names in id
            order (token classifier: required).
        text_inputs: names of the text inputs of `serving_default` (default `text`;
            `question`, `context` for SQuAD; `context`, `endings` for multiple choice);
            two names make a classifier or backbone take sentence pairs.
        token_ids_model: also write `<name>_token_ids`, the core-ops-only model.
        warmup_inputs: `{text input name: list of strings}` for the warm-up requests
            (default: a built-in sentence or two).
        decoding: how a `BertSpanLabeler` answers (`SpanDecoding`: doc stride, question
            and answer lengths, n-best size, `top_k`, the v2.0 `null_score_diff_threshold`,
            the longest context) or how a `BertTokenClassifier` tags (`TagDecoding`: window
            stride, sub-token `aggregation`, `constrained` IOB2 decoding, the longest text);
            default: their defaults.

    Returns:
        An `ExportResult` (paths, version, signatures, ops outside core TensorFlow).

    Example:
    >>> classifier = BertClassifier.from_preset(checkpoint_dir, num_classes=2)
    >>> result = export_model(classifier, export_dir, "sst2", labels=["negative", "positive"])
    >>> os.path.relpath(result.path, export_dir), result.non_core_ops
    ('sst2/1', ['FastWordpieceTokenizeWithOffsets'])
    """
    if not getattr(model, "built", False):
        raise ValueError("export: the model is not built; call it on inputs once first.")
    tokenizer = _resolve_tokenizer(model, tokenizer)
    sequence_length = _resolve_sequence_length(model, sequence_length)
    builder = signature_builder(
        model, tokenizer, sequence_length, labels=labels, text_inputs=text_inputs, decoding=decoding)
    name = name or builder.default_name
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(f"export: invalid model name {name!r}.")
    functions = _Functions(builder)

    texts = warmup_inputs if warmup_inputs is not None else builder.warmup_texts()
    missing = set(builder.text_inputs) - set(texts)
    if missing:
        raise ValueError(f"export: warmup_inputs lacks the text inputs {sorted(missing)}.")
    texts = {n: np.asarray(texts[n], dtype=object) for n in builder.text_inputs}
    token_inputs = _warmup_token_inputs(builder, texts)
    examples = np.array([example_parsing.make_example(
        token_inputs["token_ids"][0], token_inputs["segment_ids"][0],
        token_inputs["padding_mask"][0])], dtype=object)
    token_requests = [("serve_token_ids", token_inputs), ("serve_examples", {"examples": examples})]

    base = os.path.join(export_dir, name)
    token_base = os.path.join(export_dir, name + TOKEN_IDS_SUFFIX)
    if version is None:
        version = serving_layout.next_version(base, token_base) if token_ids_model else \
            serving_layout.next_version(base)
    vocabulary = tokenizer.get_vocabulary()
    info = {
        "name": name, "model_class": type(model).__name__, "sequence_length": sequence_length,
        "lowercase": bool(getattr(tokenizer, "lowercase", True)),
        "labels": builder.labels, "text_inputs": list(builder.text_inputs),
        "example_features": list(example_parsing.FEATURE_NAMES),
        "num_choices": builder.num_choices, "outputs": builder.output_docs(),
        "decoding": builder.options(),
        "tensorflow": tf.__version__,
    }
    written = {}

    def write(variant, signatures, requests):
        def write_fn(tmp):
            io = _write_savedmodel(tmp, functions, signatures, vocabulary, builder.labels)
            warmup.write_warmup_requests(tmp, requests, model_name=variant_name)
            extra = dict(info, variant=variant, version=version, signatures=io,
                         non_core_ops=op_report.non_core_ops(tmp))
            with open(os.path.join(tmp, "assets.extra", "export_info.json"), "w",
                      encoding="utf-8") as f:
                json.dump(extra, f, indent=1)
            written[variant] = extra

        variant_name = name if variant == "text" else name + TOKEN_IDS_SUFFIX
        return serving_layout.write_version(
            os.path.join(export_dir, variant_name), write_fn, version)[1]

    path = write("text", {"serving_default": "text", "serve_token_ids": "token_ids",
                          "serve_examples": "examples"},
                 [("serving_default", texts)] + token_requests)
    token_path = None
    if token_ids_model:
        token_path = write("token_ids", {"serving_default": "token_ids",
                                         "serve_token_ids": "token_ids",
                                         "serve_examples": "examples"},
                           [("serving_default", token_inputs)] + token_requests)
    return ExportResult(name=name, version=version, path=path, token_ids_path=token_path,
                        signatures=written["text"]["signatures"],
                        non_core_ops=written["text"]["non_core_ops"])

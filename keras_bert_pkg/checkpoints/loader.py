"""One entry point for every checkpoint format: `load_checkpoint` and `save_checkpoint`.

`load_checkpoint(path)` detects the format (`detect_format`), reads the checkpoint's own
configuration, builds a `BertBackbone` (or `BertPretrainer`) of that shape and assigns
every weight, reporting unused and missing tensors. A name from the registry of published
checkpoints (e.g. `"bert_base_uncased"`) is downloaded once into the cache first.

Example:
>>> backbone = load_checkpoint("../shared/data/weights/all-MiniLM-L6-v2")  # doctest: +SKIP
>>> backbone.hidden_activation  # doctest: +SKIP
'gelu'
"""

import glob
import os

from keras_bert_pkg.checkpoints.load_report import LoadReport, assign_tensors
from keras_bert_pkg.checkpoints.weight_map import backbone_weight_map, heads_weight_map

FORMATS = ("hf", "tf1", "keras_hub", "model_garden", "keras")

EXPECTED_FILES = (
    "Expected one of: a Hugging Face directory (config.json + model.safetensors, "
    "model.safetensors.index.json or pytorch_model.bin); a Google TF1 directory "
    "(bert_config.json + bert_model.ckpt.index + bert_model.ckpt.data-*); a Model Garden "
    "TF2 directory (bert_config.json + a tf.train.Checkpoint *.index/*.data-*); a keras-hub "
    "preset directory (config.json naming keras_hub + model.weights.h5); a .keras file; or "
    "a published checkpoint name (see keras_bert_pkg.checkpoints.registry.list_checkpoints())."
)


def find_tf_checkpoint(directory):
    """The checkpoint prefix inside a directory (via its `checkpoint` file or `*.index`)."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(directory)
    if latest:
        return latest
    indexes = sorted(glob.glob(os.path.join(directory, "*.index")))
    if not indexes:
        return None
    preferred = [p for p in indexes if os.path.basename(p) == "bert_model.ckpt.index"]
    if preferred:
        return preferred[0][: -len(".index")]
    if len(indexes) > 1:
        raise ValueError(
            f"{directory}: several checkpoints ({[os.path.basename(p) for p in indexes]}) and no "
            "'checkpoint' file saying which is current; pass the prefix of one of them."
        )
    return indexes[0][: -len(".index")]


def tf_checkpoint_kind(prefix):
    """`"tf1"` for name-based (Google) checkpoints, `"model_garden"` for object-based ones."""
    import tensorflow as tf

    names = [name for name, _ in tf.train.list_variables(prefix)]
    if any(name.startswith(("bert/", "cls/")) for name in names):
        return "tf1"
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in names:
        return "model_garden"
    raise ValueError(
        f"{prefix}: a TensorFlow checkpoint, but neither Google BERT names (bert/...) nor a "
        "TF2 object graph were found in it."
    )


def detect_format(path):
    """Returns the checkpoint format of `path`: one of `FORMATS`.

    Raises:
        FileNotFoundError: when `path` matches no format, saying which files were expected.
    """
    from keras_bert_pkg.checkpoints import hf
    from keras_bert_pkg.checkpoints.keras_hub import is_keras_hub_preset

    path = os.fspath(path)
    if os.path.isfile(path):
        if path.endswith(".keras"):
            return "keras"
        if path.endswith((".safetensors", ".bin", ".safetensors.index.json")):
            return "hf"
        if path.endswith(".h5") and is_keras_hub_preset(os.path.dirname(path) or "."):
            return "keras_hub"
        if path.endswith(".index"):
            return tf_checkpoint_kind(path[: -len(".index")])
        if os.path.basename(path) in ("config.json", "bert_config.json"):
            return detect_format(os.path.dirname(path) or ".")
    elif os.path.isdir(path):
        if is_keras_hub_preset(path):
            return "keras_hub"
        if hf.is_hf_directory(path):
            return "hf"
        prefix = find_tf_checkpoint(path)
        if prefix:
            return tf_checkpoint_kind(prefix)
        present = sorted(os.listdir(path))[:20]
        raise FileNotFoundError(f"{path}: not a BERT checkpoint directory (it holds {present}). {EXPECTED_FILES}")
    elif os.path.isfile(path + ".index"):
        return tf_checkpoint_kind(path)
    raise FileNotFoundError(f"{path}: no such file or directory. {EXPECTED_FILES}")


def read_contents(path, format):
    """Reads `path` (of a known `format`, not "keras") into `CheckpointContents`."""
    if format == "hf":
        from keras_bert_pkg.checkpoints.hf import read_hf

        return read_hf(path)
    if format == "tf1":
        from keras_bert_pkg.checkpoints.tf1 import read_tf1

        return read_tf1(path)
    if format == "keras_hub":
        from keras_bert_pkg.checkpoints.keras_hub import read_keras_hub

        return read_keras_hub(path)
    if format == "model_garden":
        from keras_bert_pkg.checkpoints.model_garden import read_model_garden

        return read_model_garden(path)
    raise ValueError(f"Unknown checkpoint format {format!r}; expected one of {FORMATS}.")


def _load_keras_file(path, model):
    import keras

    loaded = keras.models.load_model(path)
    report = LoadReport(path, "keras")
    report.loaded = [w.path for w in loaded.weights]
    is_pretrainer = _has_layer(loaded, "masked_lm_head")
    if model == "pretrainer" and not is_pretrainer:
        raise ValueError(f"{path}: holds a {type(loaded).__name__}, not a BertPretrainer.")
    if hasattr(loaded, "backbone") and (model == "backbone" or (model == "auto" and not is_pretrainer)):
        loaded = loaded.backbone  # a task model: its backbone is the checkpoint part
    return loaded, report


def _has_layer(model, name):
    try:
        model.get_layer(name)
        return True
    except ValueError:
        return False


def build_from_contents(contents, model="backbone", strict=False, next_sentence=None, **overrides):
    """Builds a model of the checkpoint's configuration and assigns its tensors.

    Args:
        contents: `CheckpointContents` from a format reader.
        model: `"backbone"`, `"pretrainer"`, or `"auto"` (the pretrainer when the
            checkpoint has the masked-LM head).
        strict: raise instead of warning when tensors are unused or weights missing.
        next_sentence: for a pretrainer, whether to build the next-sentence head;
            default: when the checkpoint has it.
        **overrides: `BertBackbone` arguments to change (e.g. `dtype`, `dropout`,
            `return_all_layers`).

    Returns:
        `(model, LoadReport)`.
    """
    from keras_bert_pkg.models.bert_backbone import BertBackbone

    if model == "auto":
        model = "pretrainer" if contents.has_masked_lm_head else "backbone"
    config = dict(contents.config)
    config.update(overrides)
    backbone = BertBackbone(**config)
    entries = backbone_weight_map(backbone)
    result = backbone
    if model == "pretrainer":
        from keras_bert_pkg.models.bert_pretrainer import BertPretrainer

        if next_sentence is None:
            next_sentence = contents.has_next_sentence_head or not contents.has_masked_lm_head
        result = BertPretrainer(backbone, next_sentence=next_sentence)
        entries = entries + heads_weight_map(result)
    elif model != "backbone":
        raise ValueError(f"model must be 'backbone', 'pretrainer' or 'auto', got {model!r}.")
    report = LoadReport(contents.source, contents.format)
    report.ignored.update(contents.ignored)
    if model == "backbone" and (contents.has_masked_lm_head or contents.has_next_sentence_head):
        report.hint = (
            "The checkpoint's pre-training heads are not part of a BertBackbone; "
            "BertPretrainer.from_checkpoint loads them too."
        )
    assign_tensors(entries, contents.tensors, report, names=contents.own_name)
    report.check(strict=strict)
    return result, report


def load_checkpoint(path, model="backbone", format=None, strict=False, return_report=False, **kwargs):
    """Loads a BERT checkpoint of any supported format (or a published name).

    Args:
        path: a checkpoint directory, file or prefix (see `detect_format`), or a name
            from `registry.list_checkpoints()` such as `"bert_base_uncased"`.
        model: `"backbone"` (a `BertBackbone`), `"pretrainer"` (a `BertPretrainer`
            with the masked-LM and next-sentence heads), or `"auto"` (the pretrainer when
            the checkpoint has the masked-LM head).
        format: skip detection and read as this format.
        strict: raise `CheckpointMismatchError` instead of warning when the checkpoint
            has unused tensors or the model has weights without a tensor.
        return_report: also return the `LoadReport`.
        **kwargs: `next_sentence` (pretrainer) and `BertBackbone` overrides.

    Returns:
        The model, or `(model, report)` with `return_report=True`.
    """
    path = os.fspath(path)
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        from keras_bert_pkg.checkpoints import registry

        if registry.is_known(path):
            path = registry.fetch(path)
    format = format or detect_format(path)
    if format == "keras":
        result, report = _load_keras_file(path, model)
    else:
        result, report = build_from_contents(read_contents(path, format), model=model, strict=strict, **kwargs)
    return (result, report) if return_report else result


def save_checkpoint(model, path, format, vocabulary=None):
    """Writes a `BertBackbone` or `BertPretrainer` as `"hf"`, `"tf1"`, `"keras_hub"` or `"keras"`.

    Args:
        model: the model to write.
        path: output directory (or `.keras` file for `"keras"`).
        format: the target format.
        vocabulary: optional `vocab.txt` path or token list written beside the weights.
    """
    if format == "hf":
        from keras_bert_pkg.checkpoints.hf import save_hf

        return save_hf(model, path, vocabulary=vocabulary)
    if format == "tf1":
        from keras_bert_pkg.checkpoints.tf1 import save_tf1

        return save_tf1(model, path, vocabulary=vocabulary)
    if format == "keras_hub":
        from keras_bert_pkg.checkpoints.keras_hub import save_keras_hub

        return save_keras_hub(model, path, vocabulary=vocabulary)
    if format == "keras":
        if not str(path).endswith(".keras"):
            raise ValueError(f"A Keras model file must end in .keras, got {path!r}.")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        model.save(path)
        return path
    raise ValueError(f"Cannot write format {format!r}; expected 'hf', 'tf1', 'keras_hub' or 'keras'.")

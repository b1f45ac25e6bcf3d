"""TaskSignatures: the base of the per-task serving signature builders.

A builder knows one task model and turns it into three kinds of signature functions:

- `text_outputs(texts)`: raw strings in (tokenized and packed inside the graph), the
  task's named, human-facing outputs (`serving_default`);
- `token_outputs(inputs)`: the backbone's int32 input dict in (`serve_token_ids`, and
  `serve_examples` after parsing), the task's numeric outputs; core TensorFlow ops only;
- `warmup_texts()`: a small raw-text batch for TF Serving's warm-up requests.

Subclasses (one file per task) set `default_name` and override the output methods.
"""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.text import text_packing

TOKEN_INPUT_NAMES = text_packing.MODEL_INPUTS


class TaskSignatures:
    """Base of the per-task signature builders.

    Args:
        model: the Keras model (a `BertBackbone` or a task model).
        tokenizer: the `BertTokenizer` of the model.
        sequence_length: the longest packed input (the text signature truncates to it;
            the token-id signatures reject longer inputs).
        labels: class / tag names, or None.
        text_inputs: names of the text signature's string inputs (one or two).
    """

    default_name = "model"
    num_choices = None

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None):
        self.model = model
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.labels = list(labels) if labels is not None else None
        self.text_inputs = tuple(text_inputs or self.default_text_inputs())
        if not 1 <= len(self.text_inputs) <= 2 or len(set(self.text_inputs)) != len(self.text_inputs):
            raise ValueError(
                f"text_inputs must be one or two distinct names, got {self.text_inputs!r}.")
        overlap = set(self.text_inputs) & set(TOKEN_INPUT_NAMES)
        if overlap:
            raise ValueError(f"text_inputs may not reuse the token-id names {sorted(overlap)}.")

    # --- inputs -----------------------------------------------------------------------
    def default_text_inputs(self):
        return ("text",)

    def text_specs(self):
        """Named `tf.TensorSpec`s of the text signature's inputs."""
        return [tf.TensorSpec([None], tf.string, name=n) for n in self.text_inputs]

    def token_specs(self):
        """Named `tf.TensorSpec`s of the token-id signature's inputs."""
        shape = [None, None] if self.num_choices is None else [None, self.num_choices, None]
        return [tf.TensorSpec(shape, tf.int32, name=n) for n in TOKEN_INPUT_NAMES]

    def check_token_inputs(self, inputs, signature):
        """Asserts equal shapes and a length within `sequence_length` (clear errors)."""
        shape = tf.shape(inputs["token_ids"])
        checks = [
            tf.debugging.assert_equal(
                tf.shape(inputs[name]), shape,
                message=f"{signature}: `{name}` must have the shape of `token_ids`")
            for name in TOKEN_INPUT_NAMES[1:]
        ]
        checks.append(tf.debugging.assert_less_equal(
            shape[-1], self.sequence_length,
            message=f"{signature}: sequences are longer than the maximum "
                    f"{self.sequence_length} tokens"))
        with tf.control_dependencies(checks):
            return {name: tf.identity(tf.cast(inputs[name], tf.int32)) for name in TOKEN_INPUT_NAMES}

    # --- the model ----------------------------------------------------------------------
    def run_model(self, inputs):
        outputs = self.model(inputs, training=False)
        return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), outputs)

    # --- to override --------------------------------------------------------------------
    def outputs(self, inputs):
        """The named outputs of both signatures, from the int32 input dict (tasks whose
        text outputs differ override `text_outputs` and `token_outputs` instead)."""
        raise NotImplementedError

    def token_outputs(self, inputs):
        """Named outputs from the int32 input dict."""
        return self.outputs(inputs)

    def text_outputs(self, texts):
        """Named outputs from a dict of 1-D string tensors keyed by `text_inputs`."""
        packed = self.pack_texts([texts[n] for n in self.text_inputs])
        return self.outputs(text_packing.model_inputs(packed))

    def warmup_texts(self):
        """A dict of small numpy string batches for the text signature's warm-up."""
        sample = np.array(["This is an example sentence.", "Each sentence is converted."],
                          dtype=object)
        return {name: sample for name in self.text_inputs}

    def output_docs(self):
        """`{signature kind: {output name: description}}` for the export's docs."""
        return {}

    def options(self):
        """The task's decoding options, as a JSON-able dict for the export's docs."""
        return {}

    # --- shared helpers -----------------------------------------------------------------
    def tokenize(self, strings):
        return text_packing.tokenize(self.tokenizer, strings)

    def pack(self, segments):
        t = self.tokenizer
        return text_packing.pack(segments, t.cls_token_id, t.sep_token_id, t.pad_token_id)

    def pack_texts(self, strings):
        """Packs one or two string batches as `BertPreprocessor` does (core ops only)."""
        return text_packing.pack_texts(self.tokenizer, strings, self.sequence_length)

    def label_outputs(self, logits):
        """`logits`, `probabilities`, `label` (and `label_name` with labels)."""
        out = {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1),
               "label": tf.argmax(logits, axis=-1, output_type=tf.int32)}
        if self.labels is not None:
            out["label_name"] = tf.gather(tf.constant(self.labels, tf.string), out["label"])
        return out

"""MultipleChoiceSignatures: serving a `BertMultipleChoice` (SWAG)."""

import numpy as np
import tensorflow as tf

from keras_bert_pkg.export.task_signatures import TaskSignatures
from keras_bert_pkg.text import text_packing


class MultipleChoiceSignatures(TaskSignatures):
    """Signatures of a `BertMultipleChoice`.

    Text inputs: `context` string [batch] and `endings` string [batch, num_choices];
    each choice is packed as the pair `[CLS] context [SEP] ending [SEP]` (for SWAG the
    ending is the second sentence's start and the candidate ending joined by a space,
    as `data.swag.swag_features` does; `text_packing.pack_choices`). Token-id inputs are [batch, num_choices,
    length]. Outputs: `logits`, `probabilities` float32 [batch, num_choices] and
    `label` int32 [batch] (the chosen ending), plus `label_name` with `labels`.
    """

    default_name = "multiple_choice"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None):
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        self.num_choices = int(model.num_choices)
        if len(self.text_inputs) != 2:
            raise ValueError("Multiple choice takes two text inputs (context, endings), got "
                             f"{self.text_inputs!r}.")

    def default_text_inputs(self):
        return ("context", "endings")

    def text_specs(self):
        context, endings = self.text_inputs
        return [tf.TensorSpec([None], tf.string, name=context),
                tf.TensorSpec([None, self.num_choices], tf.string, name=endings)]

    def token_outputs(self, inputs):
        return self.label_outputs(self.run_model(inputs))

    def text_outputs(self, texts):
        context, endings = texts[self.text_inputs[0]], texts[self.text_inputs[1]]
        packed = text_packing.pack_choices(self.tokenizer, context, endings, self.sequence_length)
        return self.label_outputs(self.run_model(text_packing.model_inputs(packed)))

    def warmup_texts(self):
        endings = ["pushes the canoe into the water.", "eats the paddle.",
                   "paints the clouds.", "folds the canoe."]
        endings = (endings * self.num_choices)[:self.num_choices]
        return {self.text_inputs[0]: np.array(["A man kneels beside a canoe."], dtype=object),
                self.text_inputs[1]: np.array([endings], dtype=object)}

    def output_docs(self):
        return {"all": {"logits": "float32 [batch, num_choices]",
                        "probabilities": "float32 [batch, num_choices]: softmax over the choices",
                        "label": "int32 [batch]: index of the most probable choice"}}

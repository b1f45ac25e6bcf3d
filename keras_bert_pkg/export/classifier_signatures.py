"""ClassifierSignatures: serving a `BertClassifier` (classification or regression)."""

import tensorflow as tf

from keras_bert_pkg.export.task_signatures import TaskSignatures


class ClassifierSignatures(TaskSignatures):
    """Signatures of a `BertClassifier`.

    Classification outputs: `logits` and `probabilities` float32 [batch, classes],
    `label` int32 [batch] (the arg-max), plus `label_name` string [batch] when `labels`
    are given. Regression (`num_classes=1`, STS-B): `score` float32 [batch]. The text
    signature takes one string input (`text`) or a pair (`text_inputs=("sentence1",
    "sentence2")`, any two names).
    """

    default_name = "classifier"

    def __init__(self, model, tokenizer, sequence_length, labels=None, text_inputs=None):
        super().__init__(model, tokenizer, sequence_length, labels, text_inputs)
        if self.labels is not None and len(self.labels) != model.num_classes:
            raise ValueError(f"{len(self.labels)} labels given for a classifier with "
                             f"num_classes={model.num_classes}.")

    def outputs(self, inputs):
        logits = self.run_model(inputs)
        if self.model.num_classes == 1:
            return {"score": logits[:, 0]}
        return self.label_outputs(logits)

    def output_docs(self):
        if self.model.num_classes == 1:
            return {"all": {"score": "float32 [batch]: the regression output"}}
        docs = {"logits": "float32 [batch, classes]",
                "probabilities": "float32 [batch, classes]: softmax of the logits",
                "label": "int32 [batch]: the most probable class id"}
        if self.labels is not None:
            docs["label_name"] = f"string [batch]: the class name, one of {self.labels}"
        return {"all": docs}

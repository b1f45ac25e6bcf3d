"""BackboneSignatures: serving a bare `BertBackbone` for embeddings."""

from keras_bert_pkg.export.task_signatures import TaskSignatures


class BackboneSignatures(TaskSignatures):
    """Signatures of a `BertBackbone`: the pooled [CLS] embedding and the sequence.

    Outputs (every signature): `pooled_output` float32 [batch, hidden] (tanh pooler on
    [CLS]), `sequence_output` float32 [batch, length, hidden] (the last layer) and
    `padding_mask` int32 [batch, length] (1 for real tokens) to mean-pool with.
    The text signature takes one string input (`text`) or two (a pair) by
    `text_inputs`.
    """

    default_name = "embeddings"

    def outputs(self, inputs):
        out = self.run_model(inputs)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"],
                "padding_mask": inputs["padding_mask"]}

    def output_docs(self):
        return {"all": {
            "pooled_output": "float32 [batch, hidden]: tanh pooler on the final [CLS] vector",
            "sequence_output": "float32 [batch, length, hidden]: last-layer token vectors",
            "padding_mask": "int32 [batch, length]: 1 for real tokens, 0 for padding"}}

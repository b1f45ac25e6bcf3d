"""`CheckpointContents`: what a format reader hands to the generic loader.

Each format module reads its files into one of these: the `BertBackbone` configuration
taken from the checkpoint's own config file, the tensors under canonical (Google TF1)
names, the checkpoint's own name of each tensor (for messages), and the tensors it
knowingly skipped with the reason.

Example:
>>> contents = CheckpointContents("ckpt", "tf1", config={"num_layers": 2}, tensors={})
>>> contents.has_masked_lm_head
False
"""

from keras_bert_pkg.checkpoints.weight_map import MLM, NSP


class CheckpointContents:
    """A checkpoint read into canonical form.

    Args:
        source: the path it came from.
        format: `"hf"`, `"tf1"`, `"keras_hub"`, `"model_garden"` or `"keras"`.
        config: `BertBackbone` constructor arguments.
        tensors: mapping canonical name → tensor (may be lazy, see `LazyTensors`).
        names: dict canonical name → the checkpoint's own name (defaults to itself).
        ignored: dict own name → reason for tensors deliberately not used.
        vocabulary: the checkpoint's vocabulary: the path of its `vocab.txt`, a list of
            tokens, or None.
        lowercase: whether its tokenizer lower-cases, when the checkpoint says (None:
            it does not; `presets` then infers it from the vocabulary).
        namer: optional callable canonical name → the name this format would give it
            (used for weights the checkpoint lacks, so messages use the format's names).
    """

    def __init__(self, source, format, config, tensors, names=None, ignored=None, vocabulary=None,
                 namer=None, lowercase=None):
        self.source = str(source)
        self.format = format
        self.config = dict(config)
        self.tensors = tensors
        self.names = dict(names or {})
        self.ignored = dict(ignored or {})
        self.vocabulary = vocabulary
        self.namer = namer
        self.lowercase = lowercase

    @property
    def has_masked_lm_head(self):
        """Whether the checkpoint holds the masked-LM head (`cls/predictions/*`)."""
        return any(name.startswith(MLM + "/") for name in self.tensors)

    @property
    def has_next_sentence_head(self):
        """Whether the checkpoint holds the next-sentence head (`cls/seq_relationship/*`)."""
        return any(name.startswith(NSP + "/") for name in self.tensors)

    def own_name(self, canonical):
        """The checkpoint's own name for a canonical name (present or not)."""
        if canonical in self.names:
            return self.names[canonical]
        if self.namer is not None and canonical.startswith(("bert/", "cls/")):
            try:
                return self.namer(canonical)
            except (ValueError, KeyError):
                pass
        return canonical

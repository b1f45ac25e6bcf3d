"""Real model inputs for the checkpoint parity tests.

`reference_items()` are the four inputs (one a sentence pair) whose Hugging Face outputs
are in `all-MiniLM-L6-v2/reference_outputs.json`; `mrpc_batch()` packs real MRPC dev
sentence pairs with our tokenizer. Both return right-padded batches, so the padding
mask is exercised.
"""

import csv
import json

import numpy as np

from tests.test_case import MINILM_DIR, SHARED_DATA

REFERENCE = MINILM_DIR / "reference_outputs.json"


def reference_items():
    with open(REFERENCE) as f:
        return json.load(f)["items"]


def padded_batch(items):
    """Token/segment ids of `items` (dicts with `token_ids`, `segment_ids`) right-padded."""
    length = max(len(item["token_ids"]) for item in items)
    batch = {k: np.zeros((len(items), length), "int32") for k in ("token_ids", "segment_ids", "padding_mask")}
    for row, item in enumerate(items):
        n = len(item["token_ids"])
        batch["token_ids"][row, :n] = item["token_ids"]
        batch["segment_ids"][row, :n] = item["segment_ids"]
        batch["padding_mask"][row, :n] = 1
    return batch


def mrpc_pairs(count=8):
    with open(SHARED_DATA / "glue" / "MRPC" / "dev.tsv", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [(row[3], row[4]) for row in rows[:count]]


def mrpc_batch(count=8, sequence_length=96):
    """`count` real MRPC dev sentence pairs, tokenized with our BertTokenizer (uncased)."""
    import tensorflow as tf

    from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
    from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

    pairs = mrpc_pairs(count)
    preprocessor = BertPreprocessor(BertTokenizer(str(MINILM_DIR / "vocab.txt")), sequence_length=sequence_length)
    out = preprocessor((tf.constant([a for a, _ in pairs]), tf.constant([b for _, b in pairs])))
    return {k: np.asarray(v).astype("int32") for k, v in out.items()}


def real_batch():
    """The reference inputs and MRPC pairs together (12 rows)."""
    a = padded_batch(reference_items())
    b = mrpc_batch()
    length = max(a["token_ids"].shape[1], b["token_ids"].shape[1])
    pad = lambda x: np.pad(x, ((0, 0), (0, length - x.shape[1])))  # noqa: E731
    return {k: np.concatenate([pad(a[k]), pad(b[k])]) for k in a}


def masked_max_abs(x, y, padding_mask):
    """Max abs difference of two [b, L, H] tensors over real (unpadded) positions."""
    mask = np.asarray(padding_mask).astype(bool)
    return float(np.abs(np.asarray(x) - np.asarray(y))[mask].max())

"""Makes BERT pre-training TFRecords (masked LM + next sentence) from text files.

The records have the original tool's features (`input_ids`, `input_mask`, `segment_ids`,
`masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights`, `next_sentence_labels` with
1 = "B is a random segment"), and with one shard the instances are exactly the original
`create_pretraining_data.py`'s for the same seed. Input formats: the original one
sentence per line with blank lines between documents (`lines`), one paragraph per line
(`paragraphs`, split into sentences), WikiText (`wikitext`); `auto` picks.

    python recipes/create_pretraining_data.py \
        --input_file ../shared/data/pretrain_text/bert_sample_text/sample_text.txt \
        --vocab ../shared/data/vocab/bert-base-uncased/vocab.txt --output_dir runs/records \
        --max_seq_length 128 --max_predictions_per_seq 20 --dupe_factor 10
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data  # noqa: E402
from keras_bert_pkg.data.pretraining_documents import parse_document_range  # noqa: E402
from keras_bert_pkg.data.pretraining_records import expand_file_patterns  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input_file", required=True, help="text files: glob or comma-separated globs")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--vocab", required=True, help="vocab.txt")
    p.add_argument("--cased", action="store_true", help="do not lower-case (cased vocabularies)")
    p.add_argument("--input_format", default="auto", choices=["auto", "lines", "paragraphs", "wikitext"])
    p.add_argument("--document_range", default=None, help="START:END slice of all documents")
    p.add_argument("--max_seq_length", type=int, default=128)
    p.add_argument("--max_predictions_per_seq", type=int, default=20)
    p.add_argument("--masked_lm_prob", type=float, default=0.15)
    p.add_argument("--short_seq_prob", type=float, default=0.1)
    p.add_argument("--dupe_factor", type=int, default=10)
    p.add_argument("--whole_word_masking", action="store_true")
    p.add_argument("--random_seed", type=int, default=12345)
    p.add_argument("--num_shards", type=int, default=None, help="default: one shard per input file")
    p.add_argument("--num_workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--no_progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    summary = create_pretraining_data(
        expand_file_patterns(a.input_file), a.output_dir, a.vocab, lowercase=not a.cased,
        input_format=a.input_format, max_seq_length=a.max_seq_length,
        max_predictions_per_seq=a.max_predictions_per_seq, masked_lm_prob=a.masked_lm_prob,
        short_seq_prob=a.short_seq_prob, dupe_factor=a.dupe_factor,
        whole_word_masking=a.whole_word_masking, seed=a.random_seed, num_shards=a.num_shards,
        num_workers=a.num_workers, document_range=parse_document_range(a.document_range),
        progress=not a.no_progress)
    print(json.dumps({k: summary[k] for k in ("num_documents", "num_instances", "output_files",
                                              "random_next_fraction")}, indent=1))


if __name__ == "__main__":
    main()

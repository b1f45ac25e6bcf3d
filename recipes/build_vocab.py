"""Learns a WordPiece vocabulary (vocab.txt) from a text corpus.

Pieces come from keras-hub's `compute_word_piece_vocabulary` (TensorFlow Text's
learner); `[PAD]` `[UNK]` `[CLS]` `[SEP]` `[MASK]` go at Google's ids 0/100/101/102/103
(`--num_unused 99`, the default) or at 0-4 (`--num_unused 0`). The text is read like the
pre-training data tool reads it (`--input_format`), so WikiText's `<unk>` placeholders
and ` = Title = ` headings are not learned as words.

    python recipes/build_vocab.py --input_file ../shared/data/pretrain_text/wikitext-2/wiki.valid.tokens \
        --document_range :54 --vocabulary_size 8000 --output runs/wikitext_vocab.txt
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
from keras_bert_pkg.data.pretraining_documents import (  # noqa: E402
    WIKITEXT_UNKNOWN, parse_document_range, read_text_documents)
from keras_bert_pkg.data.pretraining_records import expand_file_patterns  # noqa: E402
from keras_bert_pkg.text.wordpiece_vocabulary import build_wordpiece_vocabulary  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input_file", required=True, help="text files: glob or comma-separated globs")
    p.add_argument("--output", required=True, help="vocab.txt to write")
    p.add_argument("--vocabulary_size", type=int, default=30522)
    p.add_argument("--num_unused", type=int, default=99,
                   help="[unusedN] rows before [UNK]; 99 = Google's special ids, 0 = compact")
    p.add_argument("--cased", action="store_true", help="keep case and accents")
    p.add_argument("--input_format", default="auto", choices=["auto", "lines", "paragraphs", "wikitext"])
    p.add_argument("--document_range", default=None, help="START:END slice of the documents")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    documents = []
    for path in expand_file_patterns(a.input_file):
        documents.extend(read_text_documents(path, a.input_format))
    document_range = parse_document_range(a.document_range)
    if document_range is not None:
        documents = documents[document_range]
    sentences = [s.replace(WIKITEXT_UNKNOWN, " ") for doc in documents for s in doc]
    vocabulary = build_wordpiece_vocabulary(sentences, a.vocabulary_size, lowercase=not a.cased,
                                            num_unused=a.num_unused, output_file=a.output)
    print(json.dumps({"output": a.output, "vocabulary_size": len(vocabulary),
                      "documents": len(documents), "sentences": len(sentences)}))


if __name__ == "__main__":
    main()

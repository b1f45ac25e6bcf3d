"""The pre-training data tool: text files → sharded TFRecords of masked sentence pairs.

`create_pretraining_data` does what google-research/bert's `create_pretraining_data.py`
does, in parallel:

1. read and tokenize the input files (one worker process per file);
2. group the documents into shards: by default one shard per input file (the original
   README's advice: shard the corpus and run the tool once per shard, random-next
   segments then come from the same shard), or `num_shards` contiguous groups of
   documents;
3. make each shard's instances with `random.Random(seed + shard_index)` (shard 0 with
   the seed itself: one shard gives exactly the original tool's instances and record
   order) and write them to `pretraining-SSSSS-of-NNNNN.tfrecord` (one worker per shard).

The output depends only on the inputs and the settings, never on `num_workers`.
A `pretraining_data.json` beside the records lists the settings and the counts.
"""

import json
import multiprocessing
import os
import random

import tensorflow as tf

from keras_bert_pkg.data.pretraining_documents import read_text_documents, tokenize_documents
from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary, create_training_instances
from keras_bert_pkg.data.pretraining_records import write_instances
from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

_WORKER = {}


def _init_worker(vocabulary, lowercase):
    _WORKER["tokenizer"] = BertTokenizer(vocabulary, lowercase=lowercase)


def _read_file(args):
    path, input_format = args
    return tokenize_documents(read_text_documents(path, input_format), _WORKER["tokenizer"])


def _read_text(args):
    path, input_format = args
    return read_text_documents(path, input_format)


def _make_shard(args):
    (documents, vocab, output_file, seed, settings) = args
    instances = create_training_instances(documents, vocab, rng=random.Random(seed), **settings)
    count = write_instances(instances, output_file, settings["max_seq_length"],
                            settings["max_predictions_per_seq"])
    predictions = sum(len(x.masked_lm_positions) for x in instances)
    random_next = sum(1 for x in instances if x.is_random_next)
    return count, predictions, random_next


def _map(function, items, num_workers, desc, progress, initializer=None, initargs=()):
    """Ordered map, in worker processes when `num_workers > 1`, with a tqdm bar."""
    from tqdm.auto import tqdm

    items = list(items)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, unit="item")
    results = []
    if num_workers > 1 and len(items) > 1:
        # "spawn": TensorFlow is not fork-safe once initialised.
        context = multiprocessing.get_context("spawn")
        with context.Pool(min(num_workers, len(items)), initializer=initializer, initargs=initargs) as pool:
            for result in pool.imap(function, items):
                results.append(result)
                bar.update(1)
    else:
        if initializer is not None:
            initializer(*initargs)
        for item in items:
            results.append(function(item))
            bar.update(1)
    bar.close()
    return results


def _split_contiguous(items, num_parts):
    size = len(items) / num_parts
    return [items[round(k * size):round((k + 1) * size)] for k in range(num_parts)]


def create_pretraining_data(input_files, output_dir, vocabulary, lowercase=True, input_format="auto",
                            max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15,
                            short_seq_prob=0.1, dupe_factor=10, whole_word_masking=False, seed=12345,
                            num_shards=None, num_workers=None, document_range=None, progress=True):
    """Makes BERT pre-training TFRecords from text files (module doc).

    Args:
        input_files: a list of text files (see `pretraining_documents` for formats).
        output_dir: where `pretraining-SSSSS-of-NNNNN.tfrecord` and
            `pretraining_data.json` go (created if needed).
        vocabulary: a `vocab.txt` path or a token list.
        lowercase: lower-case and strip accents (uncased vocabularies).
        input_format: `"auto"`, `"lines"`, `"paragraphs"` or `"wikitext"`.
        max_seq_length, max_predictions_per_seq, masked_lm_prob, short_seq_prob,
            dupe_factor, whole_word_masking: as in the original tool (defaults 128, 20,
            0.15, 0.1, 10, False).
        seed: the random seed (12345, the original's default).
        num_shards: None for one shard per input file, else this many shards of
            contiguous documents.
        num_workers: processes (default: CPU count); 1 runs in this process.
        document_range: a `slice` over all documents (in file order), e.g. to hold
            some out for evaluation.
        progress: show tqdm progress bars.

    Returns: the summary dict also written to `pretraining_data.json`
    (`output_files`, `num_instances`, `num_documents`, settings).

    Example:
    >>> import tempfile
    >>> summary = create_pretraining_data([text_file], tempfile.mkdtemp(), vocab_file,
    ...                                   max_seq_length=32, max_predictions_per_seq=4,
    ...                                   dupe_factor=2, num_workers=1, progress=False)
    >>> summary["num_documents"], len(summary["output_files"])
    (3, 1)
    """
    if not input_files:
        raise ValueError("create_pretraining_data: no input files.")
    tokenizer = BertTokenizer(vocabulary, lowercase=lowercase)
    tokens = tokenizer.get_vocabulary()
    vocab = MaskingVocabulary.from_tokens(tokens)
    num_workers = num_workers or os.cpu_count() or 1

    # 1. Read and tokenize, one task a file. Text is read first when a document range
    # is asked for, so that the range counts documents the way `read_documents` does.
    tasks = [(str(path), input_format) for path in input_files]
    if document_range is not None:
        texts = _map(_read_text, tasks, num_workers, "reading", progress)
        origin = [k for k, docs in enumerate(texts) for _ in docs]
        flat = [doc for docs in texts for doc in docs]
        keep = range(len(flat))[document_range]
        per_file = [[] for _ in input_files]
        for i in keep:
            per_file[origin[i]].extend(tokenize_documents([flat[i]], tokenizer))
    else:
        per_file = _map(_read_file, tasks, num_workers, "tokenizing", progress,
                        initializer=_init_worker, initargs=(tokens, lowercase))
    num_documents = sum(len(docs) for docs in per_file)
    if not num_documents:
        raise ValueError(f"No text found in {list(map(str, input_files))}.")

    # 2. Shards.
    if num_shards is None:
        shards = [docs for docs in per_file if docs]
    else:
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}.")
        flat = [doc for docs in per_file for doc in docs]
        shards = [s for s in _split_contiguous(flat, min(num_shards, len(flat))) if s]
    os.makedirs(output_dir, exist_ok=True)
    n = len(shards)
    output_files = [os.path.join(output_dir, f"pretraining-{k:05d}-of-{n:05d}.tfrecord") for k in range(n)]

    # 3. Instances and records, one task a shard.
    settings = dict(max_seq_length=max_seq_length, dupe_factor=dupe_factor,
                    short_seq_prob=short_seq_prob, masked_lm_prob=masked_lm_prob,
                    max_predictions_per_seq=max_predictions_per_seq,
                    whole_word_masking=whole_word_masking)
    results = _map(_make_shard, [(docs, vocab, output_files[k], seed + k, settings)
                                 for k, docs in enumerate(shards)],
                   num_workers, "writing shards", progress)
    summary = dict(
        settings,
        seed=seed,
        lowercase=lowercase,
        input_format=input_format,
        input_files=[str(p) for p in input_files],
        document_range=None if document_range is None else [document_range.start, document_range.stop],
        vocabulary_size=len(tokens),
        output_files=output_files,
        num_documents=num_documents,
        num_instances=sum(r[0] for r in results),
        instances_per_shard=[r[0] for r in results],
        num_masked_lm_predictions=sum(r[1] for r in results),
        random_next_fraction=(sum(r[2] for r in results) / max(sum(r[0] for r in results), 1)),
        next_sentence_labels="1 = B is a random segment (is_random_next), 0 = B follows A",
    )
    with tf.io.gfile.GFile(os.path.join(output_dir, "pretraining_data.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


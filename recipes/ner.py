"""Fine-tunes BERT for named-entity recognition (CoNLL-2003, or any CoNLL/BIO files).

Reads CoNLL column files (or two-column BIO files, e.g. Chinese character-per-line),
tags the first WordPiece of every word, fine-tunes a `BertTokenClassifier`, decodes one
tag per word of the validation sentences, scores entities with seqeval, and writes
`metrics.json`, `valid_predictions.txt` (conlleval's input), a training curve and a
SavedModel (`savedmodels/<export_name>/<version>/`: raw text in, word tags and entity
spans out).

    python recipes/ner.py --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --max_train_examples 4000 --epochs 1 --output_dir runs/ner

`--document_context` fills each window's spare room with the sentences around its own in
the same document, as the paper did for CoNLL-2003 (README: +0.6 entity F1 there).

A killed run resumes after its last finished epoch when the same command is started
again (checkpoints in `<output_dir>/checkpoints/` while it runs; `--checkpoint_dir`).
"""

import argparse
import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)

from keras_bert_pkg.atomic_files import atomic_write  # noqa: E402
from keras_bert_pkg.data.conll import TAGGED_FORMATS, read_tagged, split_off_last, tag_list  # noqa: E402
from keras_bert_pkg.data.entity_replacement import replace_entities  # noqa: E402
from keras_bert_pkg.data.length_bucketing import (  # noqa: E402
    FEATURE_KEYS, example_lengths, padded_to_ragged)
from keras_bert_pkg.data.pretraining_documents import word_joiner  # noqa: E402
from keras_bert_pkg.data.token_alignment import TokenAligner, entity_spans  # noqa: E402
from keras_bert_pkg.evaluation.ner_evaluation import evaluate_ner  # noqa: E402
from keras_bert_pkg.metrics.ner import seen_and_unseen_scores  # noqa: E402
from keras_bert_pkg.training.fine_tuning_defaults import fill_fine_tuning_defaults  # noqa: E402
from keras_bert_pkg.training.fine_tuning_trial import start_trial  # noqa: E402
from keras_bert_pkg.training.recipe_flags import (  # noqa: E402
    add_training_flags, backbone_source, finish_run, run_search, run_with_flags, search_record)
from keras_bert_pkg.training.resumable_fine_tuning import fine_tune_resumably  # noqa: E402
from keras_bert_pkg.training.run_artifacts import plot_history, process_cpu_seconds  # noqa: E402

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data", "ner", "conll2003")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_flags(p, require_model=True, max_seq_length=128,
                       output_dir=os.path.join(PROJECT_ROOT, "runs", "ner"),
                       export_dir=os.path.join(PROJECT_ROOT, "savedmodels"), export_name="ner")
    p.add_argument("--data_dir", default=DEFAULT_DATA)
    p.add_argument("--train_file", default="train.txt")
    p.add_argument("--valid_file", default="valid.txt")
    p.add_argument("--valid_fraction", type=float,
                   help="score on the last fraction of the training file's sentences instead of "
                        "--valid_file (a corpus without a dev split, e.g. MSRA: 0.1)")
    p.add_argument("--test_file",
                   help="also tag and score this file (same format; e.g. a held-back test split) "
                        "with the kept model: test_predictions.txt and metrics.json's \"test\"")
    p.add_argument("--format", choices=TAGGED_FORMATS, default="conll",
                   help="conll: word ... tag columns; bio: two columns (word/character, tag); "
                        "bmes, bioes: two columns with those tags (Chinese NER: MSRA)")
    p.add_argument("--stride", type=int,
                   help="tokens between windows of a long sentence (default: half a window)")
    p.add_argument("--tag_decoding", choices=("constrained", "argmax"), default="constrained",
                   help="constrained: each sentence's most probable valid IOB2 tag sequence (no I-X "
                        "after O or another type); argmax: each word's most probable tag (the paper)")
    p.add_argument("--label_all_subtokens", action="store_true")
    p.add_argument("--entity_replacement", action="store_true",
                   help="also train on a copy of each training sentence that holds entities, every "
                        "entity swapped for a random training entity of its type (an epoch grows by "
                        "those sentences; data/entity_replacement.py)")
    p.add_argument("--document_context", action="store_true",
                   help="fill each window's spare room with the sentences around it in its document "
                        "(the paper's CoNLL-2003 setting; a file without -DOCSTART- lines, as MSRA, is "
                        "one document): also at scoring, which reports the model tagging sentences alone "
                        "too, as the exported raw-text model does")
    p.add_argument("--max_valid_examples", type=int)
    p.add_argument("--dropout", type=float, default=0.1)
    args = p.parse_args(argv)
    if args.valid_fraction is not None and not 0 < args.valid_fraction < 1:
        p.error(f"--valid_fraction must be between 0 and 1, got {args.valid_fraction}")
    return args


def main(argv=None):
    args = parse_args(argv)
    return run_with_flags(run, args)


def run(args):
    started, cpu_started = time.time(), process_cpu_seconds()
    def read(name):
        return read_tagged(os.path.join(args.data_dir, name), args.format)

    train = read(args.train_file)
    if args.valid_fraction:  # the file's last sentences: no sentence on both sides of the split
        train, valid = split_off_last(train, args.valid_fraction)
    else:
        valid = read(args.valid_file)
    train, valid = train[: args.max_train_examples], valid[: args.max_valid_examples]
    tags = tag_list(train + valid)
    test_sentences = read(args.test_file) if args.test_file else None  # a broken file stops us here

    config, tokenizer, build_backbone = backbone_source(args, dropout=args.dropout)
    defaults = fill_fine_tuning_defaults(args, "ner", config["hidden_dim"])
    print(f"settings for {defaults['row']}: {defaults['filled']}")
    aligner = TokenAligner(tokenizer, tags, sequence_length=args.max_seq_length, stride=args.stride,
                           label_all_subtokens=args.label_all_subtokens)
    decoding = kb.TagDecoding(stride=aligner.stride, constrained=args.tag_decoding == "constrained")
    replaced = replace_entities(train, seed=args.seed) if args.entity_replacement else []
    trained_on = train + replaced

    def documents(sentences, copies=0):  # a copy with replaced entities has no neighbours
        return [s.document for s in sentences] + [None] * copies if args.document_context else None

    encoded = padded_to_ragged(aligner.encode([s.words for s in trained_on], [s.tags for s in trained_on],
                                              documents(train, len(replaced))),
                               FEATURE_KEYS + ("labels",))
    features = {key: encoded[key] for key in FEATURE_KEYS}
    valid_features = aligner.encode([s.words for s in valid], documents=documents(valid))

    def build_model():
        return kb.BertTokenClassifier(
            build_backbone(), len(tags), dropout=args.dropout,
            preprocessor=kb.BertPreprocessor(tokenizer, args.max_seq_length, dynamic_padding=True))

    def evaluate(m):
        return evaluate_ner(m, aligner, valid_features, [s.tags for s in valid], args.batch_size, decoding)

    def fine_tune(trial, checkpoint_dir, key):
        model, dataset, steps_per_epoch, total_steps = start_trial(
            args, trial, build_model, features, encoded["labels"], tokenizer.pad_token_id)
        evaluator = kb.DevEvaluator(evaluate)
        logger = kb.StepLossLogger(steps_per_epoch, log=None)  # one point an epoch
        fine_tune_resumably(model, dataset, steps_per_epoch, total_steps, checkpoint_dir=checkpoint_dir,
                            callbacks=[logger, evaluator], run_key=key)
        kept = evaluator.kept_evaluation()
        record = {"score": kept["score"], "validation": kept["metrics"],
                  "validation_per_epoch": evaluator.history, "loss": logger.points}
        return record, model, kept

    outcome = run_search(args, fine_tune, build_model)
    best = outcome.best
    kept = outcome.evaluation or evaluate(outcome.model)
    scores, predicted = kept["metrics"], kept["predicted"]

    by_decoding = {args.tag_decoding: scores}  # the kept model read the other way too: what the constraint does
    other = "argmax" if args.tag_decoding == "constrained" else "constrained"
    by_decoding[other] = evaluate_ner(outcome.model, aligner, valid_features, [s.tags for s in valid], args.batch_size,
                                      dataclasses.replace(decoding, constrained=other == "constrained"))["metrics"]
    alone = None
    if args.document_context:  # each sentence alone, as the exported raw-text model tags
        alone = evaluate_ner(outcome.model, aligner, aligner.encode([s.words for s in valid]),
                             [s.tags for s in valid], args.batch_size, decoding)["metrics"]
    write_predictions(os.path.join(args.output_dir, "valid_predictions.txt"), valid, predicted)

    def seen_and_unseen(sentences, predicted_tags):  # entities tagged in `train` or not
        return seen_and_unseen_scores([s.words for s in train], [s.tags for s in train],
                                      [s.words for s in sentences], [s.tags for s in sentences], predicted_tags)

    exposure = seen_and_unseen(valid, predicted)
    test = None
    if test_sentences:  # scored like the validation sentences, by the kept model
        test = evaluate_ner(outcome.model, aligner, aligner.encode([s.words for s in test_sentences],
                                                                   documents=documents(test_sentences)),
                            [s.tags for s in test_sentences], args.batch_size, decoding)
        write_predictions(os.path.join(args.output_dir, "test_predictions.txt"), test_sentences,
                          test["predicted"])
    curve = {"loss": best["loss"], "val_entity_f1": [m["f1"] for m in best["validation_per_epoch"]]}
    plot_history(curve, os.path.join(args.output_dir, "training_curve.png"),
                 title=f"NER fine-tuning ({args.init_checkpoint or args.architecture})")
    metrics = {
        "task": "ner", "model": args.init_checkpoint or args.architecture, "tags": tags,
        "data": {"train": os.path.join(args.data_dir, args.train_file),
                 "valid": (f"last {args.valid_fraction:g} of the training file" if args.valid_fraction
                           else os.path.join(args.data_dir, args.valid_file)),
                 "train_sentences": len(train), "entity_replacement_sentences": len(replaced),
                 "valid_sentences": len(valid),
                 "train_windows": len(example_lengths(features)),
                 "valid_windows": int(len(valid_features["token_ids"]))},
        "args": vars(args), "defaults": defaults, "trial": best["trial"], "search": search_record(outcome),
        "validation": scores, "validation_by_decoding": by_decoding, "validation_seen_and_unseen": exposure,
        "validation_sentences_alone": alone,
        "test": test and {"file": os.path.join(args.data_dir, args.test_file),
                          "sentences": len(test["predicted"]), **test["metrics"],
                          "seen_and_unseen": seen_and_unseen(test_sentences, test["predicted"])},
        "validation_per_epoch": best["validation_per_epoch"],
        "history": {"loss": best["loss"]},
        "example": {"words": valid[0].words, "gold": valid[0].tags, "predicted": predicted[0],
                    "entities": entity_spans(predicted[0], valid[0].words,
                                             separator=word_joiner([valid[0].words]))},
    }
    if not args.no_export:  # raw text in: word tags + entity spans
        metrics["export"] = kb.export_model(outcome.model, args.export_dir, args.export_name, labels=tags,
                                            decoding=decoding).path
    metrics["total_seconds"] = time.time() - started
    metrics["total_cpu_seconds"] = process_cpu_seconds() - cpu_started
    finish_run(args, metrics)
    print(f"validation entity precision {scores['precision']:.4f} recall {scores['recall']:.4f} "
          f"F1 {scores['f1']:.4f} ({len(valid)} sentences, {metrics['total_seconds']:.0f} s); "
          f"{other} decoding: F1 {by_decoding[other]['f1']:.4f}")
    if args.document_context:
        print(f"each sentence alone (no document context): F1 {alone['f1']:.4f}")
    print("; ".join(f"{side} in training: F1 {v['f1']:.4f} ({v['num_true_entities']} entities)"
                    for side, v in exposure.items()))
    if test:
        print(f"test entity F1 {test['metrics']['f1']:.4f} ({len(test['predicted'])} sentences)")
    return metrics


def write_predictions(path, sentences, predicted):
    """conlleval's input, atomically: `word gold predicted` a line, a blank line a sentence."""
    with atomic_write(path) as f:
        for sentence, tags_out in zip(sentences, predicted):
            for word, gold, tag in zip(sentence.words, sentence.tags, tags_out):
                f.write(f"{word} {gold} {tag}\n")
            f.write("\n")


if __name__ == "__main__":
    main()

"""Pre-trains BERT (masked LM + next sentence) from TFRecords or raw text; resumable.

Input: TFRecords from `recipes/create_pretraining_data.py` (or from google-research/bert's
tool: same features), or raw text files masked on the fly (`--text`). A run killed at
any point continues from its newest checkpoint when started again with the same
arguments (same weights, optimizer state and data position as an uninterrupted run).
Writes into `--output_dir`: `checkpoints/`, `tensorboard/`, `metrics.json`,
`pretraining_curves.png` (loss, MLM accuracy, NSP accuracy), `pretrainer.keras`,
`backbone.keras` and `vocab.txt`.

The paper's two-phase schedule (appendix A.2: 90% of the steps at length 128, the last
10% at length 512 to learn the long positions):

    python recipes/create_pretraining_data.py --input_file 'corpus/*.txt' --vocab vocab.txt \
        --output_dir data128 --max_seq_length 128 --max_predictions_per_seq 20
    python recipes/create_pretraining_data.py --input_file 'corpus/*.txt' --vocab vocab.txt \
        --output_dir data512 --max_seq_length 512 --max_predictions_per_seq 80
    python recipes/pretrain.py --input_files 'data128/*.tfrecord' --vocab vocab.txt \
        --architecture bert_base --batch_size 256 --steps 900000 --learning_rate 1e-4 \
        --warmup_fraction 0.01 --output_dir run/phase1
    python recipes/pretrain.py --input_files 'data512/*.tfrecord' --vocab vocab.txt \
        --init_checkpoint run/phase1/pretrainer.keras --batch_size 256 --steps 100000 \
        --learning_rate 1e-4 --warmup_fraction 0.1 --output_dir run/phase2

A small real run (WikiText-2 validation split: vocabulary and training text from its first
54 articles, the last 6 held out; about 22 CPU-minutes, see README "Pre-training"):

    W=../shared/data/pretrain_text/wikitext-2/wiki.valid.tokens
    python recipes/build_vocab.py --input_file $W --document_range :54 --vocabulary_size 8000 \
        --output runs/wikitext_vocab.txt
    python recipes/create_pretraining_data.py --input_file $W --document_range 54: \
        --vocab runs/wikitext_vocab.txt --output_dir runs/wikitext_records/heldout \
        --dupe_factor 1 --random_seed 777 --num_workers 1
    python recipes/pretrain.py --text $W --text_document_range :54 \
        --eval_input_files 'runs/wikitext_records/heldout/*.tfrecord' --vocab runs/wikitext_vocab.txt \
        --architecture bert_tiny --steps 4000 --warmup_fraction 0.1 --log_every 100 \
        --checkpoint_every 500 --eval_every 500 --batch_size 32 --learning_rate 1e-3 --seed 0 \
        --strategy default --output_dir runs/pretrain_wikitext_tiny_stream
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg as kb  # noqa: E402  (selects the TensorFlow backend)
import keras  # noqa: E402

from keras_bert_pkg.data.pretraining_documents import parse_document_range  # noqa: E402
from keras_bert_pkg.distribute.strategy_info import describe_strategy, worker_output_dir  # noqa: E402
from keras_bert_pkg.training.pretraining import (  # noqa: E402
    HeldOutEvaluation, PretrainingData, build_pretrainer, heldout_dataset, save_pretraining_outputs)
from keras_bert_pkg.training.recipe_flags import add_training_flags, checkpoint_folder, setup_from_flags  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_training_flags(p, schedule="steps", batch_size=32, steps=1000, learning_rate=1e-4,
                       output_dir="runs/pretrain")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input_files", help="TFRecords: glob or comma-separated globs")
    source.add_argument("--text", help="raw text files (glob or comma list), masked on the fly")
    p.add_argument("--text_format", default="auto", choices=["auto", "lines", "paragraphs", "wikitext"])
    p.add_argument("--text_document_range", help="START:END slice of the text's documents")
    p.add_argument("--eval_input_files", help="held-out TFRecords")
    p.add_argument("--eval_text", help="held-out raw text (fixed masks from --seed)")
    p.add_argument("--eval_document_range")
    p.add_argument("--eval_every", type=int, help="evaluate the held-out set every N steps")
    p.add_argument("--eval_steps", type=int)
    p.add_argument("--config", help="backbone JSON (our arguments or a Google bert_config.json) "
                                    "instead of --architecture")
    p.add_argument("--dropout", type=float)
    p.add_argument("--no_next_sentence", action="store_true", help="ablation: MLM only")
    p.add_argument("--left_to_right", action="store_true",
                   help="ablation: causal attention + next-token targets (implies --no_next_sentence)")
    p.add_argument("--max_predictions_per_seq", type=int)
    p.add_argument("--masked_lm_prob", type=float, default=0.15)
    p.add_argument("--short_seq_prob", type=float, default=0.1)
    p.add_argument("--whole_word_masking", action="store_true")
    p.add_argument("--warmup_steps", type=int, help="warm-up steps (instead of --warmup_fraction)")
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "lamb"])
    p.add_argument("--gradient_accumulation_steps", type=int)
    p.add_argument("--xla", action="store_true", help="compile the training step with XLA")
    p.add_argument("--checkpoint_every", type=int, default=1000)
    p.add_argument("--log_every", type=int, default=100)
    p.add_argument("--shuffle_buffer", type=int, default=10000)
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    args = p.parse_args(argv)
    if not args.vocab:
        p.error("--vocab is required (the vocabulary the data was made with)")
    if sum(bool(x) for x in (args.architecture, args.config, args.init_checkpoint)) > 1:
        p.error("give one of --architecture, --config and --init_checkpoint")
    if not (args.architecture or args.config or args.init_checkpoint):
        args.architecture = "bert_base"
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    strategy = setup_from_flags(args, private_dirs=())  # the chief writes --output_dir
    keras.utils.set_random_seed(args.seed)
    folder = worker_output_dir(args.output_dir, strategy)
    tokenizer = kb.BertTokenizer(args.vocab, lowercase=not args.cased)
    common = dict(seed=args.seed, left_to_right=args.left_to_right)
    if args.input_files:
        data = PretrainingData.from_records(
            args.input_files, args.batch_size, args.max_seq_length, args.max_predictions_per_seq,
            shuffle_buffer=args.shuffle_buffer, **common)
    else:
        data = PretrainingData.from_text(
            args.text, tokenizer, args.batch_size, args.max_seq_length or 128,
            args.max_predictions_per_seq or 20, text_format=args.text_format,
            document_range=parse_document_range(args.text_document_range),
            short_seq_prob=args.short_seq_prob, masked_lm_prob=args.masked_lm_prob,
            whole_word_masking=args.whole_word_masking,
            shuffle_buffer=min(args.shuffle_buffer, 1000), **common)
    heldout = None
    if args.eval_input_files or args.eval_text:
        heldout = HeldOutEvaluation(heldout_dataset(
            tokenizer, args.batch_size, args.eval_input_files, args.eval_text, args.text_format,
            parse_document_range(args.eval_document_range), data.seq_length,
            data.max_predictions_per_seq, **common), folder, args.eval_steps)

    with strategy.scope():
        model = build_pretrainer(
            tokenizer.vocabulary_size(), args.architecture, args.config, args.init_checkpoint,
            next_sentence=not (args.no_next_sentence or args.left_to_right),
            left_to_right=args.left_to_right, dropout=args.dropout)
        warmup = args.warmup_steps if args.warmup_steps is not None else int(args.warmup_fraction * args.steps)
        model.compile(optimizer=kb.create_optimizer(
            args.learning_rate, args.steps, warmup, optimizer=args.optimizer,
            weight_decay=args.weight_decay, gradient_accumulation_steps=args.gradient_accumulation_steps),
            jit_compile=args.xla)

    checkpoints = checkpoint_folder(args)
    fresh = kb.ResumableCheckpoint(checkpoints, model).latest_step() is None
    initial_eval = heldout.before(model, fresh) if heldout else None
    validate = heldout is not None and bool(args.eval_every)
    log_every = min(args.log_every, args.steps)
    fit_started = time.time()
    history, start_step = kb.resumable_fit(
        model, lambda step: data.distributed(strategy, step), args.steps, checkpoints,
        checkpoint_every=args.checkpoint_every, log_every=log_every,
        tensorboard_dir=os.path.join(folder, "tensorboard"),
        validation_data=heldout.dataset if validate else None, validation_steps=args.eval_steps,
        validation_every=max(1, args.eval_every // log_every) if validate else 1, verbose=args.verbose)
    fit_seconds = time.time() - fit_started

    metrics = {
        "steps": args.steps, "resumed_from_step": start_step, "batch_size": args.batch_size,
        "per_replica_batch_size": args.per_replica_batch_size, "precision": args.precision,
        "strategy": describe_strategy(strategy)["strategy"], "num_replicas": strategy.num_replicas_in_sync,
        "distribution": describe_strategy(strategy), "vocabulary_size": tokenizer.vocabulary_size(),
        "backbone": model.backbone.get_config(), "next_sentence": model.next_sentence,
        "left_to_right": args.left_to_right, "train_data": data.source, "history": history,
        "final_train": history[-1] if history else None,
        "train_seconds_this_invocation": fit_seconds,
        "steps_per_second_this_invocation": (args.steps - start_step) / fit_seconds if fit_seconds else None,
    }
    if heldout is not None:
        metrics["initial_eval"] = initial_eval
        metrics.update(heldout.after(model, data.dataset(0), tokenizer))
    metrics["total_seconds_this_invocation"] = time.time() - started
    save_pretraining_outputs(model, tokenizer, folder, metrics,
                             title=f"BERT pre-training ({args.architecture or args.config or args.init_checkpoint})")
    summary = {k: metrics[k] for k in ("steps", "resumed_from_step", "final_train", "initial_eval",
                                       "final_eval", "most_frequent_token_baseline") if k in metrics}
    print(json.dumps(summary, indent=1, default=float))
    return metrics


if __name__ == "__main__":
    main()

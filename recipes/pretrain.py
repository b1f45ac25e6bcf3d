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
        --preset bert_base --batch_size 256 --steps 900000 --learning_rate 1e-4 \
        --warmup_steps 10000 --output_dir run/phase1
    python recipes/pretrain.py --input_files 'data512/*.tfrecord' --vocab vocab.txt \
        --preset bert_base --batch_size 256 --steps 100000 --learning_rate 1e-4 \
        --warmup_steps 10000 --init_weights run/phase1/pretrainer.keras --output_dir run/phase2

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
        --preset bert_tiny --steps 4000 --warmup_steps 400 --log_every 100 --checkpoint_every 500 \
        --eval_every 500 --batch_size 32 --learning_rate 1e-3 --seed 0 --strategy default \
        --output_dir runs/pretrain_wikitext_tiny_stream
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_bert_pkg  # noqa: E402,F401  (selects the TensorFlow backend)
from keras_bert_pkg.training.run_pretraining import run_pretraining  # noqa: E402
from keras_bert_pkg.training.strategies import add_strategy_flags, strategy_from_flags  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input_files", help="TFRecords: glob or comma-separated globs")
    source.add_argument("--text", help="raw text files (glob or comma list), masked on the fly")
    p.add_argument("--text_format", default="auto", choices=["auto", "lines", "paragraphs", "wikitext"])
    p.add_argument("--text_document_range", default=None, help="START:END slice of the text's documents")
    p.add_argument("--eval_input_files", default=None, help="held-out TFRecords")
    p.add_argument("--eval_text", default=None, help="held-out raw text (fixed masks from --seed)")
    p.add_argument("--eval_document_range", default=None)
    p.add_argument("--eval_every", type=int, default=None, help="evaluate every N steps while training")
    p.add_argument("--eval_steps", type=int, default=None)
    p.add_argument("--vocab", required=True, help="vocab.txt")
    p.add_argument("--cased", action="store_true", help="do not lower-case")
    arch = p.add_mutually_exclusive_group()
    arch.add_argument("--preset", default="bert_base", help="architecture preset (bert_tiny ... bert_large)")
    arch.add_argument("--config", default=None, help="backbone JSON (ours or a Google bert_config.json)")
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--no_next_sentence", action="store_true", help="ablation: MLM only")
    p.add_argument("--left_to_right", action="store_true",
                   help="ablation: causal attention + next-token targets (implies --no_next_sentence)")
    p.add_argument("--seq_length", type=int, default=None, help="text: 128; records: read from them")
    p.add_argument("--max_predictions_per_seq", type=int, default=None)
    p.add_argument("--masked_lm_prob", type=float, default=0.15)
    p.add_argument("--short_seq_prob", type=float, default=0.1)
    p.add_argument("--whole_word_masking", action="store_true")
    p.add_argument("--batch_size", type=int, default=32, help="global batch size")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--warmup_steps", type=int, default=None, help="default 10%% of --steps")
    p.add_argument("--optimizer", default="adamw", choices=["adamw", "lamb"])
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--gradient_accumulation_steps", type=int, default=None)
    p.add_argument("--precision", default="float32",
                   choices=["float32", "mixed", "mixed_float16", "mixed_bfloat16"])
    p.add_argument("--xla", action="store_true", help="compile the training step with XLA")
    p.add_argument("--checkpoint_every", type=int, default=1000)
    p.add_argument("--log_every", type=int, default=100)
    p.add_argument("--init_weights", default=None, help="pretrainer .keras/.weights.h5 to start from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shuffle_buffer", type=int, default=10000)
    p.add_argument("--output_dir", default="runs/pretrain")
    p.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    add_strategy_flags(p)
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    strategy = strategy_from_flags(a, private_dirs=())  # run_pretraining gives workers their dirs
    metrics = run_pretraining(
        output_dir=a.output_dir, vocab=a.vocab, input_files=a.input_files, text=a.text,
        text_format=a.text_format, text_document_range=a.text_document_range,
        eval_input_files=a.eval_input_files, eval_text=a.eval_text,
        eval_document_range=a.eval_document_range, preset=a.preset, config=a.config,
        next_sentence=not (a.no_next_sentence or a.left_to_right), left_to_right=a.left_to_right,
        seq_length=a.seq_length, max_predictions_per_seq=a.max_predictions_per_seq,
        batch_size=a.batch_size, steps=a.steps, learning_rate=a.learning_rate,
        warmup_steps=a.warmup_steps, optimizer=a.optimizer, weight_decay=a.weight_decay,
        gradient_accumulation_steps=a.gradient_accumulation_steps, strategy=strategy,
        precision=a.precision, xla=a.xla, checkpoint_every=a.checkpoint_every,
        log_every=a.log_every, eval_every=a.eval_every, eval_steps=a.eval_steps,
        masked_lm_prob=a.masked_lm_prob, short_seq_prob=a.short_seq_prob,
        whole_word_masking=a.whole_word_masking, shuffle_buffer=a.shuffle_buffer, seed=a.seed,
        lowercase=not a.cased, dropout=a.dropout, init_weights=a.init_weights, verbose=a.verbose)
    summary = {k: metrics[k] for k in ("steps", "resumed_from_step", "final_train", "initial_eval",
                                       "final_eval", "most_frequent_token_baseline") if k in metrics}
    print(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()

"""Pre-trains a small BERT on a tagged corpus's own text, then fine-tunes it as the tagger.

The paper's central claim on one corpus: the same model tags better when it was first
pre-trained (masked LM + next sentence) on unlabelled text. One resumable command runs
the chain, each step a recipe of its own (its command is printed and recorded):

1. text: the training part's sentences (never the dev part's), in file order,
   `--sentences_per_document` to a document: `<output_dir>/pretraining_text.txt`
   (the dev part's text goes to `heldout_text.txt`, for the masked-LM figure only);
2. vocabulary: `--vocab`, or one learned from that text (`recipes/build_vocab.py`):
   `<output_dir>/vocab.txt`;
3. pre-training (`recipes/pretrain.py --text`, masked on the fly): `<output_dir>/pretrain/`;
4. fine-tuning, scoring of the dev split (and `--test_file`) and export
   (`recipes/ner.py`): `<output_dir>/ner/metrics.json`, `savedmodels/<export_name>/`;
5. the exported SavedModel tags the `--examples` sentences (raw text in, entities out),
   printed and recorded in `chain.json`.

A step whose output is there is skipped, and a step killed half-way resumes from its own
checkpoints, so the same command started again continues where it stopped;
`<output_dir>/chain.json` records the arguments (another command is refused there) and
each finished step's command, seconds and CPU seconds.

MSRA Chinese NER (BMES, no dev split: the last 10% of the training file is the dev split):

    python recipes/pretrain_ner.py --output_dir runs/msra_pretrained
    python recipes/pretrain_ner.py --pretrain_steps 0 --output_dir runs/msra_no_pretraining

(`--pretrain_steps 0`: the same architecture, vocabulary and fine-tuning from random
weights, the paper's "no pre-training" point.)
"""

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_bert_pkg.atomic_files import atomic_write  # noqa: E402
from keras_bert_pkg.data.conll import TAGGED_FORMATS, read_tagged, split_off_last  # noqa: E402
from keras_bert_pkg.data.pretraining_documents import tagged_text_documents, write_text_documents  # noqa: E402
from keras_bert_pkg.models.bert_architectures import BACKBONE_ARCHITECTURES  # noqa: E402
from keras_bert_pkg.training.precision import PRECISIONS  # noqa: E402
from keras_bert_pkg.training.run_keys import changed_settings  # noqa: E402

RECIPES = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(RECIPES)
DEFAULT_DATA = os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data", "ner", "msra")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", default=DEFAULT_DATA)
    p.add_argument("--train_file", default="train.txt")
    p.add_argument("--format", choices=TAGGED_FORMATS, default="bmes")
    p.add_argument("--valid_fraction", type=float, default=0.1,
                   help="the training file's last sentences scored as the dev split")
    p.add_argument("--test_file", help="also score this file (same format) with the fine-tuned model")
    p.add_argument("--vocab", help="vocab.txt to use (default: learn one from the training text)")
    p.add_argument("--vocabulary_size", type=int, default=8000, help="of a learned vocabulary")
    # The defaults are row (a) of the README's fine-tuning table (measured on a 2-core AMX
    # CPU in bfloat16). A small BERT sits at the character-frequency stage (masked-LM
    # accuracy ~14%) for thousands of steps before it uses its neighbours; BERT-Mini's
    # 16,000 steps of 32 x 64 took it past that (held-out accuracy 37.2%) in 1.58
    # CPU-hours, and 8 fine-tuning epochs at lr 1e-3 then gave dev F1 80.49 (random
    # weights: 76.15), the chain ~2.84 CPU-hours, inside the 3. BERT-Tiny gets
    # ~2.3x the steps a CPU-second: 36,000 steps and 16 epochs gave 77.53 in 1.64
    # CPU-hours (random weights 72.55); BERT-Mini at 28,000 steps 80.28 in ~4.3.
    p.add_argument("--architecture", choices=sorted(BACKBONE_ARCHITECTURES), default="bert_mini")
    p.add_argument("--sentences_per_document", type=int, default=16)
    p.add_argument("--max_seq_length", type=int, default=64,
                   help="of pre-training and fine-tuning (longer sentences are tagged in windows)")
    p.add_argument("--pretrain_steps", type=int, default=16000, help="0: fine-tune from random weights")
    p.add_argument("--pretrain_batch_size", type=int, default=32)
    p.add_argument("--pretrain_learning_rate", type=float, default=1e-3)
    p.add_argument("--max_predictions_per_seq", type=int, default=10)
    p.add_argument("--epochs", type=float, default=8, help="fine-tuning epochs")
    p.add_argument("--learning_rate", type=float, default=1e-3, help="fine-tuning peak learning rate")
    p.add_argument("--batch_size", type=int, help="fine-tuning batch size (default: the NER defaults table)")
    p.add_argument("--entity_replacement", action="store_true",
                   help="fine-tune on the training sentences and a copy with their entities swapped "
                        "for others of the same type (recipes/ner.py --entity_replacement)")
    p.add_argument("--document_context", action="store_true",
                   help="fine-tune and score each sentence with the sentences around it as context "
                        "(recipes/ner.py --document_context)")
    p.add_argument("--precision", default="mixed", choices=PRECISIONS,
                   help="mixed: bfloat16 on CPUs with bfloat16 instructions, float32 on others")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output_dir", default=os.path.join(PROJECT_ROOT, "runs", "pretrain_ner"))
    p.add_argument("--export_dir", default=os.path.join(PROJECT_ROOT, "savedmodels"))
    p.add_argument("--export_name", default="pretrain_ner")
    p.add_argument("--no_export", action="store_true")
    p.add_argument("--examples", nargs="*", default=["任正非是華為的創始人", "任正非是华为的创始人"],
                   help="sentences the exported model tags at the end (default: the mission's "
                        "example in traditional characters, and in simplified ones as MSRA writes)")
    args = p.parse_args(argv)
    if not 0 < args.valid_fraction < 1:
        p.error(f"--valid_fraction must be between 0 and 1, got {args.valid_fraction}")
    if args.pretrain_steps < 0:
        p.error(f"--pretrain_steps must be >= 0, got {args.pretrain_steps}")
    return args


def main(argv=None):
    args = parse_args(argv)
    out = os.path.abspath(args.output_dir)
    record = start_record(out, vars(args))
    files = {name: os.path.join(out, name) for name in ("pretraining_text.txt", "heldout_text.txt", "vocab.txt")}

    if not os.path.exists(files["pretraining_text.txt"]):
        sentences = read_tagged(os.path.join(args.data_dir, args.train_file), args.format)
        train, valid = split_off_last(sentences, args.valid_fraction)
        per_document = args.sentences_per_document
        write_text_documents(files["heldout_text.txt"], tagged_text_documents([s.words for s in valid], per_document))
        write_text_documents(files["pretraining_text.txt"], tagged_text_documents([s.words for s in train], per_document))
    vocab = args.vocab or files["vocab.txt"]
    if not args.vocab:
        run_step(record, out, "vocabulary", files["vocab.txt"], "build_vocab.py", [
            "--input_file", files["pretraining_text.txt"], "--input_format", "lines",
            "--vocabulary_size", args.vocabulary_size, "--num_unused", 0, "--output", files["vocab.txt"]])

    if args.pretrain_steps:
        pretrain_dir = os.path.join(out, "pretrain")
        # pretrain.py writes vocab.txt last (after metrics.json and backbone.keras)
        run_step(record, out, "pretraining", os.path.join(pretrain_dir, "vocab.txt"), "pretrain.py", [
            "--text", files["pretraining_text.txt"], "--text_format", "lines",
            "--eval_text", files["heldout_text.txt"], "--eval_steps", 20, "--vocab", vocab,
            "--architecture", args.architecture, "--steps", args.pretrain_steps,
            "--batch_size", args.pretrain_batch_size, "--learning_rate", args.pretrain_learning_rate,
            "--warmup_fraction", 0.1, "--max_seq_length", args.max_seq_length,
            "--max_predictions_per_seq", args.max_predictions_per_seq,
            "--checkpoint_every", max(1, min(500, args.pretrain_steps)), "--log_every", max(1, min(100, args.pretrain_steps)),
            "--precision", args.precision, "--seed", args.seed, "--strategy", "default", "--verbose", 0,
            "--output_dir", pretrain_dir])
        model = ["--init_checkpoint", os.path.join(pretrain_dir, "backbone.keras")]
    else:
        model = ["--architecture", args.architecture, "--vocab", vocab]

    tuning = [f for name in ("epochs", "learning_rate", "batch_size") if getattr(args, name) is not None
              for f in (f"--{name}", getattr(args, name))]
    ner_dir = os.path.join(out, "ner")
    run_step(record, out, "fine-tuning", os.path.join(ner_dir, "metrics.json"), "ner.py", [
        "--data_dir", args.data_dir, "--train_file", args.train_file, "--format", args.format,
        "--valid_fraction", args.valid_fraction, *(["--test_file", args.test_file] if args.test_file else []),
        *model, "--max_seq_length", args.max_seq_length, *tuning, "--precision", args.precision,
        "--seed", args.seed, "--output_dir", ner_dir, "--export_dir", args.export_dir,
        "--export_name", args.export_name, *(["--no_export"] if args.no_export else []),
        *(["--entity_replacement"] if args.entity_replacement else []),
        *(["--document_context"] if args.document_context else [])])

    with open(os.path.join(ner_dir, "metrics.json"), encoding="utf-8") as f:
        ner = json.load(f)
    summary = {"validation": ner["validation"], "test": ner.get("test"), "export": ner.get("export"),
               "validation_seen_and_unseen": ner.get("validation_seen_and_unseen"),  # absent before 2026-12-04
               "cpu_seconds": sum(step["cpu_seconds"] for step in record["steps"].values())}
    if args.pretrain_steps:
        with open(os.path.join(out, "pretrain", "metrics.json"), encoding="utf-8") as f:
            pretraining = json.load(f)
        summary["pretraining"] = {k: pretraining.get(k) for k in ("initial_eval", "final_eval", "final_train")}
    if ner.get("export") and args.examples:
        summary["examples"] = tag_examples(ner["export"], args.examples)
        for example in summary["examples"]:
            print(f"{example['text']}: " + ", ".join(
                f"{e['text']} {e['type']} [{e['start']}, {e['end']})" for e in example["entities"]))
    record["summary"] = summary
    write_record(out, record)
    sides = summary["validation_seen_and_unseen"] or {}
    print(f"dev entity F1 {ner['validation']['f1']:.4f}"
          + (f" (entities seen in training {sides['seen']['f1']:.4f}, unseen {sides['unseen']['f1']:.4f})"
             if sides else "")
          + (f", test entity F1 {ner['test']['f1']:.4f}" if ner.get("test") else "")
          + f"; {summary['cpu_seconds'] / 3600:.2f} CPU-hours for the steps run to their end")
    return record


def tag_examples(export_path, texts):
    """The entities the SavedModel at `export_path` finds in each text (its raw-text signature)."""
    outputs = tf.saved_model.load(export_path).signatures["serving_default"](text=tf.constant(texts))
    examples = []
    for i, text in enumerate(texts):
        entities = [{"type": outputs["entity_types"][i, k].numpy().decode("utf-8"),
                     "text": outputs["entity_texts"][i, k].numpy().decode("utf-8"),
                     "start": int(outputs["entity_starts"][i, k]), "end": int(outputs["entity_ends"][i, k])}
                    for k in range(int(outputs["num_entities"][i]))]
        examples.append({"text": text, "entities": entities,
                         "word_tags": [t.decode("utf-8") for t in outputs["word_tags"][i].numpy()[
                             :int(outputs["num_words"][i])]]})
    return examples


# Flags that change what is scored, shown or written where, not what is trained: a run
# started again with other values of them goes on in the same folder.
NOT_TRAINING = ("test_file", "examples", "export_dir", "export_name", "no_export", "output_dir")


def start_record(out, args):
    """`chain.json`'s record; a record of other training arguments in `out` stops the run."""
    path = os.path.join(out, "chain.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        # A flag added since that run (absent from its record) matches while it is off.
        changed = changed_settings(record["args"], args, ignore=NOT_TRAINING)
        if changed:
            raise SystemExit(f"{path}: this folder holds a chain run with other training arguments "
                             f"({', '.join('--' + k for k in changed)}); use another --output_dir.")
        record["args"] = args
        return record
    record = {"args": args, "steps": {}}
    write_record(out, record)
    return record


def write_record(out, record):
    with atomic_write(os.path.join(out, "chain.json")) as f:
        json.dump(record, f, indent=1, ensure_ascii=False)


def run_step(record, out, name, done_file, recipe, argv):
    """Runs `recipes/<recipe>` unless `done_file` is there; records its command and cost."""
    if os.path.exists(done_file):
        return
    command = [sys.executable, os.path.join(RECIPES, recipe), *map(str, argv)]
    print(f"== {name}: {shlex.join(command)}", flush=True)
    started, cpu = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(command)
    if finished.returncode:
        raise SystemExit(f"{name} failed (exit status {finished.returncode}): {shlex.join(command)}")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    record["steps"][name] = {"command": shlex.join(command), "seconds": time.time() - started,
                             "cpu_seconds": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime}
    write_record(out, record)


if __name__ == "__main__":
    main()

"""Pre-training data creation throughput: ours against Model Garden's port of the original.

Input: the real WikiText-2 validation text (60 articles), rewritten once in the original
tool's input format (one sentence per line, a blank line between documents) with our
reader, so that both tools read the same file. Each run goes from that text file to
TFRecords of masked sentence pairs (tokenize, make instances with `dupe_factor`
duplications, mask, write), into a fresh folder:

- ours: `keras_bert_pkg.data.create_pretraining_data` with 1 worker process and with
  one worker per core (`--workers`), the in-graph tokenizer;
- Model Garden: `official.nlp.data.create_pretraining_data` (`FullTokenizer`,
  `create_training_instances`, `write_instance_to_example_files`), single process, as
  its command does.

Throughput is in instances per second; the notes give the instance counts and MB/s of
input text.

Command (default, ~2 minutes on an idle 2-core machine):
    python benchmarks/pretraining_data.py
Larger runs:
    python benchmarks/pretraining_data.py --dupe_factor 10 --repeats 3
"""

import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402

TITLE = "Pre-training data creation (WikiText-2 valid)"
WIKITEXT = common.SHARED_DATA / "pretrain_text" / "wikitext-2" / "wiki.valid.tokens"


def write_lines_file(path, max_documents=0):
    """WikiText → the original tool's format; returns (documents, bytes)."""
    from keras_bert_pkg.data.pretraining_documents import read_text_documents

    documents = read_text_documents(str(common.require_file(WIKITEXT)), "wikitext")
    if max_documents:
        documents = documents[:max_documents]
    # WikiText's rare-word placeholder becomes the vocabulary's unknown token for both tools.
    text = "\n\n".join("\n".join(s.replace("<unk>", "[UNK]") for s in doc) for doc in documents) + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return len(documents), len(text.encode("utf-8"))


def ours_run(input_file, vocab, workdir, settings, workers):
    from keras_bert_pkg.data.create_pretraining_data import create_pretraining_data

    counts = {}

    def run():
        out = tempfile.mkdtemp(dir=workdir)
        summary = create_pretraining_data([input_file], out, vocab, input_format="lines", num_workers=workers,
                                          progress=False, seed=12345, **settings)
        counts["instances"] = summary["num_instances"]
        shutil.rmtree(out)

    return run, counts


def model_garden_run(input_file, vocab, workdir, settings):
    from official.nlp.data import create_pretraining_data as mg
    from official.nlp.tools import tokenization

    counts = {}

    def run():
        out = tempfile.mkdtemp(dir=workdir)
        tokenizer = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)
        instances = mg.create_training_instances(
            [input_file], tokenizer, mg.get_processor_text_fn(False, True), settings["max_seq_length"],
            settings["dupe_factor"], settings["short_seq_prob"], settings["masked_lm_prob"],
            settings["max_predictions_per_seq"], random.Random(12345))
        mg.write_instance_to_example_files(instances, tokenizer, settings["max_seq_length"],
                                           settings["max_predictions_per_seq"],
                                           [os.path.join(out, "mg.tfrecord")], False, False)
        counts["instances"] = len(instances)
        shutil.rmtree(out)

    return run, counts


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--dupe_factor", type=int, default=2)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--max_predictions_per_seq", type=int, default=20)
    parser.add_argument("--max_documents", type=int, default=0, help="first N articles (0: all 60)")
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 1}", help="our worker counts")
    parser.add_argument("--peers", default="model_garden")
    parser.set_defaults(repeats=2)
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)
    vocab = str(common.require_file(common.UNCASED_VOCAB))
    settings = dict(max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
                    masked_lm_prob=0.15, short_seq_prob=0.1, dupe_factor=args.dupe_factor)
    workdir = tempfile.mkdtemp(prefix="bench_pretraining_data_")
    try:
        input_file = os.path.join(workdir, "wikitext_valid_lines.txt")
        documents, size = write_lines_file(input_file, args.max_documents)
        candidates, counts = {}, {}
        for workers in sorted({int(w) for w in args.workers.split(",") if w}):
            name = f"ours ({workers} worker{'s' if workers > 1 else ''})"
            candidates[name], counts[name] = ours_run(input_file, vocab, workdir, settings, workers)
        if "model_garden" in args.peers.split(","):
            candidates["Model Garden"], counts["Model Garden"] = model_garden_run(input_file, vocab, workdir, settings)
        # Instance counts are known after the warm-up run; items are filled in after timing.
        timings = common.time_interleaved(candidates, 1, repeats=args.repeats, warmup=args.warmup)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    case = f"{documents} docs, dupe {args.dupe_factor}, s{args.max_seq_length}"
    rows = {}
    for name, t in timings.items():
        t.items = counts[name]["instances"]
        mb_per_s = size / 1e6 * args.dupe_factor * t.items_per_second / t.items
        rows[name] = common.Row(case, name, "-", t,
                                note=f"{t.items} instances; {mb_per_s:.3f} MB/s of input text (x dupe)")
    comparisons = [(rows[o], rows[p]) for o in rows if o.startswith("ours") for p in rows if not p.startswith("ours")]
    notes = [f"input: {size / 1e6:.2f} MB of WikiText-2 valid text, {documents} documents",
             "CPU time includes our worker processes"]
    return common.finish(TITLE, info, args, list(rows.values()), comparisons, "instances", notes)


if __name__ == "__main__":
    main()

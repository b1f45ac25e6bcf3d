"""Tokenizer throughput: ours against keras-hub's and Hugging Face `tokenizers`.

Real text, the uncased BERT vocabulary: the 872 SST-2 dev sentences (short) and the SQuAD
v1.1 dev contexts (paragraphs). Each tokenizer turns batches of `--batch_size` strings
into WordPiece ids:

- ours: `BertTokenizer` (in-graph, exact original-BERT ids), called in a `tf.function`
  on a string tensor, returning a ragged tensor;
- keras-hub: `keras_hub.models.BertTokenizer`, the same way;
- Hugging Face `tokenizers` (when installed): `BertWordPieceTokenizer.encode_batch`
  (Rust, multi-threaded).

The table also says how many texts each peer tokenizes to exactly our ids.

Command (default, well under a minute on an idle 2-core machine):
    python benchmarks/tokenizer_throughput.py
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402

TITLE = "Tokenizer throughput"


def corpora(max_texts=0):
    from benchmarks.text_to_predictions import sst2_dev_sentences

    squad = json.loads(common.require_file(common.SHARED_DATA / "squad" / "v1.1" / "dev.json").read_text())
    contexts = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
    out = {"SST-2 dev sentences": sst2_dev_sentences(), "SQuAD v1.1 dev contexts": contexts}
    if max_texts:
        out = {k: v[:max_texts] for k, v in out.items()}
    return out


def batched(texts, batch_size):
    return [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]


def in_graph(tokenizer, batches):
    import tensorflow as tf

    fn = tf.function(lambda s: tokenizer(s), input_signature=[tf.TensorSpec([None], tf.string)])
    tensors = [tf.constant(b) for b in batches]

    def run():
        return [fn(t).flat_values.numpy() for t in tensors]

    def ids():
        return [row for t in tensors for row in fn(t).to_list()]

    return run, ids


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--max_texts", type=int, default=0, help="first N texts of each corpus (0: all)")
    parser.add_argument("--peers", default="keras_hub,huggingface")
    parser.add_argument("--min_sample_seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)
    vocab = str(common.require_file(common.UNCASED_VOCAB))
    peers = [p for p in args.peers.split(",") if p]
    notes = []

    from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

    ours = BertTokenizer(vocab, lowercase=True)
    keras_hub_tokenizer = hf_tokenizer = None
    if "keras_hub" in peers:
        import keras_hub

        keras_hub_tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True)
    if "huggingface" in peers:
        tokenizers = common.optional_module("tokenizers")
        if tokenizers is None:
            notes.append("Hugging Face tokenizers skipped: not installed (optional, never a dependency)")
        else:
            hf_tokenizer = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
            notes.append(f"Hugging Face tokenizers {tokenizers.__version__} (Rust, its own thread pool)")

    rows, comparisons = [], []
    for corpus, texts in corpora(args.max_texts).items():
        batches = batched(texts, args.batch_size)
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        candidates, id_fns = {}, {}
        candidates["ours"], id_fns["ours"] = in_graph(ours, batches)
        if keras_hub_tokenizer is not None:
            candidates["keras-hub"], id_fns["keras-hub"] = in_graph(keras_hub_tokenizer, batches)
        if hf_tokenizer is not None:
            def hf_run(batches=batches):
                return [hf_tokenizer.encode_batch(b, add_special_tokens=False) for b in batches]

            candidates["HF tokenizers"] = hf_run
            id_fns["HF tokenizers"] = lambda: [e.ids for b in hf_run() for e in b]
        reference = id_fns["ours"]()
        agreement = {name: sum(a == b for a, b in zip(fn(), reference)) for name, fn in id_fns.items()
                     if name != "ours"}
        print(f"\n{corpus}: {len(texts)} texts, {megabytes:.2f} MB", flush=True)
        timings = common.time_interleaved(candidates, len(texts), repeats=args.repeats, warmup=args.warmup,
                                          min_sample_seconds=args.min_sample_seconds)
        by_name = {}
        for name, t in timings.items():
            mb_per_s = t.items_per_second * megabytes / len(texts)
            note = f"{mb_per_s:.2f} MB/s"
            if name in agreement:
                note += f"; same ids as ours on {agreement[name]}/{len(texts)} texts"
            by_name[name] = common.Row(corpus, name, "-", t, note=note)
        rows += list(by_name.values())
        comparisons += [(by_name["ours"], by_name[n]) for n in by_name if n != "ours"]
    return common.finish(TITLE, info, args, rows, comparisons, "texts", notes)


if __name__ == "__main__":
    main()

"""Raw text → logits on the real SST-2 dev sentences: ours against keras-hub (and HF).

The 872 SST-2 dev sentences go from Python strings to classifier logits, tokenization
included, batch 32, with a MiniLM-sized model (6 layers, hidden 384, 12 heads).

- Ours: `BertClassifier` on `BertBackbone.from_preset(all-MiniLM-L6-v2)` (the real
  weights), raw text tokenized once in-graph and kept unpadded
  (`tokenize_to_ragged`), then batches of similar length, each padded only to its own
  longest row (`predict_by_length`); float32 and mixed_bfloat16.
- keras-hub: `BertTextClassifier` with `BertTextClassifierPreprocessor` at its default
  settings (every sentence padded to 512 tokens), `predict(sentences, batch_size=32)`;
  also at `sequence_length=128`. Padded to a fixed length, its cost per sentence does not
  depend on the sentence, so by default it is timed on the first `--peer_sentences`
  sentences (`--peer_sentences 0` for all 872).
- Hugging Face (only when torch and transformers are installed): per-batch dynamic
  padding, `BertForSequenceClassification` of the same size, at each of ours'
  precisions (`mixed_bfloat16`: under `torch.autocast("cpu", torch.bfloat16)`;
  `bfloat16`: its weights cast to bfloat16, as ours' with `dtype="bfloat16"`).

Command (default, ~2 minutes on an idle 2-core machine):
    python benchmarks/text_to_predictions.py
Full peer pass:
    python benchmarks/text_to_predictions.py --peer_sentences 0 --repeats 3
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.models import SIZES, VOCABULARY_SIZE  # noqa: E402

TITLE = "Raw SST-2 dev text -> logits (MiniLM size, batch 32)"


def sst2_dev_sentences():
    from keras_bert_pkg.data.glue import read_glue

    dev = read_glue("sst2", str(common.SHARED_DATA / "glue"), "dev")
    return [str(t) for t in dev.texts[0]]


def ours_classifier(precision, max_length):
    from keras_bert_pkg import BertBackbone, BertClassifier, BertPreprocessor, BertTokenizer

    backbone = BertBackbone.from_preset(str(common.require_file(common.MINILM_DIR)),
                                            dtype=None if precision == "float32" else precision)
    model = BertClassifier(backbone, num_classes=2)
    preprocessor = BertPreprocessor(BertTokenizer(str(common.MINILM_DIR / "vocab.txt")),
                                    sequence_length=max_length)
    return model, preprocessor


def ours_pipeline(model, preprocessor, sentences, batch_size):
    from keras_bert_pkg.data.length_bucketing import tokenize_to_ragged
    from keras_bert_pkg.models.predict_by_length import predict_by_length

    def run():
        features = tokenize_to_ragged(preprocessor, sentences)
        return predict_by_length(model, features, batch_size=batch_size)

    return run


def keras_hub_classifier(sequence_length=None):
    import keras_hub

    layers, hidden, heads, inner = SIZES["minilm"]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(common.MINILM_DIR / "vocab.txt"), lowercase=True)
    kwargs = {} if sequence_length is None else {"sequence_length": sequence_length}
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, **kwargs)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=VOCABULARY_SIZE, num_layers=layers,
                                             num_heads=heads, hidden_dim=hidden, intermediate_dim=inner)
    return keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)


def huggingface_pipeline(sentences, batch_size, precision="float32"):
    """Hugging Face's tokenizer and model per batch (dynamic padding), at `precision`
    (`models.huggingface_at`)."""
    import torch
    import transformers

    from benchmarks.models import huggingface_at, huggingface_model

    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(common.MINILM_DIR))
    model, context = huggingface_at(huggingface_model("minilm", task="classifier"), precision)

    def run():
        out = []
        with torch.inference_mode(), context():
            for i in range(0, len(sentences), batch_size):
                enc = tokenizer(sentences[i:i + batch_size], padding=True, truncation=True,
                                max_length=512, return_tensors="pt")
                out.append(model(**enc).logits.float().numpy())
        return out

    return run


def main(argv=None):
    import numpy as np

    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_sentences", type=int, default=0, help="use the first N dev sentences (0: all)")
    parser.add_argument("--peer_sentences", type=int, default=64,
                        help="sentences the fixed-length keras-hub peers are timed on (0: all)")
    parser.add_argument("--precisions", default=common.default_precisions(),
                        help="float32 and mixed_bfloat16 where the CPU has bfloat16 instructions; "
                             "also bfloat16 (bfloat16 weights, ours and Hugging Face's)")
    parser.add_argument("--peers", default="keras_hub,keras_hub_128,huggingface")
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)
    sentences = sst2_dev_sentences()
    if args.max_sentences:
        sentences = sentences[:args.max_sentences]
    peer_sentences = sentences[:args.peer_sentences] if args.peer_sentences else sentences
    peers = [p for p in args.peers.split(",") if p]
    notes = [f"{len(sentences)} SST-2 dev sentences for ours; keras-hub timed on {len(peer_sentences)} "
             "(fixed-length padding: cost independent of the sentence)"]
    if "huggingface" in peers:
        available, note = common.huggingface_status()
        notes.append(note)
        if not available:
            peers.remove("huggingface")

    candidates, items, labels = {}, {}, {}
    models = {}
    for precision in args.precisions.split(","):
        common.set_policies(precision)
        model, preprocessor = ours_classifier(precision, max_length=512)
        name = f"ours {common.short_precision(precision)}"
        models[name] = (model, preprocessor)
        candidates[name] = ours_pipeline(model, preprocessor, sentences, args.batch_size)
        items[name] = len(sentences)
        labels[name] = ("ours (length-bucketed)", common.short_precision(precision))
        common.set_policies("float32")
    if "keras_hub" in peers:
        clf = keras_hub_classifier()
        candidates["keras-hub"] = lambda clf=clf: clf.predict(peer_sentences, batch_size=args.batch_size, verbose=0)
        items["keras-hub"] = len(peer_sentences)
        labels["keras-hub"] = ("keras-hub defaults (pad to 512)", "fp32")
    if "keras_hub_128" in peers:
        clf128 = keras_hub_classifier(128)
        candidates["keras-hub 128"] = lambda: clf128.predict(peer_sentences, batch_size=args.batch_size, verbose=0)
        items["keras-hub 128"] = len(peer_sentences)
        labels["keras-hub 128"] = ("keras-hub sequence_length=128", "fp32")
    if "huggingface" in peers:
        for precision in args.precisions.split(","):  # the peer at each precision ours runs at
            if precision not in ("float32", "mixed_bfloat16", "bfloat16"):
                continue
            name = "Hugging Face" + ("" if precision == "float32" else f" {common.short_precision(precision)}")
            candidates[name] = huggingface_pipeline(sentences, args.batch_size, precision)
            items[name] = len(sentences)
            labels[name] = ("Hugging Face (per-batch dynamic padding)", common.short_precision(precision))

    # The same function either way: bucketed logits against fixed-length padding (ours).
    first = next(iter(models))
    model, preprocessor = models[first]
    check = sentences[:64]
    bucketed = ours_pipeline(model, preprocessor, check, args.batch_size)()
    padded = model.predict(preprocessor(check), batch_size=args.batch_size, verbose=0)
    max_diff = float(np.abs(np.asarray(bucketed) - np.asarray(padded)).max())
    notes.append(f"check: {first} logits with length bucketing vs padding to 512 on {len(check)} "
                 f"sentences, max abs difference {max_diff:.2e}")

    timings = common.time_interleaved(candidates, items, repeats=args.repeats, warmup=args.warmup)
    case = f"SST-2 dev b{args.batch_size}"
    rows = {name: common.Row(case, labels[name][0], labels[name][1], t) for name, t in timings.items()}
    comparisons = [(rows[o], rows[p]) for o in rows if o.startswith("ours") for p in rows
                   if not p.startswith("ours")]
    return common.finish(TITLE, info, args, list(rows.values()), comparisons, "sentences", notes,
                         extra={"bucketing_check_max_abs_diff": max_diff})


if __name__ == "__main__":
    main()

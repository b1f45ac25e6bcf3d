"""int8 quantization and bfloat16: accuracy on the real SST-2 dev set, and speed.

A MiniLM classifier (`BertClassifier` on `BertBackbone.from_preset(all-MiniLM-L6-v2)`)
is fine-tuned briefly on the first `--train_examples` SST-2 training sentences (one epoch,
length-bucketed batches of 32, AdamW 5e-5 with BERT's warm-up/decay) and saved as
`.keras` (reused by later runs; `--model` to use another saved classifier). Then the
same weights are evaluated on the 872 SST-2 dev sentences as:

- float32 (the trained model);
- mixed_bfloat16 (the same weights in a model built under the mixed policy);
- int8: Keras `model.quantize("int8")` of the float32 model (int8 weights with
  per-channel scales); the encoder blocks' projections then run on the CPU's int8 units
  (`keras_bert_pkg.layers.int8_matmul`: activations quantized per tensor on the fly);
- int8 of the mixed_bfloat16 model (the same, with bfloat16 between the projections).

Each variant's dev accuracy is computed on all 872 sentences; the speed is the time of
a length-bucketed pass over the dev set (pre-tokenized: model only), batch 32.

Command (default, ~3 minutes on an idle 2-core machine, the first time; ~1 minute later):
    python benchmarks/quantization.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402

TITLE = "int8 / bfloat16: SST-2 dev accuracy and speed (MiniLM classifier)"
DEFAULT_MODEL = common.ROOT / "runs" / "bench" / "sst2_minilm_classifier.keras"


def fine_tune(path, train_examples, seed=0, max_length=64):
    """Fine-tunes the MiniLM classifier on SST-2 train (first N) and saves it to `path`."""
    import keras
    import numpy as np

    from keras_bert_pkg import BertBackbone, BertClassifier, BertPreprocessor, BertTokenizer
    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.data.length_bucketing import bucketed_dataset, num_bucketed_batches, \
        default_boundaries, example_lengths, tokenize_to_ragged
    from keras_bert_pkg.training.optimizers import create_optimizer

    keras.utils.set_random_seed(seed)
    train = read_glue("sst2", str(common.SHARED_DATA / "glue"), "train")
    sentences = list(train.texts[0][:train_examples])
    labels = np.asarray(train.labels[:train_examples])
    preprocessor = BertPreprocessor(BertTokenizer(str(common.MINILM_DIR / "vocab.txt")), sequence_length=max_length)
    features = tokenize_to_ragged(preprocessor, sentences)
    lengths = example_lengths(features)
    boundaries = default_boundaries(int(lengths.max()))
    steps = num_bucketed_batches(lengths, 32, boundaries)
    dataset = bucketed_dataset(features, labels, batch_size=32, boundaries=boundaries, seed=seed)
    model = BertClassifier(BertBackbone.from_preset(str(common.require_file(common.MINILM_DIR))), num_classes=2)
    model.compile(optimizer=create_optimizer(5e-5, total_steps=steps, warmup_steps=max(1, steps // 10)))
    history = model.fit(dataset, epochs=1, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return float(history.history["loss"][-1]), steps


def variants(model, names):
    """name → a classifier with the same weights in that numeric form (or an error string)."""
    import keras

    from keras_bert_pkg import BertBackbone, BertClassifier

    config = model.backbone.get_config()

    def bf16():
        config16 = dict(config, dtype="mixed_bfloat16")
        config16.pop("name", None)
        clone = BertClassifier(BertBackbone(**config16), num_classes=model.num_classes)
        clone.set_weights(model.get_weights())
        return clone

    def quantized(source):
        clone = source()
        clone.quantize("int8")
        return clone

    def fp32_copy():
        clone = BertClassifier(BertBackbone(**{k: v for k, v in config.items() if k != "name"}),
                               num_classes=model.num_classes)
        clone.set_weights(model.get_weights())
        return clone

    builders = {"fp32": lambda: model, "bf16": bf16, "int8": lambda: quantized(fp32_copy),
                "int8 (bf16 model)": lambda: quantized(bf16)}
    out = {}
    for name in names:
        try:
            out[name] = builders[name]()
        except Exception as e:  # reported in the table's notes
            out[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    keras.config.set_dtype_policy("float32")
    return out


def main(argv=None):
    import keras
    import numpy as np

    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="a saved BertClassifier .keras; fine-tuned and saved here when absent")
    parser.add_argument("--train_examples", type=int, default=4000)
    parser.add_argument("--dev_examples", type=int, default=0, help="first N dev sentences (0: all 872)")
    parser.add_argument("--variants", default="fp32,bf16,int8,int8 (bf16 model)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.set_defaults(repeats=2)
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)

    from keras_bert_pkg import BertPreprocessor, BertTokenizer
    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.data.length_bucketing import tokenize_to_ragged
    from keras_bert_pkg.models.predict_by_length import predict_by_length

    notes = []
    path = Path(args.model)
    if not path.exists():
        print(f"fine-tuning the MiniLM classifier on {args.train_examples} SST-2 train sentences ...", flush=True)
        loss, steps = fine_tune(path, args.train_examples)
        notes.append(f"fine-tuned here: {args.train_examples} SST-2 train sentences, 1 epoch ({steps} steps), "
                     f"final loss {loss:.3f}; saved to {path}")
    else:
        notes.append(f"classifier loaded from {path}")
    model = keras.saving.load_model(path)
    dev = read_glue("sst2", str(common.SHARED_DATA / "glue"), "dev")
    sentences, labels = list(dev.texts[0]), np.asarray(dev.labels)
    if args.dev_examples:
        sentences, labels = sentences[:args.dev_examples], labels[:args.dev_examples]
    preprocessor = BertPreprocessor(BertTokenizer(str(common.MINILM_DIR / "vocab.txt")), sequence_length=128)
    features = tokenize_to_ragged(preprocessor, sentences)

    models = variants(model, [v for v in args.variants.split(",") if v])
    accuracy, candidates, predictions = {}, {}, {}
    for name, m in models.items():
        if isinstance(m, str):
            notes.append(f"{name}: could not be built: {m}")
            continue
        logits = np.asarray(predict_by_length(m, features, batch_size=args.batch_size), "float32")
        predictions[name] = logits.argmax(-1)
        accuracy[name] = float((predictions[name] == labels).mean())
        candidates[name] = lambda m=m: predict_by_length(m, features, batch_size=args.batch_size)
    timings = common.time_interleaved(candidates, len(sentences), repeats=args.repeats, warmup=args.warmup)
    case = f"SST-2 dev ({len(sentences)})"
    rows = {}
    for name, t in timings.items():
        note = f"accuracy {100 * accuracy[name]:.2f}%"
        if name != "fp32" and "fp32" in accuracy:
            delta = 100 * (accuracy[name] - accuracy["fp32"])
            agree = float((predictions[name] == predictions["fp32"]).mean())
            note += f" ({delta:+.2f} points vs fp32; same label as fp32 on {100 * agree:.1f}%)"
        rows[name] = common.Row(case, f"ours {name}", name.split()[0], t, note=note)
    comparisons = [(rows[n], rows["fp32"]) for n in rows if n != "fp32" and "fp32" in rows]
    comparisons += [(rows[n], rows["bf16"]) for n in rows if n.startswith("int8") and "bf16" in rows]
    return common.finish(TITLE, info, args, list(rows.values()), comparisons, "sentences", notes,
                         extra={"accuracy": accuracy})


if __name__ == "__main__":
    main()

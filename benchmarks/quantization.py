"""int8 quantization and bfloat16: accuracy on real dev sets (SST-2, MRPC, SQuAD v1.1), and speed.

A MiniLM task model (on `BertBackbone.from_preset(all-MiniLM-L6-v2)`) is evaluated on a
real dev set in four numeric forms of the same weights:

- float32 (the trained model);
- mixed_bfloat16 (the same weights in a model built under the mixed policy);
- int8: Keras `model.quantize("int8")` of the float32 model (int8 weights with
  per-channel scales); the encoder blocks' projections then run on the CPU's int8 units
  (`keras_bert_pkg.layers.int8_matmul`: activations quantized per tensor on the fly);
- int8 of the mixed_bfloat16 model (the same, with bfloat16 between the projections).

`--task sst2` / `--task mrpc`: a `BertClassifier` fine-tuned briefly here on the first
`--train_examples` training examples (SST-2 one epoch, MRPC three; length-bucketed
batches of 32, AdamW 5e-5 with BERT's warm-up/decay) and saved as `.keras` under
`runs/bench/` (reused by later runs; `--model` to use another saved classifier); scored
by accuracy (and F1 for MRPC) on the whole dev set (872 sentences / 408 pairs).
`--task squad`: a `BertSpanLabeler` fine-tuned by the SQuAD recipe (`--model`, default
`runs/bench/squad_minilm/model.keras`: the command below makes it), scored by the
official v1.1 scorer on the first `--dev_examples` dev questions (with 0, all 1,720 of
`../shared/data`'s dev set). The speed is the time of a length-bucketed pass over those
dev inputs (pre-tokenized: model only), batch 32.

Commands (each ~5 minutes on a 2-core machine the first time, the SQuAD recipe ~15):
    python benchmarks/quantization.py
    python benchmarks/quantization.py --task mrpc
    python recipes/squad.py --init_checkpoint ../shared/data/weights/all-MiniLM-L6-v2 \
        --train_file ../shared/data/squad/v1.1/train.json \
        --predict_file ../shared/data/squad/v1.1/dev.json \
        --max_seq_length 256 --output_dir runs/bench/squad_minilm --no_export
    python benchmarks/quantization.py --task squad
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402

TITLE = "int8 / bfloat16: dev-set accuracy and speed (MiniLM task models)"
DEFAULT_MODELS = {"sst2": common.ROOT / "runs" / "bench" / "sst2_minilm_classifier.keras",
                  "mrpc": common.ROOT / "runs" / "bench" / "mrpc_minilm_classifier.keras",
                  "squad": common.ROOT / "runs" / "bench" / "squad_minilm" / "model.keras"}
SQUAD_DEV = common.SHARED_DATA / "squad" / "v1.1" / "dev.json"


def fine_tune(path, task, train_examples, epochs, seed=0, max_length=128):
    """Fine-tunes the MiniLM classifier on a GLUE task's train (first N) and saves it to `path`.

    Returns: `(final loss, steps, examples trained on)`."""
    import keras
    import numpy as np

    from keras_bert_pkg import BertBackbone, BertClassifier, BertPreprocessor, BertTokenizer
    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.data.length_bucketing import bucketed_dataset, num_bucketed_batches, \
        default_boundaries, example_lengths, tokenize_to_ragged
    from keras_bert_pkg.training.optimizers import create_optimizer

    keras.utils.set_random_seed(seed)
    train = read_glue(task, str(common.SHARED_DATA / "glue"), "train")
    sentences = _segments(train, train_examples)
    labels = np.asarray(train.labels[:train_examples])
    preprocessor = BertPreprocessor(BertTokenizer(str(common.MINILM_DIR / "vocab.txt")), sequence_length=max_length)
    features = tokenize_to_ragged(preprocessor, sentences)
    lengths = example_lengths(features)
    boundaries = default_boundaries(int(lengths.max()))
    steps = num_bucketed_batches(lengths, 32, boundaries)
    dataset = bucketed_dataset(features, labels, batch_size=32, boundaries=boundaries, seed=seed)
    model = BertClassifier(BertBackbone.from_preset(str(common.require_file(common.MINILM_DIR))), num_classes=2)
    total = steps * epochs
    model.compile(optimizer=create_optimizer(5e-5, total_steps=total, warmup_steps=max(1, total // 10)))
    history = model.fit(dataset, epochs=epochs, verbose=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return float(history.history["loss"][-1]), total, len(labels)


def _segments(split, limit=0):
    """The split's text segments (one list, or a tuple of two for pairs), first `limit` (0: all)."""
    texts = [list(t[:limit] if limit else t) for t in split.texts]
    return texts[0] if len(texts) == 1 else tuple(texts)


def variants(model, names):
    """name → a task model with the same weights in that numeric form (or an error string)."""
    import keras

    from keras_bert_pkg import BertBackbone

    backbone_config = {k: v for k, v in model.backbone.get_config().items() if k != "name"}
    task_config = {k: v for k, v in model.get_config().items() if k not in ("name", "backbone", "preprocessor")}

    def copy(dtype):
        clone = type(model)(BertBackbone(**dict(backbone_config, dtype=dtype)), **task_config)
        clone.set_weights(model.get_weights())
        return clone

    def quantized(dtype):
        clone = copy(dtype)
        clone.quantize("int8")
        return clone

    builders = {"fp32": lambda: model, "bf16": lambda: copy("mixed_bfloat16"),
                "int8": lambda: quantized("float32"), "int8 (bf16 model)": lambda: quantized("mixed_bfloat16")}
    out = {}
    for name in names:
        try:
            out[name] = builders[name]()
        except Exception as e:  # reported in the table's notes
            out[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    keras.config.set_dtype_policy("float32")
    return out


def squad_subset(path, questions):
    """The dev JSON (parsed) cut to its first `questions` questions (0: all), for the scorer."""
    import json

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not questions:
        return data
    left, articles = questions, []
    for article in data["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            if left > 0:
                qas = paragraph["qas"][:left]
                left -= len(qas)
                paragraphs.append(dict(paragraph, qas=qas))
        if paragraphs:
            articles.append(dict(article, paragraphs=paragraphs))
    return dict(data, data=articles)


def dev_scorer(task, model, dev_examples):
    """`(label, inputs, score)`: the dev set's name, its pre-tokenized model inputs (ragged)
    and `score(m)` → (metric name → value, per-example predictions)."""
    import numpy as np

    from keras_bert_pkg import BertPreprocessor, BertTokenizer
    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.data.length_bucketing import tokenize_to_ragged
    from keras_bert_pkg.data.squad_examples import read_squad_examples
    from keras_bert_pkg.data.squad_features import convert_examples_to_features, squad_ragged_features
    from keras_bert_pkg.evaluation.squad_evaluation import evaluate_squad_model
    from keras_bert_pkg.metrics.glue import glue_metrics
    from keras_bert_pkg.models.predict_by_length import predict_by_length

    tokenizer = BertTokenizer(str(common.MINILM_DIR / "vocab.txt"))
    if task == "squad":
        gold = squad_subset(common.require_file(SQUAD_DEV), dev_examples)
        examples = read_squad_examples(gold)
        # the windows the model was fine-tuned on (the recipe's preprocessor keeps its length)
        length = model.preprocessor.sequence_length if model.preprocessor is not None else 384
        features = convert_examples_to_features(examples, tokenizer, max_seq_length=length)

        def score(m):
            result = evaluate_squad_model(m, gold, examples, features, batch_size=32)
            answers = [result["predictions"].get(e.qas_id, "") for e in examples]
            return {"exact_match": result["metrics"]["exact_match"], "f1": result["metrics"]["f1"]}, answers

        return f"SQuAD v1.1 dev ({len(examples)} questions)", squad_ragged_features(features), score
    dev = read_glue(task, str(common.SHARED_DATA / "glue"), "dev")
    texts, labels = _segments(dev, dev_examples), np.asarray(dev.labels)
    labels = labels[:dev_examples] if dev_examples else labels
    inputs = tokenize_to_ragged(BertPreprocessor(tokenizer, sequence_length=128), texts)

    def score(m):
        predictions = np.asarray(predict_by_length(m, inputs, batch_size=32), "float32").argmax(-1)
        metrics = glue_metrics(task, labels, predictions)
        return {k: 100 * v for k, v in metrics.items() if k != "score"}, predictions

    return f"{task.upper()} dev ({len(labels)})", inputs, score


def main(argv=None):
    import keras
    import numpy as np

    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", default="sst2", choices=sorted(DEFAULT_MODELS))
    parser.add_argument("--model", help="a saved task model .keras (default: the task's under runs/bench/; "
                        "SST-2 / MRPC classifiers are fine-tuned and saved there when absent)")
    parser.add_argument("--train_examples", type=int, default=4000, help="SST-2 / MRPC: fine-tune on the first N")
    parser.add_argument("--epochs", type=int, help="SST-2 / MRPC fine-tuning epochs (default: SST-2 1, MRPC 3)")
    parser.add_argument("--dev_examples", type=int, default=0, help="first N dev examples (0: all)")
    parser.add_argument("--variants", default="fp32,bf16,int8,int8 (bf16 model)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.set_defaults(repeats=2)
    args = parser.parse_args(argv)
    info = common.start(TITLE, args)

    from keras_bert_pkg.models.predict_by_length import predict_by_length

    notes = []
    path = Path(args.model or DEFAULT_MODELS[args.task])
    if not path.exists() and args.task != "squad":
        print(f"fine-tuning the MiniLM classifier on {args.train_examples} {args.task} train examples ...",
              flush=True)
        epochs = args.epochs or {"sst2": 1, "mrpc": 3}[args.task]
        loss, steps, examples = fine_tune(path, args.task, args.train_examples, epochs)
        notes.append(f"fine-tuned here: {examples} {args.task} train examples, {epochs} epoch(s) ({steps} steps), "
                     f"final loss {loss:.3f}; saved to {path}")
    else:
        notes.append(f"model loaded from {common.require_file(path)}")
    model = keras.saving.load_model(path)
    case, inputs, score = dev_scorer(args.task, model, args.dev_examples)
    items = int(inputs["token_ids"].nrows())

    models = variants(model, [v for v in args.variants.split(",") if v])
    metrics, candidates, predictions = {}, {}, {}
    for name, m in models.items():
        if isinstance(m, str):
            notes.append(f"{name}: could not be built: {m}")
            continue
        metrics[name], predictions[name] = score(m)
        candidates[name] = lambda m=m: predict_by_length(m, inputs, batch_size=args.batch_size,
                                                         per_token=args.task == "squad")
    timings = common.time_interleaved(candidates, items, repeats=args.repeats, warmup=args.warmup)
    rows = {}
    for name, t in timings.items():
        note = ", ".join(f"{k} {v:.2f}" for k, v in metrics[name].items())
        if name != "fp32" and "fp32" in metrics:
            deltas = ", ".join(f"{v - metrics['fp32'][k]:+.2f}" for k, v in metrics[name].items())
            agree = float(np.mean([a == b for a, b in zip(predictions[name], predictions["fp32"])]))
            note += f" ({deltas} points vs fp32; same prediction as fp32 on {100 * agree:.1f}%)"
        rows[name] = common.Row(case, f"ours {name}", name.split()[0], t, note=note)
    comparisons = [(rows[n], rows["fp32"]) for n in rows if n != "fp32" and "fp32" in rows]
    comparisons += [(rows[n], rows["bf16"]) for n in rows if n.startswith("int8") and "bf16" in rows]
    return common.finish(TITLE, info, args, list(rows.values()), comparisons, "inputs", notes,
                         extra={"metrics": metrics})


if __name__ == "__main__":
    main()

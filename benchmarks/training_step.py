"""Training-step throughput: pre-training (MLM + NSP) and fine-tuning, ours against Model
Garden and keras-hub.

One optimizer step on a fixed random batch (fixed shapes), timed after warm-up:

- pre-training: ours `BertPretrainer` (masked-LM head on the masked positions only, tied
  embeddings, + next-sentence head; `compile()` with `create_optimizer`, AdamW with
  BERT's schedule and global-norm clipping 1.0, `train_on_batch`) against Model Garden's
  `BertPretrainerV2` (`BertEncoder`, `MaskedLM` on the masked positions and a
  `ClassificationHead` for NSP; `official.nlp.optimization.create_optimizer` AdamW,
  gradients clipped to global norm 1.0, the loss of Model Garden's `MaskedLMTask`, one
  `tf.function` step) and keras-hub's `BertMaskedLM` (masked LM only: keras-hub has no
  NSP head; Keras `AdamW`);
- fine-tuning: ours `BertClassifier` against Model Garden's `BertClassifier` and
  keras-hub's `BertTextClassifier` (no preprocessor), the same optimizers.

All models use the exact (erf) GELU here, keras-hub's only form, so that every
implementation computes the same function. `--xla` adds ours compiled with XLA.

Command (default, ~3 minutes on an idle 2-core machine):
    python benchmarks/training_step.py
Larger runs:
    python benchmarks/training_step.py --case base:32:128 --repeats 5 --xla
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common  # noqa: E402
from benchmarks.models import (  # noqa: E402
    SIZES, VOCABULARY_SIZE, case_limit, forward_gflop, keras_hub_backbone, model_garden_inputs, ours_backbone,
    parse_case, random_inputs,
)

TITLE = "Training step (fixed shapes)"
LEARNING_RATE, TOTAL_STEPS, WARMUP_STEPS = 1e-4, 10_000, 1_000


def pretraining_batch(batch, length, predictions, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = random_inputs(batch, length, seed)
    positions = np.sort(np.stack([rng.choice(np.arange(1, length - 1), predictions, replace=False)
                                  for _ in range(batch)]), axis=1).astype("int32")
    x["masked_lm_positions"] = positions
    y = {"masked_lm_ids": rng.integers(1000, VOCABULARY_SIZE, (batch, predictions)).astype("int32"),
         "masked_lm_weights": np.ones((batch, predictions), "float32"),
         "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype("int32")}
    return x, y


# --- ours ----------------------------------------------------------------------------------
def ours_step(task, size, x, y, jit=False):
    from keras_bert_pkg.models.bert_classifier import BertClassifier
    from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
    from keras_bert_pkg.training.optimizers import create_optimizer

    backbone = ours_backbone(size, "gelu")
    optimizer = create_optimizer(LEARNING_RATE, TOTAL_STEPS, WARMUP_STEPS)
    if task == "pretrain":
        model = BertPretrainer(backbone)
        model.compile(optimizer=optimizer, jit_compile=jit)
        return lambda: model.train_on_batch(x, y)
    model = BertClassifier(backbone, num_classes=2)
    model.compile(optimizer=optimizer, jit_compile=jit)
    labels = y["next_sentence_labels"][:, 0]
    features = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    return lambda: model.train_on_batch(features, labels)


# --- Model Garden --------------------------------------------------------------------------
def model_garden_step(task, size, x, y):
    import tensorflow as tf
    import tf_keras
    from official.nlp import optimization
    from official.nlp.modeling import layers, models, networks

    num_layers, hidden, heads, inner = SIZES[size]
    encoder = networks.BertEncoder(vocab_size=VOCABULARY_SIZE, hidden_size=hidden, num_layers=num_layers,
                                   num_attention_heads=heads, inner_dim=inner, type_vocab_size=2,
                                   inner_activation=lambda t: tf_keras.activations.gelu(t, approximate=False),
                                   dict_outputs=True)
    optimizer = optimization.create_optimizer(LEARNING_RATE, TOTAL_STEPS, WARMUP_STEPS)
    inputs = model_garden_inputs(x)
    if task == "pretrain":
        model = models.BertPretrainerV2(
            encoder_network=encoder,
            mlm_activation=lambda t: tf_keras.activations.gelu(t, approximate=False),
            classification_heads=[layers.ClassificationHead(inner_dim=hidden, num_classes=2,
                                                            name="next_sentence")])
        inputs["masked_lm_positions"] = x["masked_lm_positions"]

        def loss_fn(outputs):
            per_token = tf_keras.losses.sparse_categorical_crossentropy(
                y["masked_lm_ids"], tf.cast(outputs["mlm_logits"], tf.float32), from_logits=True)
            weights = y["masked_lm_weights"]
            mlm = tf.math.divide_no_nan(tf.reduce_sum(per_token * weights), tf.reduce_sum(weights))
            nsp = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
                y["next_sentence_labels"], tf.cast(outputs["next_sentence"], tf.float32), from_logits=True))
            return mlm + nsp
    else:
        model = models.BertClassifier(network=encoder, num_classes=2)
        labels = y["next_sentence_labels"][:, 0]

        def loss_fn(outputs):
            return tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
                labels, tf.cast(outputs, tf.float32), from_logits=True))

    inputs = {k: tf.constant(v) for k, v in inputs.items()}
    # float16 needs loss scaling; Model Garden's trainer wraps its optimizer so (base_task.py)
    scaled = tf_keras.mixed_precision.global_policy().name == "mixed_float16"
    if scaled:
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(model(inputs, training=True))
            scaled_loss = optimizer.get_scaled_loss(loss) if scaled else loss
        grads = tape.gradient(scaled_loss, model.trainable_variables)
        if scaled:
            grads = optimizer.get_unscaled_gradients(grads)
        grads, _ = tf.clip_by_global_norm(grads, 1.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: step().numpy()


# --- keras-hub -----------------------------------------------------------------------------
def keras_hub_step(task, size, x, y):
    import keras
    import keras_hub

    backbone = keras_hub_backbone(size)
    optimizer = keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=0.01, epsilon=1e-6,
                                       global_clipnorm=1.0)
    features = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    if task == "pretrain":
        model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[keras.metrics.SparseCategoricalAccuracy()])
        features["mask_positions"] = x["masked_lm_positions"]
        return lambda: model.train_on_batch(features, y["masked_lm_ids"],
                                            sample_weight=y["masked_lm_weights"])
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    labels = y["next_sentence_labels"][:, 0]
    return lambda: model.train_on_batch(features, labels)


def time_group(spec):
    """Builds ours and one peer for one (task, precision) and times them in turns; returns a
    JSON-able dict: each name's `Timing` fields, or the peer's failure."""
    size, batch, length = parse_case(spec["case"])
    x, y = pretraining_batch(batch, length, spec["predictions"])
    task, peer, peer_name = spec["task"], spec["peer"], spec["peer_name"]
    builders = {
        "ours": lambda: ours_step(task, size, x, y),
        peer_name: {"Model Garden": lambda: model_garden_step(task, size, x, y),
                    "keras-hub": lambda: keras_hub_step(task, size, x, y),
                    "ours + XLA": lambda: ours_step(task, size, x, y, jit=True)}[peer],
    }
    steps = {}
    common.set_policies(spec["precision"])
    try:
        for name, build in builders.items():
            try:
                steps[name] = build()
                steps[name]()  # the first step traces; a failure shows here
            except Exception as e:  # a peer failing in this set-up is reported, not fatal
                if name == "ours":
                    raise
                message = str(e).strip().splitlines()
                reason = next((m.strip() for m in reversed(message) if "Error" in m),
                              message[-1] if message else "")
                return {"failed": f"{name} failed: {type(e).__name__}: {reason[:300]}"}
    finally:
        common.set_policies("float32")
    timings = common.time_interleaved(steps, batch, repeats=spec["repeats"], warmup=spec["warmup"],
                                      min_sample_seconds=spec["min_sample_seconds"])
    return {name: {"items": t.items, "calls": t.calls, "wall": t.wall, "cpu": t.cpu}
            for name, t in timings.items()}


def main(argv=None):
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--case", default="base:8:128", help="size:batch:length")
    parser.add_argument("--predictions", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--tasks", default="pretrain,finetune")
    parser.add_argument("--precisions", default=common.default_precisions(),
                        help="float32 and mixed_bfloat16 where the CPU has bfloat16 instructions")
    parser.add_argument("--peers", default="model_garden,keras_hub")
    parser.add_argument("--xla", action="store_true", help="add ours with jit_compile=True")
    parser.add_argument("--min_sample_seconds", type=float, default=0.5)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(time_group(json.loads(args.child))), flush=True)
        return None
    info = common.start(TITLE, args)
    size, batch, length = parse_case(args.case)
    peers = [p for p in args.peers.split(",") if p]
    rows, comparisons, notes = [], [], []
    groups = []  # each group: ours and one peer, alive together and timed in turns
    if "model_garden" in peers:
        groups.append("Model Garden")
    if "keras_hub" in peers:
        groups.append("keras-hub")
    if args.xla:
        groups.append("ours + XLA")
    for task in args.tasks.split(","):
        for precision in args.precisions.split(","):
            p = common.short_precision(precision)
            case = f"{task} {size} b{batch} s{length}" + (f" p{args.predictions}" if task == "pretrain" else "")
            limit = case_limit(size, batch, length, precision, args.no_gemm)
            for peer in groups:
                peer_name = peer + (" (MLM only)" if peer == "keras-hub" and task == "pretrain" else "")
                print(f"\n{case}, {precision}: ours and {peer_name}", flush=True)
                spec = {"task": task, "precision": precision, "peer": peer, "peer_name": peer_name,
                        "case": args.case, "predictions": args.predictions, "repeats": args.repeats,
                        "warmup": args.warmup, "min_sample_seconds": args.min_sample_seconds}
                # A fresh process per pair: in one process, Base-size pairs pile up past 24 GB.
                result = common.run_in_child(Path(__file__).resolve(), spec)
                if "failed" in result:
                    notes.append(f"{case} {p}: {result['failed']}")
                    print(f"  FAILED ({result['failed']})", flush=True)
                    continue
                timings = {name: common.Timing(name, r["items"], r["calls"], r["wall"], r["cpu"])
                           for name, r in result.items()}
                work = dict(gflop_per_item=3 * forward_gflop(size, length), limit_gflops=limit)
                ours_row = common.Row(case, "ours", p, timings["ours"], note=f"timed with {peer_name}", **work)
                peer_row = common.Row(case, peer_name, p, timings[peer_name], **work)
                rows += [ours_row, peer_row]
                comparisons.append((peer_row, ours_row) if peer == "ours + XLA" else (ours_row, peer_row))
                for row in (ours_row, peer_row):
                    print(f"  {row.implementation}: {row.timing.items_per_second:.2f} seq/s, "
                          f"{row.timing.items_per_cpu_second:.2f} seq/CPU-s", flush=True)
    notes += ["share of the limit: 3 x the encoder's forward matmul work (forward_gflop) per second, over "
              "the best matmul rate any framework here reaches at the feed-forward shape in this run",
              "ours is timed in turns with one peer at a time (two models in memory, each pair in a fresh "
              "process), so each peer has its own 'ours' row; ratios are within those pairs",
              "exact (erf) GELU in every implementation; AdamW with global-norm clipping 1.0 in all",
              "keras-hub (MLM only): keras-hub's BertMaskedLM has no next-sentence head"]
    return common.finish(TITLE, info, args, rows, comparisons, "seq", notes)


if __name__ == "__main__":
    main()

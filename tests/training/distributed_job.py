"""One process of the distribution tests (`test_strategies.py`, `test_multi_worker.py`).

Run as a script, never imported by pytest. Every mode prints one JSON line starting with
`RESULT ` on stdout.

    python tests/training/distributed_job.py trajectory --model both --steps 6
        Splits the CPU into 2 logical devices, trains the same tiny model on the same
        real data for `steps` steps with a global batch, once on one device and once
        with MirroredStrategy over both logical devices; reports both loss trajectories
        and the final weight difference.

    TF_CONFIG=... python tests/training/distributed_job.py finetune --output_dir d
        One worker of a MultiWorkerMirroredStrategy fine-tuning job: a tiny
        BertClassifier on real SST-2 rows; saves this worker's final weights to
        `d/weights_<task>.npz`. `--strategy default` runs the same job in one process.

    TF_CONFIG=... python tests/training/distributed_job.py construct
        Builds the `multi_worker` strategy from TF_CONFIG and reports what it is.

    TF_CONFIG=... python tests/training/distributed_job.py records --output_dir d
        Reads `d/*.tfrecord` (one int64 `id` a record) through
        `distribute_file_dataset` (FILE sharding) from `--skip_steps` on, and reports
        the ids each step gave this worker.
"""

import argparse
import json
import os
import sys

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, PROJECT_ROOT)
SHARED_DATA = os.environ.get("KERAS_BERT_SHARED_DATA",
                             os.path.join(os.path.dirname(PROJECT_ROOT), "shared", "data"))
VOCAB = os.path.join(SHARED_DATA, "vocab", "bert-base-uncased", "vocab.txt")
SAMPLE_TEXT = os.path.join(SHARED_DATA, "pretrain_text", "bert_sample_text", "sample_text.txt")
GLUE = os.path.join(SHARED_DATA, "glue")


def _backbone(vocabulary_size):
    from keras_bert_pkg.models.bert_backbone import BertBackbone

    return BertBackbone(vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=32,
                        intermediate_dim=64, max_sequence_length=64, dropout=0.0)


def sst2_dataset(rows, batch_size, sequence_length=32):
    """The first `rows` SST-2 training rows, tokenized, as an endless dataset of
    (features, labels) batches of `batch_size`, in file order."""
    import tensorflow as tf

    from keras_bert_pkg.data.glue import read_glue
    from keras_bert_pkg.text.bert_preprocessor import BertPreprocessor
    from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

    split = read_glue("sst-2", GLUE, "train").subset(rows)
    preprocessor = BertPreprocessor(BertTokenizer(VOCAB), sequence_length=sequence_length)
    features = {k: v.numpy() for k, v in preprocessor(split.features).items()}
    ds = tf.data.Dataset.from_tensor_slices((features, split.labels))
    return ds.batch(batch_size, drop_remainder=True).repeat()


def sample_text_dataset(batch_size, seq_length=64, max_predictions_per_seq=10, seed=0,
                        whole_word_masking=False):
    """Dynamically masked pre-training batches of BERT's own sample text."""
    from keras_bert_pkg.data.pretraining_documents import read_documents
    from keras_bert_pkg.data.pretraining_instances import MaskingVocabulary
    from keras_bert_pkg.data.pretraining_stream import pretraining_stream_dataset
    from keras_bert_pkg.text.bert_tokenizer import BertTokenizer

    tokenizer = BertTokenizer(VOCAB)
    documents = read_documents([SAMPLE_TEXT], tokenizer)
    return pretraining_stream_dataset(documents, MaskingVocabulary.from_tokenizer(tokenizer),
                                      batch_size, seq_length=seq_length,
                                      max_predictions_per_seq=max_predictions_per_seq, seed=seed,
                                      whole_word_masking=whole_word_masking)


def build_model(kind, steps):
    """A compiled tiny model (BERT's AdamW, warm-up + decay, clipnorm 1), built in the
    current strategy's scope by the caller."""
    import keras

    from keras_bert_pkg.models.bert_classifier import BertClassifier
    from keras_bert_pkg.models.bert_pretrainer import BertPretrainer
    from keras_bert_pkg.training.optimizers import create_optimizer

    keras.utils.set_random_seed(0)
    backbone = _backbone(30522)
    optimizer = create_optimizer(1e-3, total_steps=steps, warmup_steps=max(1, steps // 4))
    if kind == "classifier":
        model = BertClassifier(backbone, num_classes=2, dropout=0.0)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["sparse_categorical_accuracy"])
    else:
        model = BertPretrainer(backbone)
        model.compile(optimizer=optimizer)
    return model


def _weights(model):
    return [w.numpy() if hasattr(w, "numpy") else w for w in model.get_weights()]


def trajectory(args):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas)
    import keras_bert_pkg  # noqa: F401
    from keras_bert_pkg import keras_workarounds
    from keras_bert_pkg.distribute.strategies import get_strategy

    keras_workarounds.install()

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    # One strategy of each kind for the whole process (a second MirroredStrategy over the
    # same devices would reuse its collective keys).
    strategies = (("one_device", get_strategy("one_device", devices=devices[:1])),
                  ("mirrored", get_strategy("mirrored", devices=devices)))
    for kind in (["classifier", "pretrainer"] if args.model == "both" else [args.model]):
        _trajectory(args, kind, devices, strategies)


def _trajectory(args, kind, devices, strategies):
    import numpy as np
    import tensorflow as tf

    from keras_bert_pkg.distribute.batch_sizes import per_replica_batch_size

    # The same global batches for both runs (the masking stream draws new random masks
    # each time it is built in one process).
    if kind == "classifier":
        source = sst2_dataset(args.batch_size * args.steps, args.batch_size)
    else:
        source = sample_text_dataset(args.batch_size)
    batches = list(source.take(args.steps).as_numpy_iterator())
    stacked = tf.nest.map_structure(lambda *b: np.stack(b), *batches)
    runs = {}
    for name, strategy in strategies:
        with strategy.scope():
            model = build_model(kind, args.steps)
        ds = tf.data.Dataset.from_tensor_slices(stacked)  # one element = one global batch
        history = model.fit(ds, epochs=args.steps, steps_per_epoch=1, verbose=0)
        runs[name] = {
            "replicas": int(strategy.num_replicas_in_sync),
            "per_replica_batch_size": per_replica_batch_size(args.batch_size, strategy),
            "loss": [float(v) for v in history.history["loss"]],
            "weights": _weights(model),
        }
    one, mirrored = runs["one_device"], runs["mirrored"]
    loss_one, loss_mirrored = np.array(one["loss"]), np.array(mirrored["loss"])
    weight_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one["weights"], mirrored["weights"]))
    result = {
        "model": kind,
        "devices": devices,
        "global_batch_size": args.batch_size,
        "replicas": {k: v["replicas"] for k, v in runs.items()},
        "per_replica_batch_size": {k: v["per_replica_batch_size"] for k, v in runs.items()},
        "loss": {k: v["loss"] for k, v in runs.items()},
        "max_abs_loss_diff": float(np.max(np.abs(loss_one - loss_mirrored))),
        "max_rel_loss_diff": float(np.max(np.abs(loss_one - loss_mirrored) / np.abs(loss_one))),
        "max_abs_weight_diff": weight_diff,
    }
    print("RESULT " + json.dumps(result), flush=True)


def finetune(args):
    import keras_bert_pkg  # noqa: F401
    from keras_bert_pkg import keras_workarounds
    from keras_bert_pkg.distribute.batch_sizes import per_replica_batch_size
    from keras_bert_pkg.distribute.input_sharding import shard_dataset
    from keras_bert_pkg.distribute.strategies import get_strategy
    from keras_bert_pkg.distribute.strategy_info import describe_strategy

    keras_workarounds.install()
    strategy = get_strategy(args.strategy)  # first: multi_worker sets up the collective runtime
    import numpy as np

    info = describe_strategy(strategy)
    kind = "pretrainer" if args.model == "pretrainer" else "classifier"
    with strategy.scope():
        model = build_model(kind, args.steps)
    if kind == "classifier":
        source = sst2_dataset(args.batch_size * args.steps, args.batch_size)
    else:  # masks drawn in Python: the same batches however the dataset is distributed
        source = sample_text_dataset(args.batch_size, whole_word_masking=True)
    ds = shard_dataset(source, "data")
    history = model.fit(ds, epochs=args.steps, steps_per_epoch=1, verbose=0)
    os.makedirs(args.output_dir, exist_ok=True)
    weights = _weights(model)
    path = os.path.join(args.output_dir, f"weights_{info['task'].replace(':', '_')}.npz")
    np.savez(path, *weights)
    result = dict(info, loss=[float(v) for v in history.history["loss"]],
                  history={k: [float(v) for v in vs] for k, vs in history.history.items()},
                  iterations=int(model.optimizer.iterations.numpy()),
                  per_replica_batch_size=per_replica_batch_size(args.batch_size, strategy),
                  global_batch_size=args.batch_size, weights_file=path)
    print("RESULT " + json.dumps(result), flush=True)


def records(args):
    """Which records each worker's replicas get per step from `distribute_file_dataset`
    (TFRecords of one int64 `id` each), starting at `--skip_steps`."""
    import keras_bert_pkg  # noqa: F401
    from keras_bert_pkg.distribute.input_sharding import distribute_file_dataset
    from keras_bert_pkg.distribute.strategies import get_strategy

    strategy = get_strategy("multi_worker")
    import tensorflow as tf

    def make(files, batch_size, skip):
        ds = tf.data.TFRecordDataset(files).map(
            lambda r: tf.io.parse_single_example(r, {"id": tf.io.FixedLenFeature([], tf.int64)})["id"])
        return ds.repeat().batch(batch_size, drop_remainder=True).skip(skip)

    files = sorted(tf.io.gfile.glob(os.path.join(args.output_dir, "*.tfrecord")))
    dataset = distribute_file_dataset(strategy, files, make, args.batch_size, args.skip_steps)
    iterator = iter(dataset)
    steps = []
    for _ in range(args.steps):
        batch = next(iterator)
        steps.append([int(i) for part in strategy.experimental_local_results(batch) for i in part.numpy()])
    task = strategy.cluster_resolver.task_id
    print("RESULT " + json.dumps({"task": task, "steps": steps}), flush=True)


def construct(args):
    import keras_bert_pkg  # noqa: F401
    from keras_bert_pkg.distribute.batch_sizes import batch_sizes
    from keras_bert_pkg.distribute.strategies import get_strategy
    from keras_bert_pkg.distribute.strategy_info import describe_strategy
    from keras_bert_pkg.training.precision import resolve_precision

    strategy = get_strategy("multi_worker")
    result = dict(describe_strategy(strategy), mixed_policy=resolve_precision("mixed", strategy),
                  batch_sizes=list(batch_sizes(strategy, global_batch_size=8)))
    print("RESULT " + json.dumps(result), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["trajectory", "finetune", "construct", "records"])
    p.add_argument("--model", choices=["classifier", "pretrainer", "both"], default="classifier")
    p.add_argument("--skip_steps", type=int, default=0, help="records: steps already done")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch_size", type=int, default=8, help="global batch size")
    p.add_argument("--output_dir", default=None)
    p.add_argument("--strategy", default="multi_worker", help="finetune: the strategy (default: TF_CONFIG's cluster)")
    args = p.parse_args(argv)
    {"trajectory": trajectory, "finetune": finetune, "construct": construct,
     "records": records}[args.mode](args)


if __name__ == "__main__":
    main()

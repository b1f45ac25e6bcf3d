"""Every place this package works around Keras or TensorFlow behaviour or relies on Keras
internals.

Nothing here runs on import. Each workaround names the upstream issue, checks that the
internals it relies on are there (`check_internals`), and is covered by
`tests/test_keras_workarounds.py`, which fails when Keras changes those internals and
when a bug the workaround exists for is fixed upstream (then delete the workaround).
Verified on Keras `TESTED_KERAS` (TensorFlow backend).

1. `install()`, for `fit` / `evaluate` under a `tf.distribute` strategy with several
   replicas (call it once, before training; `training.recipe_flags` does):
   - Before the first step, Keras pulls the first distributed batch and averages it over
     the replicas (`strategy.reduce("MEAN", batch)`) only to learn its shapes and dtypes.
     That fails on bool tensors (a `BertPreprocessor`'s `padding_mask`) and, under
     `MultiWorkerMirroredStrategy`, on dict inputs (keras-team/keras#20329); it also
     spends the dataset's first iterator, so a shuffled dataset then trains on its second
     order. Patched: the build reads shapes and dtypes from the dataset's
     `element_spec` (replica 0's), pulling a batch only when there is no spec.
   - Each step's logs are averaged over the workers with
     `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars ("Invalid
     reduction dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388).
     Patched: scalars get a batch axis of 1 first.
2. `clip_after_all_reduce(optimizer)`: Keras clips each replica's gradient before the
   replicas' gradients are summed (tensorflow/tensorflow#33929: "before gradients get
   aggregated (usually wrong)"), so BERT's clip at global norm 1.0 would act on N
   partial gradients. The optimizer instance's clipping sums first, clips, and hands
   each replica its share. `training.optimizers.create_optimizer` applies it.
3. `upgrade_weights_store(store, ...)`: rewrites the weights of a `.keras` /
   `.weights.h5` file written before a layer's layout changed, as Keras reads it (the
   store's h5 file is replaced by an upgraded in-memory copy). `BertBackbone` calls it
   for files of keras_bert_pkg 0.1 (`layers.bert_encoder_block`).
4. `bias_add(x, bias)`: `tf.nn.bias_add` whose bias gradient is summed in float32.
   TensorFlow's CPU `BiasAddGrad` sums a bfloat16 gradient in bfloat16
   (tensorflow/tensorflow#86378 reports its CPU and GPU results differing): over the
   1,024 tokens of a BERT batch of 8 x 128 its column sums were off by 7.9 on average
   (sums up to 422; 0.49, half a bfloat16 step, when summed in float32), so every bias
   added with `tf.nn.bias_add` in mixed_bfloat16 training on a CPU got a gradient ~2.5%
   wrong (Keras's `Dense` adds with `add`, whose gradient `Sum` accumulates in float32). The gradient
   here is `tf.reduce_sum`, which accumulates in float32 (and was faster: 1.07 vs
   1.31 ms for [1024, 3072] on a 2-core AMX CPU). The forward op is `BiasAdd` itself, so
   TensorFlow still fuses `MatMul + BiasAdd`. Verified on TensorFlow `TESTED_TENSORFLOW`.
5. `quantized_matmul(...)`: an int8 matmul through TensorFlow's oneDNN kernel with
   per-column weight scales, a bfloat16 or float32 output and, in a process that assumes
   frozen weights, the weights converted to oneDNN's layout once. TensorFlow's public int8
   op (`QuantizedMatMulWithBiasAndDequantize`) takes one weight scale per tensor (a
   per-column scale is then a separate division over the output), returns float32 only,
   and converts the weights on every call: its weight cache is compiled out of oneDNN-3
   builds (tensorflow/tensorflow#60378: "weight caching ... will be added in a future
   PR"; #61277 added it to the float matmul only). TensorFlow's internal
   `_QuantizedMatMul` (the op Intel Neural Compressor's int8 graphs use) does all three;
   it has no Python wrapper, so it is built by name into the graph being traced
   (`Graph._create_op_internal`). Verified on TensorFlow `TESTED_TENSORFLOW`.
"""

import io
import warnings

import h5py
import keras
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

try:  # the internals these workarounds use (check_internals tells what is missing)
    from keras.src.backend.tensorflow import trainer as _keras_trainer
    from keras.src.saving.saving_lib import H5IOStore as _H5IOStore
except ImportError:  # pragma: no cover (another Keras layout)
    _keras_trainer = _H5IOStore = None

TESTED_KERAS = ("3.10", "3.15")
TESTED_TENSORFLOW = ("2.20", "2.20")


def _keras_version():
    return tuple(int(part) for part in keras.__version__.split(".")[:2])


def _newer_than_tested():
    return _keras_version() > tuple(int(part) for part in TESTED_KERAS[1].split("."))


def check_internals():
    """The Keras internals this module relies on, and whether each is there as expected.

    Returns: dict name → True/False.
    """
    trainer_class = getattr(_keras_trainer, "TensorFlowTrainer", None)
    iterator_class = getattr(_keras_trainer, "TFEpochIterator", None)
    return {
        "TensorFlowTrainer._maybe_symbolic_build": callable(
            getattr(trainer_class, "_maybe_symbolic_build", None)),
        "trainer.reduce_per_replica": callable(getattr(_keras_trainer, "reduce_per_replica", None)),
        "TFEpochIterator._distributed_dataset": iterator_class is not None
            and "_distributed_dataset" in iterator_class.__init__.__code__.co_names,
        "Optimizer._clip_gradients": callable(
            getattr(keras.optimizers.Optimizer, "_clip_gradients", None)),
        "H5IOStore.h5_file": _H5IOStore is not None
            and "h5_file" in _H5IOStore.__init__.__code__.co_names,
        "_QuantizedMatMul": _QUANTIZED_MATMUL_ATTRS <= _op_attrs("_QuantizedMatMul"),
        "Graph._create_op_internal": callable(getattr(tf.Graph, "_create_op_internal", None)),
    }


# --- 1. fit under several replicas ------------------------------------------------------


def first_replica_spec(dataset):
    """The `element_spec` of a (distributed) dataset with per-replica specs replaced by
    replica 0's: the shapes and dtypes one replica's batch has. None when `dataset` has
    no spec."""
    spec = getattr(dataset, "element_spec", None)
    if spec is None:
        return None

    def one(leaf):
        if type(leaf).__name__ == "PerReplicaSpec":
            return leaf._component_specs[0]
        return leaf

    return tf.nest.map_structure(one, spec)


def _patched_symbolic_build(original):
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None and self._distribute_strategy is not None:
            data_batch = first_replica_spec(getattr(iterator, "_distributed_dataset", None))
            if data_batch is None:
                strategy = self.distribute_strategy
                for _, _, batches in iterator:
                    data_batch = tf.nest.map_structure(
                        lambda v: strategy.experimental_local_results(v)[0]
                        if isinstance(v, tf.distribute.DistributedValues) else v, next(batches))
                    break
            iterator = None
        return original(self, iterator=iterator, data_batch=data_batch)

    _maybe_symbolic_build.keras_bert_pkg_workaround = True
    return _maybe_symbolic_build


def _patched_reduce_per_replica(original):
    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            def as_vector(value):
                if not isinstance(value, (tf.Tensor, tf.distribute.DistributedValues)):
                    return value
                first = (strategy.experimental_local_results(value)[0]
                         if isinstance(value, tf.distribute.DistributedValues) else value)
                if first.shape.rank != 0:
                    return value
                return strategy.run(lambda t: tf.reshape(t, [1]), args=(value,))

            values = tf.nest.map_structure(as_vector, values)
        return original(values, strategy, reduction)

    reduce_per_replica.keras_bert_pkg_workaround = True
    return reduce_per_replica


def is_installed():
    """Whether `install()` has patched Keras in this process."""
    build = getattr(getattr(_keras_trainer, "TensorFlowTrainer", None), "_maybe_symbolic_build", None)
    return bool(getattr(build, "keras_bert_pkg_workaround", False))


def install():
    """Installs the workarounds of `fit` under several replicas (module doc, item 1).

    Idempotent. Call it before training under `MirroredStrategy`,
    `MultiWorkerMirroredStrategy` or `TPUStrategy`.

    Raises:
        RuntimeError: when the Keras internals it patches are not there (another Keras
            layout): then training under several replicas is not supported.
    """
    checks = check_internals()
    missing = [name for name in ("TensorFlowTrainer._maybe_symbolic_build",
                                 "trainer.reduce_per_replica",
                                 "TFEpochIterator._distributed_dataset") if not checks[name]]
    if missing:
        raise RuntimeError(
            f"keras_bert_pkg.keras_workarounds.install: Keras {keras.__version__} lacks "
            f"{missing}; the workarounds were verified on Keras {TESTED_KERAS[0]}-"
            f"{TESTED_KERAS[1]}. Use one of those for training with several replicas.")
    if _newer_than_tested():
        warnings.warn(f"keras_bert_pkg.keras_workarounds: Keras {keras.__version__} is newer than "
                      f"the tested {TESTED_KERAS[1]}; the distribution workarounds are applied "
                      "but may no longer be needed.", stacklevel=2)
    if is_installed():
        return
    trainer_class = _keras_trainer.TensorFlowTrainer
    trainer_class._maybe_symbolic_build = _patched_symbolic_build(trainer_class._maybe_symbolic_build)
    _keras_trainer.reduce_per_replica = _patched_reduce_per_replica(_keras_trainer.reduce_per_replica)


# --- 2. clipping after the all-reduce ----------------------------------------------------


def clip_after_all_reduce(optimizer):
    """Makes `optimizer` clip the gradient summed over the replicas, as on one device.

    With several replicas the optimizer sums the gradients itself, clips the sum, and
    hands each replica `clipped / N` to Keras's own sum, which rebuilds the clipped
    global gradient (one extra all-reduce per step, only when clipping is on). Sparse
    gradients (an embedding's `IndexedSlices`) are made dense before clipping, on any
    number of replicas: Keras's norm of `IndexedSlices` adds the squares of their rows,
    counting a token seen twice in the batch as two rows instead of one summed row, so
    it would differ between one device and several. The optimizer's update densifies
    these gradients anyway. A global norm is TensorFlow's `tf.clip_by_global_norm` (the
    same formula as Keras's, with one kernel per tensor for its norm). The class is
    unchanged (the instance's clipping is wrapped), so the optimizer saves and loads as
    before.

    Returns: the same optimizer.
    """
    if getattr(optimizer, "clips_after_all_reduce", False):
        return optimizer
    if not check_internals()["Optimizer._clip_gradients"]:
        raise RuntimeError(f"Keras {keras.__version__}: optimizers have no _clip_gradients; "
                           f"clip_after_all_reduce was verified on Keras {TESTED_KERAS}.")
    keras_clip = optimizer._clip_gradients

    def _clip_gradients(grads):
        if not (optimizer.global_clipnorm or optimizer.clipnorm or optimizer.clipvalue):
            return keras_clip(grads)
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        present = [i for i, g in enumerate(grads) if g is not None]
        dense = [tf.convert_to_tensor(grads[i]) for i in present]
        if replicas > 1:
            dense = context.all_reduce(tf.distribute.ReduceOp.SUM, dense)
        if optimizer.global_clipnorm:
            # TensorFlow's clip takes each tensor's norm with one `L2Loss` kernel, without
            # Keras's squared copy of every gradient: 42 vs 79 ms on BERT-Base's gradients
            # on a 2-core CPU. Same formula (and NaN for a non-finite norm).
            clipped, _ = tf.clip_by_global_norm(dense, optimizer.global_clipnorm)
        else:
            clipped = keras_clip(list(dense))
        out = list(grads)
        for i, g in zip(present, clipped):
            out[i] = g / tf.cast(replicas, g.dtype) if replicas > 1 else g
        return out

    optimizer._clip_gradients = _clip_gradients
    optimizer.clips_after_all_reduce = True
    return optimizer


# --- 3. weights files of an older layout -------------------------------------------------


def upgrade_weights_store(store, needs_upgrade, upgrade):
    """Rewrites the weights Keras is reading, when they are of an older layout.

    Call it from a layer's `load_own_variables(store)`: Keras reads the rest of the
    model's weights from the same store afterwards.

    Args:
        store: the store `load_own_variables` received.
        needs_upgrade: `path -> bool`, true for a dataset path of the old layout.
        upgrade: `(path, numpy value) -> (new path, new value)` for every dataset.

    Returns: True when the store was upgraded.

    Raises:
        ValueError: for an old-layout file in a store that cannot be rewritten (a
            sharded weights file).
    """
    h5_file = getattr(store, "h5_file", None)
    if not isinstance(h5_file, h5py.File) or getattr(store, "mode", "r") != "r":
        return False
    datasets = {}
    h5_file.visititems(lambda name, item: datasets.__setitem__(name, item)
                       if isinstance(item, h5py.Dataset) else None)
    if not any(needs_upgrade(name) for name in datasets):
        return False
    if type(store) is not _H5IOStore:
        raise ValueError(f"{type(store).__name__}: a weights file of keras_bert_pkg 0.1 in a "
                         "sharded store cannot be upgraded; load and save it unsharded first.")
    upgraded = h5py.File(io.BytesIO(), "w")
    for name, dataset in datasets.items():
        new_name, value = upgrade(name, dataset[()])
        copy = upgraded.create_dataset(new_name, data=value)
        for key, attribute in dataset.attrs.items():
            copy.attrs[key] = attribute
    h5_file.close()
    store.h5_file = upgraded
    return True


# --- 4. the bias gradient of a bfloat16 BiasAdd -------------------------------------------


def bias_add(x, bias):
    """`tf.nn.bias_add(x, bias)` (`x` [..., n], `bias` [n]) whose bias gradient is summed in
    float32 (module doc, 4.); the same function and the same gradient for `x`.

    Example:
    >>> x = tf.ones([3000, 1], tf.bfloat16)
    >>> with tf.GradientTape() as tape:
    ...     b = tf.zeros([1], tf.bfloat16)
    ...     tape.watch(b)
    ...     y = bias_add(x, b)
    >>> float(tape.gradient(y, b)[0])  # 3000 in bfloat16 (TensorFlow's CPU kernel: 256.0)
    3008.0
    """

    @tf.custom_gradient
    def _bias_add(inputs, b):
        def gradient(dy):
            axes = tf.range(tf.rank(dy) - 1)
            return dy, tf.cast(tf.reduce_sum(dy, axis=axes), b.dtype)

        return tf.nn.bias_add(inputs, b), gradient

    return _bias_add(x, bias)


# --- 5. int8 matmul with per-column scales and cached weights ------------------------------

_QUANTIZED_MATMUL_ATTRS = {"T1", "T2", "Tbias", "Tout", "U", "fused_ops", "is_weight_const",
                           "is_bias_const", "input_quant_mode", "output_quant_mode",
                           "Tdevice_inputs", "Thost_inputs", "Tdevice_outputs", "Thost_outputs"}

_FUSED_ACTIVATIONS = {None: [], "gelu_exact": ["GeluExact"], "gelu_approximate": ["GeluApproximate"]}


def _op_attrs(name):
    op = op_def_registry.get(name)
    return set() if op is None else {attr.name for attr in op.attr}


def _attr(value):
    """An `AttrValue` of a dtype, a list of dtypes, a bool, a string or a list of strings."""
    if isinstance(value, tf.DType):
        return tf.compat.v1.AttrValue(type=value.as_datatype_enum)
    if isinstance(value, bool):
        return tf.compat.v1.AttrValue(b=value)
    if isinstance(value, str):
        return tf.compat.v1.AttrValue(s=value.encode())
    if all(isinstance(item, tf.DType) for item in value):
        return tf.compat.v1.AttrValue(list=tf.compat.v1.AttrValue.ListValue(
            type=[item.as_datatype_enum for item in value]))
    return tf.compat.v1.AttrValue(list=tf.compat.v1.AttrValue.ListValue(
        s=[item.encode() for item in value]))


def quantized_matmul(a, a_max, b, b_max, bias, output_dtype, activation=None, weights_constant=False):
    """`activation((a * a_max / 255) @ (b * b_max / 127) + bias)` on oneDNN's u8 x s8 kernel
    (module doc, 5.).

    Only while a graph is traced (`tf.function`): the op has no eager wrapper.

    Args:
        a: `[rows, in]` quint8 activations; `a_max`: scalar float, the value of 255.
        b: `[in, out]` qint8 weights; `b_max`: `[out]` float, each column's value of 127.
        bias: `[out]` float32, added after the scales.
        output_dtype: `tf.float32` or `tf.bfloat16` (only with `weights_constant`: for
            weights in TensorFlow's layout oneDNN 3.7 has no u8 x s8 -> bfloat16 kernel
            and runs its reference one, ~100x slower).
        activation: None, `"gelu_exact"` or `"gelu_approximate"` (tanh form), applied in the
            kernel.
        weights_constant: the kernel keeps the weights it converts first (only where
            weights never change: `frozen_weights.frozen_weights_assumed()`).
    """
    if activation not in _FUSED_ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(map(str, _FUSED_ACTIVATIONS))}, "
                         f"got {activation!r}.")
    graph = tf.compat.v1.get_default_graph()
    if tf.executing_eagerly() or not hasattr(graph, "_create_op_internal"):
        raise RuntimeError("quantized_matmul builds a graph op: call it inside a tf.function.")
    inputs = [tf.convert_to_tensor(a), tf.convert_to_tensor(b), tf.convert_to_tensor(bias, tf.float32),
              tf.zeros([], tf.float32), tf.cast(a_max, tf.float32),
              -tf.cast(b_max, tf.float32), tf.cast(b_max, tf.float32)]
    attrs = {
        "T1": tf.quint8, "T2": tf.qint8, "Tbias": tf.float32, "Tout": output_dtype, "U": tf.float32,
        "Tdevice_inputs": [tensor.dtype for tensor in inputs], "Thost_inputs": [],
        "Tdevice_outputs": [output_dtype], "Thost_outputs": [],
        "fused_ops": ["BiasAdd"] + _FUSED_ACTIVATIONS[activation] + ["Dequantize"],
        "is_weight_const": bool(weights_constant), "is_bias_const": False, "input_quant_mode": "SCALED", "output_quant_mode": "SCALED",
    }
    op = graph._create_op_internal("_QuantizedMatMul", inputs, dtypes=[output_dtype], name="QuantizedMatMul",
                                   attrs={key: _attr(value) for key, value in attrs.items()})
    output = op.outputs[0]
    output.set_shape([a.shape[0], b.shape[1]])
    return output

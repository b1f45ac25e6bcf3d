"""`fine_tune_resumably`: fine-tuning through `model.fit` that a killed run resumes exactly.

A checkpoint (`ResumableCheckpoint`: every model and optimizer variable, dropout seed
states included) is written at the end of every epoch, with the state of the callbacks
that keep one (`DevEvaluator`: dev history and the kept epoch's weights;
`StepLossLogger`: the loss curve). The training data is a deterministic, repeated
`tf.data.Dataset` (`bucketed_dataset(..., seed=...).repeat()`); a resumed run skips it
to the epoch it starts at. So a run killed at any step (SIGKILL included) and started
again with the same command continues after its last finished epoch and ends with the
same weights, dev metrics and curves as a run that was never stopped.

Each checkpoint records the run's settings (`run_key`): a checkpoint folder that holds
another run's checkpoint is an error, never a silent mix of two runs. A flag added since
the checkpoint was written matches while this run leaves it off (`run_keys.same_run`).

Example:
>>> import tempfile
>>> data = tf.data.Dataset.from_tensor_slices((np.ones((8, 1)), np.ones((8, 1))))
>>> data = data.shuffle(8, seed=0).batch(2).repeat()
>>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> folder = tempfile.mkdtemp()
>>> fine_tune_resumably(model, data, steps_per_epoch=4, total_steps=8, checkpoint_dir=folder,
...                     run_key="demo", verbose=0)
0
>>> fine_tune_resumably(model, data, steps_per_epoch=4, total_steps=8, checkpoint_dir=folder,
...                     run_key="demo", verbose=0, log=None)  # already done: resumes at the end
8
"""

import math

import keras
import numpy as np  # noqa: F401  (the doctest's data)
import tensorflow as tf  # noqa: F401  (the doctest's data)

from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint
from keras_bert_pkg.training.run_keys import same_run
from keras_bert_pkg.training.stop_after_steps import StopAfterSteps


def _keyed(callbacks):
    """`{key: callback}` of the callbacks that keep a state (`get_state`/`set_state`)."""
    return {f"{i}:{type(c).__name__}": c for i, c in enumerate(callbacks) if hasattr(c, "get_state")}


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a `ResumableCheckpoint` at the end of every epoch with the states of
    `callbacks` (place it after them, so their epoch-end work is in the checkpoint).

    Args:
        checkpoint: the `ResumableCheckpoint`.
        steps_per_epoch, total_steps: the run's epoch length and length, in steps.
        callbacks: the run's other callbacks.
        run_key: a string naming the run's settings, saved with each checkpoint.
    """

    def __init__(self, checkpoint, steps_per_epoch, total_steps, callbacks, run_key):
        super().__init__()
        self.checkpoint, self.run_key = checkpoint, run_key
        self.steps_per_epoch, self.total_steps = int(steps_per_epoch), int(total_steps)
        self.callbacks = _keyed(callbacks)

    def on_epoch_end(self, epoch, logs=None):
        states, extra = {}, {}
        for key, callback in self.callbacks.items():
            states[key], extra[key] = callback.get_state()
        step = min((epoch + 1) * self.steps_per_epoch, self.total_steps)
        self.checkpoint.save(step, {"run": self.run_key, "callbacks": states}, extra)


def fine_tune_resumably(model, dataset, steps_per_epoch, total_steps, checkpoint_dir=None, callbacks=(),
                        run_key="", verbose=2, log=print):
    """Trains a compiled model for `total_steps` steps in epochs of `steps_per_epoch`,
    resuming from the newest checkpoint in `checkpoint_dir` (module doc).

    Args:
        model: the compiled model.
        dataset: the endless, deterministic training `tf.data.Dataset`.
        steps_per_epoch: steps of one pass over the training data.
        total_steps: steps of the whole run (a fraction of epochs ends mid-epoch).
        checkpoint_dir: where the epoch checkpoints go (None: no checkpoints).
        callbacks: Keras callbacks; those with `get_state`/`set_state` (`DevEvaluator`,
            `StepLossLogger`) are saved and restored with the checkpoints.
        run_key: a string of the settings that make the run (`recipe_flags.run_key`).
        verbose: `fit`'s verbosity.
        log: where the resume line goes (`print`; None for silence).

    Returns: the step this call started at (0 for a fresh run; `total_steps` when the
    run had already finished: the callbacks' states are restored and their
    `on_train_end` runs, as at the end of training).

    Raises:
        ValueError: when `checkpoint_dir` holds a checkpoint of another run.
    """
    callbacks, total_steps, steps_per_epoch = list(callbacks), int(total_steps), int(steps_per_epoch)
    checkpoint = ResumableCheckpoint(checkpoint_dir, model, max_to_keep=1) if checkpoint_dir else None
    start = 0
    if checkpoint is not None and checkpoint.latest_step() is not None:
        state = checkpoint.restore()
        if not same_run(state.get("run"), run_key):
            raise ValueError(
                f"{checkpoint_dir} holds the checkpoint of another run (saved with settings "
                f"{state.get('run')!r}, this run's are {run_key!r}); remove it or use another output folder.")
        start = int(state["step"])
        for key, callback in _keyed(callbacks).items():
            callback.set_state(state["callbacks"][key], state["extra"].get(key, []))
        if log is not None:
            log(f"resuming at step {start} of {total_steps} from {checkpoint_dir}")
    if start >= total_steps:
        for callback in callbacks:
            callback.set_model(model)
            callback.on_train_end()
        return start
    saver = [EpochCheckpoint(checkpoint, steps_per_epoch, total_steps, callbacks, run_key)] if checkpoint else []
    model.fit(dataset.skip(start) if start else dataset, epochs=math.ceil(total_steps / steps_per_epoch),
              initial_epoch=start // steps_per_epoch, steps_per_epoch=steps_per_epoch,
              callbacks=callbacks + [StopAfterSteps(total_steps - start)] + saver, shuffle=False,
              verbose=verbose)
    return start

"""`resumable_fit`: `model.fit` for a fixed number of steps that survives being killed."""

import math
import os

import keras

from keras_bert_pkg.training.checkpoint_every_n_steps import CheckpointEveryNSteps
from keras_bert_pkg.training.resumable_checkpoint import ResumableCheckpoint


def resumable_fit(model, make_dataset, total_steps, checkpoint_dir, checkpoint_every=1000,
                  log_every=100, tensorboard_dir=None, callbacks=(), validation_data=None,
                  validation_steps=None, validation_every=1, max_to_keep=2, verbose="auto",
                  state_fn=None):
    """Trains a compiled model for `total_steps` steps, resuming from the newest checkpoint.

    A run killed at any point and started again with the same arguments ends with the
    same weights as an uninterrupted run: the newest checkpoint restores the model
    variables (dropout seed states included), the optimizer (step, moments) and the
    history, and `make_dataset(step)` must return the input positioned at that step
    (`pretraining_record_dataset(..., skip_batches=step)` and
    `pretraining_stream_dataset(..., skip_batches=step)` do), deterministically (set
    `keras.utils.set_random_seed` first).

    Keras epochs are `log_every` steps long: the logs (Keras progress bar, TensorBoard,
    the returned history) come every `log_every` steps.

    Args:
        model: a compiled `keras.Model`.
        make_dataset: `start_step -> tf.data.Dataset`, an endless dataset positioned at
            `start_step` batches.
        total_steps: global steps of the whole run.
        checkpoint_dir: checkpoint folder (`ResumableCheckpoint`).
        checkpoint_every: checkpoint period; a multiple of `log_every`.
        log_every: steps per Keras epoch (log line, history entry, TensorBoard point).
        tensorboard_dir: write TensorBoard logs there (None: no TensorBoard).
        callbacks: more Keras callbacks.
        validation_data, validation_steps: evaluated every `validation_every` epochs.
        max_to_keep: checkpoints kept.
        verbose: `fit`'s verbosity.
        state_fn: `step -> dict`, extra state saved with each checkpoint.

    Returns: `(history, start_step)`: the list of per-epoch log dicts (with `step`) of
    the whole run, resumed parts included, and the step this call started at (0 for a
    fresh run).

    Raises:
        ValueError: when `checkpoint_every` is not a multiple of `log_every`.
    """
    total_steps = int(total_steps)
    log_every = max(1, min(int(log_every), total_steps))
    if checkpoint_every % log_every:
        raise ValueError(
            f"checkpoint_every ({checkpoint_every}) must be a multiple of log_every ({log_every}).")
    checkpoint = ResumableCheckpoint(checkpoint_dir, model, max_to_keep=max_to_keep)
    state = checkpoint.restore()
    start = int(state["step"]) if state else 0
    history = state.get("history", []) if state else []
    if start >= total_steps:
        return history, start
    if start % log_every:
        raise ValueError(
            f"The checkpoint in {checkpoint_dir} is at step {start}, not a multiple of "
            f"log_every={log_every}; resume with the log_every of the first run.")

    saver = CheckpointEveryNSteps(checkpoint, checkpoint_every, total_steps=total_steps,
                                  start_step=start, history=history, state_fn=state_fn)
    all_callbacks = [saver]
    if tensorboard_dir:
        os.makedirs(tensorboard_dir, exist_ok=True)
        all_callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir, update_freq="epoch"))
    all_callbacks.extend(callbacks)
    model.fit(
        make_dataset(start),
        epochs=math.ceil(total_steps / log_every),
        initial_epoch=start // log_every,
        steps_per_epoch=log_every,
        callbacks=all_callbacks,
        validation_data=validation_data,
        validation_steps=validation_steps,
        validation_freq=validation_every,
        verbose=verbose,
    )
    return saver.history, start

"""A Keras callback that counts global steps, keeps a step-indexed history, saves a
`ResumableCheckpoint` every N steps and stops the run at an exact step."""

import keras


class CheckpointEveryNSteps(keras.callbacks.Callback):
    """Saves a `ResumableCheckpoint` every `every_n_steps` global steps.

    Checkpoints are written at the end of a Keras epoch whose last step is a multiple of
    `every_n_steps` (use an epoch length, `steps_per_epoch`, that divides it), and at the
    final step. Every epoch's logs are appended to `history` with their global `step`,
    and the history goes into the checkpoint, so a resumed run continues it.

    Args:
        checkpoint: a `ResumableCheckpoint`.
        every_n_steps: checkpoint period in global steps.
        total_steps: stop training at this global step (None: never).
        start_step: the global step the run starts (resumes) at.
        history: the history so far (a list of dicts).
        state_fn: optional `step -> dict` of extra state to save.
    """

    def __init__(self, checkpoint, every_n_steps, total_steps=None, start_step=0, history=None,
                 state_fn=None):
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}.")
        self.checkpoint = checkpoint
        self.every_n_steps = int(every_n_steps)
        self.total_steps = total_steps
        self.step = int(start_step)
        self.history = list(history or [])
        self.state_fn = state_fn
        self._epoch_start = self.step
        self.last_saved_step = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the last step run (more than one with
        # `steps_per_execution`).
        self.step = self._epoch_start + int(batch) + 1
        if self.total_steps is not None and self.step >= self.total_steps:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        entry = {"step": self.step, "epoch": int(epoch)}
        entry.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(entry)
        final = self.total_steps is not None and self.step >= self.total_steps
        if self.step % self.every_n_steps == 0 or final:
            self.save()

    def save(self):
        state = {"history": self.history}
        if self.state_fn is not None:
            state.update(self.state_fn(self.step))
        self.checkpoint.save(self.step, state)
        self.last_saved_step = self.step

"""StepLossLogger: the mean training loss of every N steps, the points of a training curve."""

import time

import keras


class StepLossLogger(keras.callbacks.Callback):
    """Records (and prints) the mean training loss of every `every` steps.

    Keras reports an epoch's running mean; each step's own loss is recovered from it, so
    the points are means over exactly `every` steps, across epoch boundaries.

    Args:
        every: steps per point.
        log: where the lines go (`print`; None for silence).

    Attributes: `points`, the list of means; `steps`, the step of each point.

    Example:
    >>> logger = StepLossLogger(every=2, log=None)
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=2, epochs=1,
    ...                     callbacks=[logger], verbose=0)
    >>> logger.steps
    [2, 4]
    """

    def __init__(self, every, log=print):
        super().__init__()
        self.every = max(int(every), 1)
        self.log = log
        self.points, self.steps = [], []
        self._sum, self._seen = 0.0, 0
        self._epoch_sum = 0.0

    def get_state(self):
        """`(JSON state, arrays)` for a resumable checkpoint (taken at an epoch's end)."""
        return {"points": self.points, "steps": self.steps, "sum": self._sum, "seen": self._seen}, []

    def set_state(self, state, arrays):
        """Restores `get_state`'s output."""
        self.points, self.steps = list(state["points"]), list(state["steps"])
        self._sum, self._seen = float(state["sum"]), int(state["seen"])

    def on_train_begin(self, logs=None):
        self._started, self._cpu = time.time(), time.process_time()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_sum = 0.0

    def on_train_batch_end(self, batch, logs=None):
        total = float(logs["loss"]) * (batch + 1)
        self._sum += total - self._epoch_sum
        self._epoch_sum, self._seen = total, self._seen + 1
        if self._seen % self.every == 0:
            self.points.append(self._sum / self.every)
            self.steps.append(self._seen)
            self._sum = 0.0
            if self.log is not None:
                self.log(f"step {self._seen}: loss {self.points[-1]:.4f} "
                         f"({time.time() - self._started:.0f} s, "
                         f"{time.process_time() - self._cpu:.0f} CPU-s)")

"""StopAfterSteps: ends `fit` after an exact number of steps (fractional epochs)."""

import keras


class StopAfterSteps(keras.callbacks.Callback):
    """Stops training after exactly `steps` optimizer steps, wherever they fall in an epoch.

    Example:
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> history = model.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=2, epochs=3,
    ...                     callbacks=[StopAfterSteps(5)], verbose=0)
    >>> int(model.optimizer.iterations)
    5
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = int(steps)
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True

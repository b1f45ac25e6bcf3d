"""DevEvaluator: scores the dev set after every epoch, and can keep the best epoch.

The paper selected its fine-tuning runs on the dev set; `keep_best=True` applies that
selection to the epochs of one run: the weights of the epoch with the best dev score are
put back into the model when training ends, and the evaluation of that epoch is the one
`last` holds.
"""

import time

import keras


class DevEvaluator(keras.callbacks.Callback):
    """Runs `evaluate(model)` at the end of every epoch.

    Args:
        evaluate: `model -> dict` with a float `"score"` (higher is better) and a
            JSON-able `"metrics"` dict; anything else in it (predictions, logits) is
            kept in `last` for the caller.
        keep_best: keep the weights of the best-scoring epoch (put back at the end of
            training) instead of the last epoch's.
        log: where the per-epoch lines go (`print`; None for silence).

    Attributes:
        history: the `metrics` of every epoch.
        last: the evaluation of the kept epoch (the last, or the best).
        best_epoch: the kept epoch, 1-based.
        seconds: wall seconds of the last evaluation.

    Example:
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> def evaluate(model):
    ...     error = float(np.abs(model.predict(np.ones((1, 1)), verbose=0) - 1).mean())
    ...     return {"score": -error, "metrics": {"error": error}}
    >>> evaluator = DevEvaluator(evaluate, keep_best=True, log=None)
    >>> history = model.fit(np.ones((8, 1)), np.ones((8, 1)), epochs=3, verbose=0,
    ...                     callbacks=[evaluator])
    >>> len(evaluator.history), evaluator.best_epoch in (1, 2, 3)
    (3, True)
    """

    def __init__(self, evaluate, keep_best=False, log=print):
        super().__init__()
        self.evaluate = evaluate
        self.keep_best = bool(keep_best)
        self.log = log
        self.history, self.last = [], None
        self.best_epoch, self.seconds = None, 0.0
        self._best_score, self._best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        started = time.time()
        result = self.evaluate(self.model)
        self.seconds = time.time() - started
        self.history.append(result["metrics"])
        better = self._best_score is None or result["score"] > self._best_score
        if better or not self.keep_best:
            self._best_score, self.best_epoch, self.last = result["score"], epoch + 1, result
            if self.keep_best:
                self._best_weights = self.model.get_weights()
        if self.log is not None:
            self.log(f"epoch {epoch + 1}: dev {result['metrics']} (score {result['score']:.4f}, "
                     f"{self.seconds:.0f} s)")

    def get_state(self):
        """`(JSON state, arrays)` for a resumable checkpoint: the history, the kept
        epoch's score and metrics, and (keep_best) its weights."""
        kept = None if self.last is None else {"score": self.last["score"], "metrics": self.last["metrics"]}
        state = {"history": self.history, "best_epoch": self.best_epoch, "best_score": self._best_score,
                 "kept": kept}
        return state, list(self._best_weights or [])

    def set_state(self, state, arrays):
        """Restores `get_state`'s output. The kept evaluation's predictions are not
        saved: `kept_evaluation` evaluates the kept weights again when they are needed."""
        self.history, self.best_epoch = list(state["history"]), state["best_epoch"]
        self._best_score, self.last = state["best_score"], state["kept"]
        self._best_weights = list(arrays) if arrays else None

    def kept_evaluation(self):
        """The evaluation of the kept epoch with all it returned (predictions included),
        evaluated again on the model's (kept) weights when it came from a checkpoint."""
        if self.last is None or set(self.last) == {"score", "metrics"}:
            self.last = self.evaluate(self.model)
        return self.last

    def on_train_end(self, logs=None):
        if self.keep_best and self._best_weights is not None:
            self.model.set_weights(self._best_weights)
            if self.log is not None:
                self.log(f"kept epoch {self.best_epoch} (best dev score {self._best_score:.4f})")

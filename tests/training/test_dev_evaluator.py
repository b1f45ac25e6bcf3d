"""DevEvaluator, StepLossLogger and StopAfterSteps on a model with known losses."""

import keras
import numpy as np

from keras_bert_pkg.training.dev_evaluator import DevEvaluator
from keras_bert_pkg.training.step_loss_logger import StepLossLogger
from keras_bert_pkg.training.stop_after_steps import StopAfterSteps
from tests.test_case import TestCase


def _model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False,
                                                                    kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


class CallbacksTest(TestCase):
    def test_keep_best_epoch_puts_the_best_weights_back(self):
        model = _model()
        x, y = np.ones((4, 1), "float32"), np.ones((4, 1), "float32")
        kernels = []

        def evaluate(m):
            kernel = float(m.get_weights()[0][0, 0])
            kernels.append(kernel)
            return {"score": -abs(kernel - 0.5), "metrics": {"kernel": kernel}, "extra": kernel}

        evaluator = DevEvaluator(evaluate, keep_best=True, log=None)
        model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=[evaluator])
        best = int(np.argmin([abs(k - 0.5) for k in kernels]))
        self.assertEqual(evaluator.best_epoch, best + 1)
        self.assertEqual([h["kernel"] for h in evaluator.history], kernels)
        self.assertAlmostEqual(float(model.get_weights()[0][0, 0]), kernels[best], places=6)
        self.assertEqual(evaluator.last["extra"], kernels[best])
        # Without keep_best the last epoch is kept and the weights are left alone.
        model = _model()
        evaluator = DevEvaluator(evaluate, log=None)
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[evaluator])
        self.assertEqual(evaluator.best_epoch, 3)
        self.assertEqual(evaluator.last["extra"], float(model.get_weights()[0][0, 0]))

    def test_step_losses_and_exact_stop(self):
        model = _model()
        x, y = np.ones((12, 1), "float32"), np.full((12, 1), 2.0, "float32")
        logger = StepLossLogger(every=2, log=None)
        stop = StopAfterSteps(5)
        losses = []  # each step's own loss, from Keras's running mean of the epoch

        def record(batch, logs):
            epoch_losses = losses[len(losses) - batch:] if batch else []
            losses.append(float(logs["loss"]) * (batch + 1) - sum(epoch_losses))

        record = keras.callbacks.LambdaCallback(on_train_batch_end=record)
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[logger, stop, record])
        self.assertEqual(int(model.optimizer.iterations), 5)  # 3 steps an epoch: stopped mid-epoch 2
        self.assertEqual(logger.steps, [2, 4])
        self.assertAllClose(logger.points, [np.mean(losses[0:2]), np.mean(losses[2:4])], atol=1e-5)

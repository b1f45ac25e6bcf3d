"""The learning-rate schedule of BERT: linear warm-up, then linear decay to zero."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_bert_pkg")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak_learning_rate` over `warmup_steps`, then linear
    decay to `end_learning_rate` at `total_steps` (constant after).

    Args:
        peak_learning_rate: the rate reached at the end of warm-up.
        total_steps: the step at which the decay reaches `end_learning_rate`.
        warmup_steps: warm-up length (the paper: 10,000 steps in pre-training,
            10% of training in our fine-tuning recipes).
        end_learning_rate: the final rate.

    Example:
    >>> s = WarmupLinearDecay(1e-4, total_steps=100, warmup_steps=10)
    >>> [round(float(s(i)), 7) for i in (0, 5, 10, 55, 100)]
    [0.0, 5e-05, 0.0001, 5e-05, 0.0]
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0, end_learning_rate=0.0):
        if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps <= total_steps and total_steps > 0; got "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, end = self.peak_learning_rate, self.end_learning_rate
        warmup = ops.cast(self.warmup_steps, "float32")
        decay_steps = ops.cast(max(self.total_steps - self.warmup_steps, 1), "float32")
        warm = peak * step / ops.maximum(warmup, 1.0)
        progress = ops.clip((step - warmup) / decay_steps, 0.0, 1.0)
        decayed = end + (peak - end) * (1.0 - progress)
        return ops.where(step < warmup, warm, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "end_learning_rate": self.end_learning_rate,
        }

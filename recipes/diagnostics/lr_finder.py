"""The learning-rate range test: which learning rate does this model train with?

Smith (2017, "Cyclical learning rates"), popularised as fastai's LR finder: train for a
few hundred steps while the learning rate grows exponentially from `min_lr` to `max_lr`,
record the smoothed training loss at each step, and stop once it has blown up. Too small
a rate and the loss barely moves; too large and it climbs. The suggestion is a tenth of
the rate at the lowest smoothed loss: the loss still falls fast there, and it is safely
below the point of divergence.

    finding = find_learning_rate(model, train_ds)     # a compiled model, a batched dataset
    print(finding.suggestion)

The model's weights and optimizer state are put back afterwards, so the test changes
nothing; it costs `steps` training steps.
"""

import dataclasses
import math

import keras
import numpy as np


@dataclasses.dataclass
class LearningRateFinding:
    """What `find_learning_rate` returns.

    Attributes:
        learning_rates: the rate of each step.
        losses: the smoothed training loss after each step (bias-corrected moving
            average).
        suggestion: a tenth of the rate at the lowest smoothed loss.
        diverged: whether the loss exceeded `4x` its lowest value before the end.
    """

    learning_rates: list
    losses: list
    suggestion: float
    diverged: bool


class _Sweep(keras.callbacks.Callback):
    def __init__(self, rates, smoothing):
        super().__init__()
        self.rates, self.smoothing = rates, smoothing
        self.losses, self.average, self.best, self.diverged = [], 0.0, math.inf, False

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rates[batch])

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"]) if logs and "loss" in logs else math.nan
        # Keras reports the mean loss since the epoch began; undo that to get this step's.
        step = loss * (batch + 1) - getattr(self, "_sum", 0.0)
        self._sum = loss * (batch + 1)
        self.average = self.smoothing * self.average + (1 - self.smoothing) * step
        smoothed = self.average / (1 - self.smoothing ** (batch + 1))
        self.losses.append(smoothed)
        if not math.isfinite(smoothed) or smoothed > 4 * self.best:
            self.diverged = True
            self.model.stop_training = True
        self.best = min(self.best, smoothed)


def find_learning_rate(model, dataset, *, min_lr=1e-6, max_lr=1.0, steps=100, smoothing=0.9):
    """Runs the learning-rate range test on a compiled model.

    Args:
        model: a compiled `keras.Model` whose optimizer has a constant learning rate
            (not a schedule).
        dataset: a batched training `tf.data.Dataset`; it is repeated as needed.
        min_lr: the first rate. Defaults to `1e-6`.
        max_lr: the last rate. Defaults to `1.0`.
        steps: training steps in the sweep. Defaults to 100.
        smoothing: weight of the moving average of the loss. Defaults to 0.9.

    Returns:
        A `LearningRateFinding`.

    Example:

    >>> model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    >>> find_learning_rate(model, train_ds).suggestion
    0.0021...
    """
    if not 0 < min_lr < max_lr:
        raise ValueError(
            f"Expected 0 < min_lr < max_lr. Received: min_lr={min_lr}, max_lr={max_lr}"
        )
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2. Received: steps={steps!r}")
    schedule = keras.optimizers.schedules.LearningRateSchedule
    if isinstance(getattr(model.optimizer, "_learning_rate", None), schedule):
        raise ValueError("find_learning_rate needs an optimizer with a constant learning rate.")
    rates = list(np.geomspace(min_lr, max_lr, steps))
    weights = [v.numpy() for v in model.weights]
    model.optimizer.build(model.trainable_variables)
    state = [v.numpy() for v in model.optimizer.variables]
    sweep = _Sweep(rates, smoothing)
    model.fit(dataset.repeat(), epochs=1, steps_per_epoch=steps, callbacks=[sweep], verbose=0,
              shuffle=False)
    for variable, value in zip(model.weights, weights):
        variable.assign(value)
    for variable, value in zip(model.optimizer.variables, state):
        variable.assign(value)
    losses = sweep.losses
    finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
    lowest = min(finite, key=losses.__getitem__) if finite else 0
    return LearningRateFinding(
        [float(r) for r in rates[: len(losses)]],
        [float(v) for v in losses],
        float(rates[lowest] / 10),
        sweep.diverged,
    )

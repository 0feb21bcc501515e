"""Learning-rate warm-up as a callback, for optimizers with a float learning rate.

The `WarmUp` schedule is the better choice when the whole learning-rate curve is known
in advance. A schedule cannot be changed during training, though, so
`keras.callbacks.ReduceLROnPlateau` cannot drive it; this callback warms up a plain
float learning rate instead and then leaves it alone, so the two compose. Keras has no
warm-up callback, hence this module.
"""

import keras

from callbacks._checks import is_int, is_number, require


class WarmUpCallback(keras.callbacks.Callback):
    """Raises the optimizer's learning rate linearly, batch by batch, then lets go.

    Before each training batch with `step = optimizer.iterations < warmup_steps`
    it sets

    ```
    optimizer.learning_rate = initial + (target - initial) * step / warmup_steps
    ```

    (the same convention as the `WarmUp` schedule), sets `target` at
    `step = warmup_steps`, and never touches the learning rate again, so
    callbacks such as `keras.callbacks.ReduceLROnPlateau` own it afterwards.
    Because it reads `optimizer.iterations`, a second `fit()` call, or training
    resumed from a checkpoint, continues the warm-up where it stopped instead
    of restarting it.

    The optimizer must have been created with a float learning rate; for a
    `LearningRateSchedule`, wrap the schedule in `WarmUp` instead.

    Args:
        warmup_steps: Number of optimizer steps the warm-up lasts, an integer
            >= 0.
        initial: Learning rate at step 0. Defaults to `0.0`.
        target: Learning rate reached at the end of the warm-up. Defaults to
            `None`: the optimizer's learning rate when training first starts
            (its value at compile time).

    Example:

    ```python
    model.compile(keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(
        x, y, epochs=20, validation_split=0.2,
        callbacks=[
            WarmUpCallback(warmup_steps=500),
            keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2),
        ],
    )
    ```
    """

    def __init__(self, warmup_steps, initial=0.0, target=None):
        super().__init__()
        require(
            is_int(warmup_steps) and warmup_steps >= 0,
            "`warmup_steps` must be an integer >= 0.",
            warmup_steps=warmup_steps,
        )
        require(
            is_number(initial) and initial >= 0,
            "`initial` must be a float >= 0.",
            initial=initial,
        )
        require(
            target is None or (is_number(target) and target >= 0),
            "`target` must be None or a float >= 0.",
            target=target,
        )
        self.warmup_steps = warmup_steps
        self.initial = float(initial)
        self.target = None if target is None else float(target)
        self._done = False

    def on_train_begin(self, logs=None):
        learning_rate = self.model.optimizer.learning_rate
        if not isinstance(learning_rate, keras.Variable):
            raise ValueError(
                "WarmUpCallback needs an optimizer created with a float "
                "learning rate; for a learning-rate schedule use the `WarmUp` "
                f"schedule instead. Received: learning_rate={learning_rate!r}"
            )
        if self.target is None:
            self.target = float(keras.ops.convert_to_numpy(learning_rate))
        self._done = False

    def on_train_batch_begin(self, batch, logs=None):
        if self._done:  # Don't read `iterations` (a device sync) once warm.
            return
        optimizer = self.model.optimizer
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        if step <= self.warmup_steps:
            fraction = step / self.warmup_steps if step < self.warmup_steps else 1.0
            optimizer.learning_rate = (
                self.initial + (self.target - self.initial) * fraction
            )
        self._done = step >= self.warmup_steps

"""The learning-rate range test (Smith, 2017; fastai's `lr_find`).

Train for a few steps while the learning rate grows exponentially, watch the smoothed
loss, and pick a learning rate in the middle of its longest descent. Keras has no such
tool, so it is written here, as a `keras.callbacks.Callback` plus the `find_lr`
shortcut; the model's weights, the optimizer's state and its learning rate are put back
afterwards.
"""

import dataclasses
import math

import keras
import numpy as np

from callbacks._checks import is_int, is_number, require


@dataclasses.dataclass(frozen=True, eq=False)
class LRFinderResult:
    """The outcome of a learning-rate range test.

    Attributes:
        learning_rates: The learning rate of each step, a 1-D NumPy array.
        losses: The smoothed loss of each step (a bias-corrected exponential
            moving average of the batch losses), a 1-D NumPy array.

    Example:

    ```python
    result = find_lr(model, train_ds)
    print(f"{len(result.losses)} steps, suggestion {result.suggestion:.2g}")
    result.plot("lr_finder.png")
    ```
    """

    learning_rates: np.ndarray
    losses: np.ndarray

    @property
    def suggestion(self):
        """The learning rate in the middle of the longest valley, or `None`.

        This is fastai's `valley` rule. The longest decreasing subsequence of
        `losses` (steps, not necessarily consecutive, over which the smoothed
        loss keeps falling) has some length `n` and ends at step `end`; the
        valley is taken to be the `n` steps up to `end`, and the suggestion is
        the learning rate halfway along it, at step `end - n // 2`. The older
        rule, the steepest descent of the smoothed loss, is easily thrown off
        by the batch-to-batch noise of the first steps. `None` if no step was
        recorded.
        """
        losses = self.losses
        if len(losses) == 0:
            return None
        # length[i]: the longest decreasing subsequence ending at step i.
        length = np.ones(len(losses), dtype=int)
        for i in range(1, len(losses)):
            higher = losses[:i] > losses[i]
            if higher.any():
                length[i] = length[:i][higher].max() + 1
        end = int(np.argmax(length))
        return float(self.learning_rates[end - length[end] // 2])

    def plot(self, path):
        """Writes the smoothed loss against the learning rate to a PNG file.

        Args:
            path: Where to write the image.

        Returns:
            `path`.
        """
        # Imported where needed; drawn on the Agg canvas without pyplot, so
        # plotting works headless and never touches pyplot's backend or state.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4), layout="tight")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.learning_rates, self.losses)
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("smoothed loss")
        suggestion = self.suggestion
        if suggestion is not None:
            axes.axvline(
                suggestion, color="tab:red", linestyle="--", label=f"{suggestion:.2g}"
            )
            axes.legend(title="suggestion")
        figure.savefig(path, format="png")
        return path


class LRFinder(keras.callbacks.Callback):
    """Learning-rate range test: an exponential sweep that records the smoothed loss.

    Before training batch `i` (0-based) the optimizer's learning rate is set to
    `min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))`, i.e.
    `np.geomspace(min_lr, max_lr, num_steps)[i]`, and the loss of that batch
    is recorded (the model's metrics are reset before each batch, so the loss
    is the batch's own rather than Keras's running mean). The losses are
    smoothed as in fastai:

    ```
    average = beta * average + (1 - beta) * loss        (average starts at 0)
    smoothed = average / (1 - beta ** (i + 1))          (bias correction)
    ```

    Training stops after `num_steps` batches, when `smoothed > diverge_factor *
    min(smoothed so far)`, or when a loss is not finite (that step is not
    recorded). At the end of training the model's weights and every optimizer
    variable (its slots, `iterations` and learning rate) are restored to their
    values at the start, and `result` holds an `LRFinderResult`.

    The optimizer must have a float learning rate, not a schedule. `find_lr`
    runs the whole test in one call.

    Args:
        min_lr: First learning rate of the sweep. Defaults to `1e-7`.
        max_lr: Last learning rate of the sweep. Defaults to `10.0`.
        num_steps: Number of steps (batches) in the sweep, at least 2.
            Defaults to `100`.
        beta: Smoothing factor of the moving average, in `[0, 1)`.
            Defaults to `0.98`.
        diverge_factor: Stop once the smoothed loss exceeds this multiple of
            its minimum so far. Defaults to `4.0`.

    Example:

    ```python
    finder = LRFinder(num_steps=200)
    model.fit(dataset, epochs=10, callbacks=[finder])  # Stops after 200 steps.
    print(finder.result.suggestion)
    finder.result.plot("lr_finder.png")
    ```
    """

    def __init__(
        self,
        min_lr=1e-7,
        max_lr=10.0,
        num_steps=100,
        beta=0.98,
        diverge_factor=4.0,
    ):
        super().__init__()
        require(
            is_number(min_lr) and is_number(max_lr) and 0 < min_lr < max_lr,
            "`min_lr` and `max_lr` must be floats with 0 < min_lr < max_lr.",
            min_lr=min_lr,
            max_lr=max_lr,
        )
        require(
            is_int(num_steps) and num_steps >= 2,
            "`num_steps` must be an integer >= 2.",
            num_steps=num_steps,
        )
        require(
            is_number(beta) and 0 <= beta < 1,
            "`beta` must be a float in [0, 1).",
            beta=beta,
        )
        require(
            is_number(diverge_factor) and diverge_factor > 1,
            "`diverge_factor` must be a float > 1.",
            diverge_factor=diverge_factor,
        )
        self.min_lr = float(min_lr)
        self.max_lr = float(max_lr)
        self.num_steps = num_steps
        self.beta = float(beta)
        self.diverge_factor = float(diverge_factor)
        self._schedule = np.geomspace(self.min_lr, self.max_lr, num_steps)
        self.learning_rates = []
        self.losses = []
        self.result = None
        self._saved_state = None

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not isinstance(optimizer.learning_rate, keras.Variable):
            raise ValueError(
                "LRFinder needs an optimizer created with a float learning "
                "rate, not a schedule. "
                f"Received: learning_rate={optimizer.learning_rate!r}"
            )
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self._saved_state = (
            self.model.get_weights(),
            [keras.ops.convert_to_numpy(v) for v in optimizer.variables],
        )
        self.learning_rates, self.losses, self.result = [], [], None
        self._average = 0.0
        self._best = math.inf

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self._schedule[len(self.losses)]
        self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            self.model.stop_training = True
            return
        step = len(self.losses)
        self._average = self.beta * self._average + (1 - self.beta) * loss
        smoothed = self._average / (1 - self.beta ** (step + 1))
        self.learning_rates.append(float(self._schedule[step]))
        self.losses.append(smoothed)
        self._best = min(self._best, smoothed)
        if (
            len(self.losses) == self.num_steps
            or smoothed > self.diverge_factor * self._best
        ):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self._restore()
        self.result = LRFinderResult(
            np.array(self.learning_rates), np.array(self.losses)
        )

    def _restore(self):
        """Puts back the weights and optimizer state saved when training began."""
        if self._saved_state is None:
            return
        weights, optimizer_values = self._saved_state
        self.model.set_weights(weights)
        for variable, value in zip(self.model.optimizer.variables, optimizer_values):
            variable.assign(value)
        self._saved_state = None


def find_lr(
    model,
    dataset,
    min_lr=1e-7,
    max_lr=10.0,
    num_steps=100,
    beta=0.98,
    diverge_factor=4.0,
    verbose=0,
):
    """Runs a learning-rate range test on a compiled model and returns its result.

    The model and its optimizer are left as they were, even if the test is
    interrupted. See `LRFinder` for the sweep, the smoothing and the stopping
    rules.

    Args:
        model: A compiled Keras model whose optimizer has a float learning rate.
        dataset: Training batches, as `model.fit` accepts them without `y`: a
            `tf.data.Dataset`, a `keras.utils.PyDataset` or a generator of
            `(x, y)` batches. It is iterated again from the start if it has
            fewer than `num_steps` batches.
        min_lr: First learning rate of the sweep. Defaults to `1e-7`.
        max_lr: Last learning rate of the sweep. Defaults to `10.0`.
        num_steps: Number of steps in the sweep. Defaults to `100`.
        beta: Smoothing factor of the moving average. Defaults to `0.98`.
        diverge_factor: Stop once the smoothed loss exceeds this multiple of
            its minimum so far. Defaults to `4.0`.
        verbose: Verbosity passed to `model.fit`. Defaults to `0`.

    Returns:
        An `LRFinderResult` with `learning_rates`, `losses`, `suggestion` and
        `plot(path)`.

    Example:

    ```python
    result = find_lr(model, train_ds, num_steps=200)
    result.plot("lr_finder.png")
    model.optimizer.learning_rate = result.suggestion
    ```
    """
    finder = LRFinder(min_lr, max_lr, num_steps, beta, diverge_factor)
    try:
        # Every epoch has at least one batch, so `num_steps` epochs are enough;
        # the finder stops training after `num_steps` steps.
        model.fit(
            dataset,
            epochs=num_steps,
            shuffle=False,
            callbacks=[finder],
            verbose=verbose,
        )
    finally:
        finder._restore()
    return finder.result

"""One readable line per epoch, for log files and CI consoles."""

import sys
import time

import keras
import numpy as np


class EpochLog(keras.callbacks.Callback):
    """Prints one line per epoch: epoch, losses, metrics, seconds and learning rate.

    Keras's progress bar redraws itself with escape codes and backspaces, which a log
    file keeps as one long line per epoch; this callback writes one plain line instead,
    e.g. `epoch 3/12  loss 0.1234  accuracy 0.9612  val_loss 0.0911  val_accuracy
    0.9722  lr 1.94e-03  21.4 s`. Use it with `fit(..., verbose=0)`.

    Args:
        stream: where to write. Defaults to `None` (`sys.stdout` at each write).

    Example:

    ```python
    model.fit(x, y, epochs=5, verbose=0, callbacks=[EpochLog()])
    ```
    """

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._start = None
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - (self._start or time.perf_counter())
        total = f"/{self._epochs}" if self._epochs else ""
        parts = [f"epoch {epoch + 1}{total}"]
        for name, value in (logs or {}).items():
            if name == "learning_rate":
                continue
            parts.append(f"{name} {_number(value)}")
        lr = _learning_rate(self.model)
        if lr is not None:
            parts.append(f"lr {lr:.3g}")
        parts.append(f"{seconds:.1f} s")
        stream = self.stream or sys.stdout
        stream.write("  ".join(parts) + "\n")
        stream.flush()


def _number(value):
    value = float(np.asarray(value))
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.4g}"


def _learning_rate(model):
    """The optimizer's current learning rate (a schedule at its current step)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except Exception:  # an optimizer without a readable learning rate
        return None

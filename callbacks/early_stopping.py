"""Early stopping that waits out a warm-up, stops on a non-finite loss, and says why.

Built on `keras.callbacks.EarlyStopping`, whose patience logic it reuses unchanged;
only the warm-up, the non-finite check, the record of the reason and the tolerance of the
restored epoch are added here.
"""

import math

import keras

from callbacks._checks import is_number, require


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Stop training when a monitored metric has stopped improving, or at once on NaN.

    Behaves like `keras.callbacks.EarlyStopping`, with the same arguments, plus:

    - `warmup_epochs`: during the first `warmup_epochs` epochs the best value,
      its epoch and (with `restore_best_weights`) its weights are tracked as
      usual, but training is never stopped and patience counting starts only
      once the warm-up is over. Keras's `start_from_epoch`, by contrast,
      ignores its epochs entirely.
    - A non-finite (NaN or infinite) `"loss"` or monitored value stops
      training at the end of that epoch, warm-up or not, and prints
      `"Epoch N: loss became nan; stopping training."` (epochs counted from 1,
      as Keras prints them).
    - `restore_tolerance`: with `restore_best_weights`, the weights restored
      are those of the *latest* epoch whose monitored value is within this
      fraction of the best (`val_loss <= best * (1 + restore_tolerance)`), not
      necessarily the best epoch itself. Where the monitored loss is only a
      proxy for the metric that counts (a classifier's accuracy), a later epoch
      whose loss is a few percent above the best is often the more accurate
      model: the loss also rises when a few examples become confidently wrong,
      while more of the others become right, and the epochs after the best
      have trained longer, at lower rates. `0` restores the best epoch, as
      Keras does.
    - The attributes below record why and when training stopped, for
      diagnosis after `fit()`.

    Attributes:
        stop_reason: Why this callback stopped training: `None` (it did not),
            `"patience"` or `"non_finite_loss"`.
        stopped_epoch: 0-based epoch at which it stopped training; `0` if it
            did not (Keras's attribute and convention).
        best_epoch: 0-based epoch of the best monitored value.
        restored_epoch: 0-based epoch whose weights `restore_best_weights`
            restores: `best_epoch`, or a later one within `restore_tolerance`.
        best: The best monitored value (Keras's attribute).

    Args:
        monitor: Quantity to be monitored. Defaults to `"val_loss"`.
        min_delta: Minimum change in the monitored quantity to count as an
            improvement. Defaults to `0`.
        patience: Number of epochs with no improvement after which training
            is stopped. Defaults to `0`.
        verbose: Verbosity mode, 0 or 1. Defaults to `0`.
        mode: One of `"auto"`, `"min"`, `"max"`, as in Keras. Defaults to
            `"auto"`.
        baseline: Baseline value for the monitored quantity, as in Keras.
            Defaults to `None`.
        restore_best_weights: Whether to restore the weights of the best epoch
            at the end of training. Defaults to `False`.
        start_from_epoch: Number of epochs to ignore entirely before
            monitoring starts, as in Keras. Defaults to `0`.
        warmup_epochs: Number of epochs during which training is never
            stopped for lack of improvement; patience counts from the end of
            the warm-up. A fraction, as from a warm-up counted in steps, is
            rounded up: an epoch still partly warming up counts as warm-up.
            Defaults to `0`.
        restore_tolerance: How far from the best (a fraction of it) the
            restored epoch's value may be, the latest such epoch being
            restored. Defaults to `0` (the best epoch).

    Example:

    ```python
    stopper = EarlyStopping(patience=3, warmup_epochs=5, restore_best_weights=True)
    model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stopper])
    print(stopper.stop_reason, stopper.stopped_epoch, stopper.best_epoch)
    ```
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
        warmup_epochs=0,
        restore_tolerance=0,
    ):
        super().__init__(
            monitor=monitor,
            min_delta=min_delta,
            patience=patience,
            verbose=verbose,
            mode=mode,
            baseline=baseline,
            restore_best_weights=restore_best_weights,
            start_from_epoch=start_from_epoch,
        )
        require(
            is_number(warmup_epochs) and warmup_epochs >= 0,
            "`warmup_epochs` must be a number >= 0.",
            warmup_epochs=warmup_epochs,
        )
        require(
            is_number(restore_tolerance) and restore_tolerance >= 0,
            "`restore_tolerance` must be a number >= 0.",
            restore_tolerance=restore_tolerance,
        )
        self.warmup_epochs = warmup_epochs
        self.restore_tolerance = restore_tolerance
        self.stop_reason = None
        self.best_epoch = self.restored_epoch = 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.stop_reason = None
        self.restored_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for name in dict.fromkeys(["loss", self.monitor]):  # In order, no duplicates.
            value = logs.get(name)
            if value is not None and not math.isfinite(value):
                print(f"Epoch {epoch + 1}: {name} became {value}; stopping training.")
                self.stop_reason = "non_finite_loss"
                self.stopped_epoch = epoch
                self.model.stop_training = True
                return

        if epoch < self.warmup_epochs:
            # Let Keras track the best value and weights, with infinite patience,
            # then restart the count so that patience starts after the warm-up.
            patience, self.patience = self.patience, math.inf
            try:
                super().on_epoch_end(epoch, logs)
            finally:
                self.patience = patience
            self.wait = 0
        else:
            stopped_epoch = self.stopped_epoch
            super().on_epoch_end(epoch, logs)
            if self.stopped_epoch != stopped_epoch:
                self.stop_reason = "patience"
        self._track_restored(epoch, logs)

    def _track_restored(self, epoch, logs):
        """Keeps this epoch's weights for restoring if it is the best or within
        `restore_tolerance` of it (so the latest such epoch is restored)."""
        current = logs.get(self.monitor)
        if self.best is None or current is None or epoch < self.start_from_epoch:
            return
        if epoch == self.best_epoch:
            self.restored_epoch = epoch
            return
        if not (self.restore_best_weights and self.restore_tolerance):
            return
        margin = self.restore_tolerance * abs(float(self.best))
        if self.monitor_op == keras.ops.less:
            within = current <= self.best + margin
        else:
            within = current >= self.best - margin
        if within:
            self.best_weights = self.model.get_weights()
            self.restored_epoch = epoch

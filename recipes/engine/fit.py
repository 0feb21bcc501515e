"""The one fit loop: a recipe's run, a tuner's trial and a depth comparison all train here.

`fit` wraps `keras.Model.fit` with what every training in this project needs: early
stopping on the recipe's monitor (with warm-up, and a stop on a non-finite loss), the
wall time of each epoch, and, when given a backup directory, resumption after an
interruption (`keras.callbacks.BackupAndRestore`). The pipelines shuffle, so `fit` never
does.
"""

import dataclasses
import math
import time

import keras

import callbacks as recipe_callbacks


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch (`epoch_seconds`)."""

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)


@dataclasses.dataclass
class Fitted:
    """What `fit` returns.

    Attributes:
        history: per-epoch metrics of the epochs trained by this call, floats.
        best_epoch: index into `history` of the best epoch on the monitor.
        stop_reason: why training ended early, or `None` (see
            `callbacks.EarlyStopping`).
        epoch_seconds: the wall time of each epoch trained by this call.
        seconds: the wall time of the whole call.
    """

    history: dict
    best_epoch: int
    stop_reason: str | None
    epoch_seconds: list
    seconds: float

    def best(self):
        """The metrics of the best epoch, by name."""
        return {name: values[self.best_epoch] for name, values in self.history.items()}


def steps_per_epoch(train_size, global_batch):
    """Updates in one epoch over `train_size` examples in batches of `global_batch`."""
    return max(1, math.ceil(train_size / global_batch))


def fit(
    model,
    train,
    validation,
    *,
    epochs,
    monitor="val_loss",
    patience=5,
    warmup_epochs=0,
    restore_best_weights=True,
    backup_dir=None,
    callbacks=(),
    verbose="auto",
    initial_epoch=0,
):
    """Trains a compiled `model` with early stopping; the one loop of the project.

    Args:
        model: a compiled `keras.Model`.
        train: the batched training `tf.data.Dataset` (it shuffles itself).
        validation: the batched validation dataset, or `None`.
        epochs: the last epoch to train (as in `keras.Model.fit`).
        monitor: the quantity early stopping watches. Defaults to `"val_loss"`.
        patience: epochs without improvement before stopping. Defaults to 5.
        warmup_epochs: epochs during which early stopping does not count. Defaults
            to 0.
        restore_best_weights: end with the weights of the best epoch. Defaults to
            `True`.
        backup_dir: where `keras.callbacks.BackupAndRestore` keeps the state that an
            interrupted run resumes from. Defaults to `None` (no backup).
        callbacks: further Keras callbacks. Defaults to none.
        verbose: `keras.Model.fit` verbosity. Defaults to `"auto"`.
        initial_epoch: the epoch to start at (a resumed tuner trial). Defaults to 0.

    Returns:
        A `Fitted`.
    """
    stopper = recipe_callbacks.EarlyStopping(
        monitor=monitor,
        patience=patience,
        restore_best_weights=restore_best_weights,
        warmup_epochs=math.ceil(warmup_epochs),
    )
    timer = EpochTimer()
    cbs = [keras.callbacks.BackupAndRestore(str(backup_dir))] if backup_dir else []
    cbs += [keras.callbacks.TerminateOnNaN(), stopper, timer, *callbacks]
    start = time.perf_counter()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=cbs,
        verbose=verbose,
        shuffle=False,  # the pipeline shuffles; Keras would only warn
    )
    seconds = time.perf_counter() - start
    values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    # EarlyStopping counts epochs from 0; a resumed run's history starts later.
    first = history.epoch[0] if history.epoch else 0
    trained = len(next(iter(values.values()), []))
    best = min(max(stopper.best_epoch - first, 0), max(trained - 1, 0))
    return Fitted(values, best, stopper.stop_reason, timer.epoch_seconds, seconds)

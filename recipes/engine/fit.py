"""The one fit loop: a recipe's run, a tuner's trial and a depth comparison all train here.

`fit` wraps `keras.Model.fit` with what every training in this project needs: early
stopping on the recipe's monitor (with warm-up, and a stop on a non-finite loss), the
wall time of each epoch, output that reads well where it goes (Keras's progress bar on a
terminal, one line per epoch, `callbacks.EpochLog`, in a log file or a CI console), and,
when given a backup directory, resumption after an interruption (`Backup`: Keras's
`BackupAndRestore`, saving at an epoch's end when enough time has passed since the last
save for the save to cost little) that keeps the whole history: each finished epoch's
metrics and seconds are written beside the backup, and a resumed run starts its history
with them and says where it resumes; a model with a pretrained backbone trains in the
two phases its schedule says (`callbacks.FineTune`). The pipelines shuffle, so `fit`
never does.
"""

import dataclasses
import json
import math
import sys
import time
import warnings
from pathlib import Path

import keras

import callbacks as recipe_callbacks


def clock():
    """Seconds for the epochs' wall times (`time.perf_counter`); tests replace it."""
    return time.perf_counter()


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch (`epoch_seconds`) and the learning rate at
    its end (`history["learning_rate"]`, with the epoch's metrics) and, given a `path`,
    writes the history so far (`earlier` epochs first) there after each epoch."""

    def __init__(self, path=None, earlier=None):
        super().__init__()
        self.path = path
        self.earlier = earlier or {"history": {}, "epoch_seconds": []}

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []
        self.history = {k: list(v) for k, v in self.earlier["history"].items()}

    def on_epoch_begin(self, epoch, logs=None):
        self._start = clock()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(clock() - self._start)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.history.setdefault("learning_rate", []).append(float(rate))
        if self.path is not None:
            record = {"history": self.history,
                      "epoch_seconds": self.earlier["epoch_seconds"] + self.epoch_seconds}
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            partial = Path(f"{self.path}.partial")
            partial.write_text(json.dumps(record))
            partial.replace(self.path)


# A backup is a save of the model and its optimizer: tenths of a second for a table's
# model of many small layers, more than a small table's whole epoch. `Backup` saves at an
# epoch's end when the time since the last save is at least `BACKUP_RATIO` times what
# that save took (the first epoch's end always): backups then take at most
# 1 / (1 + BACKUP_RATIO) of a training, and an interruption loses the epochs since the
# last save, at most about `BACKUP_RATIO` saves' time and one epoch. 0 saves every epoch.
BACKUP_RATIO = 20


class Backup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` (a backup at epochs' ends), saving only when
    the time since the last save is at least `BACKUP_RATIO` times what that save took
    (the first epoch's end always saves)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.saved_at, self.save_seconds = None, 0.0

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        now = clock()
        if self.saved_at is None or now - self.saved_at >= BACKUP_RATIO * self.save_seconds:
            self._save_model()
            self.saved_at = clock()
            self.save_seconds = self.saved_at - now


def keras_verbose(verbose):
    """`(verbose for keras fit, whether to add an EpochLog)`: `"auto"` is the progress
    bar on a terminal and one line per epoch elsewhere."""
    if verbose == "auto":
        return (1, False) if sys.stdout.isatty() else (0, True)
    return verbose, False


def resumed(backup_dir):
    """The history and epoch seconds an interrupted run left in `backup_dir`, cut to the
    epoch `BackupAndRestore` resumes at; `None` when there is nothing to resume."""
    backup_dir = Path(backup_dir)
    meta, saved = backup_dir / "training_metadata.json", backup_dir / "history.json"
    if not meta.is_file():
        return None
    epoch = int(json.loads(meta.read_text())["epoch"])
    record = json.loads(saved.read_text()) if saved.is_file() else {"history": {}, "epoch_seconds": []}
    return {
        "epoch": epoch,
        "history": {k: v[:epoch] for k, v in record["history"].items()},
        "epoch_seconds": record["epoch_seconds"][:epoch],
    }


@dataclasses.dataclass
class Fitted:
    """What `fit` returns.

    Attributes:
        history: per-epoch metrics of the epochs trained by this call, floats.
        best_epoch: index into `history` of the epoch whose weights the model ends
            with: the best on the monitor, or a later one within `restore_tolerance`.
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
        """The metrics of the epoch the model ends with (`best_epoch`), by name."""
        return {name: values[self.best_epoch] for name, values in self.history.items()}


def load_model_weights(model, path):
    """Loads a `.weights.h5` file's model weights into `model`, not its optimizer's
    (which a model built without one would warn of)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model.load_weights(path)


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
    restore_tolerance=0.0,
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
        restore_tolerance: end with the latest epoch whose monitored value is within
            this fraction of the best instead (`callbacks.EarlyStopping`). Defaults
            to 0 (the best epoch).
        backup_dir: where `Backup` keeps the state that an interrupted run resumes
            from. Defaults to `None` (no backup).
        callbacks: further Keras callbacks. Defaults to none.
        verbose: `keras.Model.fit` verbosity, or `"auto"`: the progress bar on a
            terminal, one line per epoch (`callbacks.EpochLog`) otherwise.
            Defaults to `"auto"`.
        initial_epoch: the epoch to start at (a resumed tuner trial). Defaults to 0.

    Returns:
        A `Fitted`; after a resumption its history and epoch seconds hold every epoch.
    """
    stopper = recipe_callbacks.EarlyStopping(
        monitor=monitor,
        patience=patience,
        restore_best_weights=restore_best_weights,
        restore_tolerance=restore_tolerance,
        warmup_epochs=math.ceil(warmup_epochs),
    )
    earlier = resumed(backup_dir) if backup_dir else None
    if earlier is not None:
        print(f"Resuming at epoch {earlier['epoch'] + 1} of {epochs} from {backup_dir}",
              flush=True)
    # The history is written before the backup at each epoch's end, so a backup never
    # holds an epoch whose metrics are lost.
    timer = EpochTimer(Path(backup_dir) / "history.json" if backup_dir else None, earlier)
    cbs = [timer]
    if backup_dir:
        cbs.append(Backup(str(backup_dir)))
    keras_level, log_lines = keras_verbose(verbose)
    # FineTune unfreezes a pretrained backbone where a FineTuneCosine schedule says.
    cbs += [keras.callbacks.TerminateOnNaN(), stopper, recipe_callbacks.FineTune(), *callbacks]
    if log_lines:
        cbs.append(recipe_callbacks.EpochLog())
    start = clock()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=cbs,
        verbose=keras_level,
        shuffle=False,  # the pipeline shuffles; Keras would only warn
    )
    seconds = clock() - start
    values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    seconds_per_epoch = list(timer.epoch_seconds)
    first = history.epoch[0] if history.epoch else initial_epoch
    if earlier is not None:
        values = {k: earlier["history"].get(k, [])[: earlier["epoch"]] + v for k, v in values.items()}
        seconds_per_epoch = earlier["epoch_seconds"] + seconds_per_epoch
        first = 0
    if values:  # the learning rate at each epoch's end (Keras does not log it)
        values["learning_rate"] = timer.history["learning_rate"][-len(values["loss"]):]
    # EarlyStopping counts epochs from 0 (a tuner's resumed trial starts later).
    trained = len(next(iter(values.values()), []))
    best = min(max(stopper.restored_epoch - first, 0), max(trained - 1, 0))
    return Fitted(values, best, stopper.stop_reason, seconds_per_epoch, seconds)

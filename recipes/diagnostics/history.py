"""Reading a training history: which key is the accuracy, errors, the kept epoch.

A history is `model.fit(...).history`: a dict of per-epoch lists (`"loss"`,
`"val_loss"`, `"accuracy"`, `"val_accuracy"`, `"mae"` ...). The flowchart, `--auto`,
the experiments and the plots all read it through these functions, so that "the
accuracy", "the error" and "the epoch whose weights were kept" mean one thing.

Example:

    >>> history = {"loss": [0.9, 0.5, 0.4], "val_loss": [0.8, 0.6, 0.7],
    ...            "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.7, 0.75, 0.74]}
    >>> accuracy_key(history)
    'accuracy'
    >>> best_epoch(history)
    1
    >>> round(measures(history, 1)["val_error"], 2)
    0.25
"""

import math


def accuracy_key(history, validated=True):
    """The training accuracy's key (`"accuracy"`, `"sparse_categorical_accuracy"` ...),
    or `None` when the history has none.

    Args:
        history: a dict of per-epoch lists.
        validated: whether the key must have its `"val_"` twin in the history.
            Defaults to `True`.
    """
    for key in history:
        if "acc" in key and not key.startswith("val_") and (
                not validated or "val_" + key in history):
            return key
    return None


def is_accuracy(key):
    """Whether `key` names an accuracy (higher is better), read as an error `1 - value`."""
    return "acc" in key


def error(value):
    """`1 - accuracy`, or `None` for `None`."""
    return None if value is None else 1.0 - float(value)


def best_epoch(history, monitor="val_loss", tolerance=0.0):
    """The epoch whose weights early stopping keeps: the best `monitor` (highest for an
    accuracy, else lowest; the training loss when the history has no `monitor`), the
    first of ties; or, with `tolerance`, the latest epoch within that fraction of the
    best (see `callbacks.EarlyStopping(restore_tolerance=...)`).

    Args:
        history: a dict of per-epoch lists.
        monitor: the key to read. Defaults to `"val_loss"`.
        tolerance: a fraction of the best value. Defaults to `0.0`.

    Returns:
        An index into the history's lists.
    """
    raw = history.get(monitor) or history["loss"]
    sign = -1 if is_accuracy(monitor) else 1
    values = [sign * v if math.isfinite(v) else math.inf for v in raw]
    best = min(range(len(values)), key=values.__getitem__)
    if not tolerance or not math.isfinite(values[best]):
        return best
    limit = values[best] + tolerance * abs(values[best])
    return max(i for i, v in enumerate(values) if v <= limit)


def measures(history, epoch):
    """Training and validation loss and error at `epoch`, as a dict.

    The error is `1 - accuracy` (`None` without an accuracy). Without an accuracy,
    `val_metric` is the recipe's first validation metric (`val_mae` ...), which unlike
    the loss holds no weight penalty, named by `val_metric_name`.

    Args:
        history: a dict of per-epoch lists.
        epoch: an index into them; a list too short gives `None`.

    Returns:
        `{"train_loss", "val_loss", "train_error", "val_error", "val_metric",
        "val_metric_name"}`.
    """
    accuracy = accuracy_key(history)
    metric = None if accuracy else next(
        (k for k in history if k.startswith("val_") and k != "val_loss"), None)

    def at(key):
        values = history.get(key) or []
        return float(values[epoch]) if epoch < len(values) else None

    return dict(train_loss=at("loss"), val_loss=at("val_loss"),
                train_error=error(at(accuracy)) if accuracy else None,
                val_error=error(at("val_" + accuracy)) if accuracy else None,
                val_metric=metric and at(metric), val_metric_name=metric)

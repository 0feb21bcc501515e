"""Why did training go wrong? The lecture's flowchart, applied to a run's numbers.

Hung-yi Lee's "general guidance" (ML 2021) with Andrew Ng's bias/variance arithmetic:

1. Training loss high: **model bias** (the model is too simple) or **optimization
   failure** (a good function exists but gradient descent did not find it). Tell them
   apart by comparing models trained the same way: a deeper model whose training loss
   is *higher* than a shallower one's is an optimization failure; if the bigger model
   does reach a lower training loss, capacity was the problem. A non-finite loss is an
   optimization failure too (training diverged).
2. Training loss low, validation loss high: **overfitting**.
3. Training and validation low, test high: **mismatch** (the test data come from another
   distribution).
4. Otherwise **fine**.

The rules, in the order they are tried. All numbers are on one *measure* where lower is
better: the error `1 - accuracy` when the history records accuracy (or another metric
with "acc" in its name) for training and validation, else the loss (`metric` overrides
this). `train`, `val` and `test` are the measure on each split; `human` is the
human-level (or best achievable) value, 0 unless given; `t = tolerance * scale` where
`scale` is 1 for an error and, for a loss, the loss of a trivial predictor (`baseline`:
`ln(num_classes)` for cross-entropy, the target variance for MSE; without one, the first
epoch's training loss stands in for it).

- diverged: `stop_reason == "non_finite_loss"` or a non-finite training value
  -> "optimization failure".
- `avoidable_bias = train - human` and `variance = val - train`. If
  `avoidable_bias > t` and `avoidable_bias >= variance` (Ng: work on the larger first):
  the training side. With a shallower (or deeper) model's history: a deeper model with a
  higher training value -> "optimization failure"; a deeper model with a lower one ->
  "model bias". Without a comparison -> "high training loss" (undecided; the advice
  says which model to train to decide).
- `variance > t` -> "overfitting".
- `test_gap = test - val > t` -> "mismatch".
- else -> "fine".

Values are taken at the last epoch (`epoch="last"`), or at the epoch with the best
validation value (`epoch="best"`, the weights `EarlyStopping(restore_best_weights=True)`
keeps). Keras records the training loss as the mean over the epoch's batches with
dropout on, the validation loss after the epoch in inference mode.

Saved runs (`diagnose_run`) use this directory format, written by the engine:

    run_dir/history.json   the Keras history: {"loss": [...], "val_loss": [...],
                           "accuracy": [...], "val_accuracy": [...], ...}, one float
                           per epoch (NaN allowed).
    run_dir/result.json    {
                             "recipe": "cnn_mnist",
                             "test_metrics": {"loss": 0.03, "accuracy": 0.99},
                             "settings": {...},
                             "stop_reason": null,
                             "comparisons": {"shallower": {"history": {...}},
                                             "deeper": {"history": {...}}}
                           }

Only "test_metrics" is required in result.json. "recipe" names the plot. "settings" may
hold "human_error" and "baseline" (used unless `diagnose_run` is given them);
other keys are ignored. "stop_reason" is `null` or a string; "non_finite_loss" means
training diverged. "comparisons" may hold "shallower" and/or "deeper": models trained
the same way, each an object with a "history" (same format as history.json); other
keys in it are ignored. `diagnose_run` writes `learning_curves.png` (the verdict in its
title) and `diagnosis.json` (the `Diagnosis` as a dict) into the directory.
"""

import dataclasses
import json
import math
from pathlib import Path

FINE = "fine"
MODEL_BIAS = "model bias"
OPTIMIZATION = "optimization failure"
HIGH_TRAINING_LOSS = "high training loss"
OVERFITTING = "overfitting"
MISMATCH = "mismatch"

ADVICE = {
    MODEL_BIAS: (
        "Make the model more flexible: more input features, more units, more layers. "
        "Then train and diagnose again."
    ),
    OPTIMIZATION: (
        "Capacity is not the problem, optimization is: start from the shallower model "
        "and improve training before going deeper: Adam or momentum, a tuned learning "
        "rate with warm-up and a schedule, ReLU instead of sigmoid, batch "
        "normalization."
    ),
    "diverged": (
        "Training diverged: lower the learning rate, add warm-up, or clip gradients."
    ),
    HIGH_TRAINING_LOSS: (
        "Model bias or optimization failure? Train a shallower (or linear) model the "
        "same way and pass its history as `shallower=`: if this deeper model does not "
        "reach a lower training loss, optimization failed; if it does, the model is "
        "too simple: make it bigger."
    ),
    OVERFITTING: (
        "Get more training data or augment it; or constrain the model: fewer or "
        "shared parameters, fewer features, early stopping, L2 regularization, "
        "dropout. Choose models on validation; report the test score once."
    ),
    MISMATCH: (
        "The test data come from another distribution than training and validation; "
        "capacity or regularization will not fix that. Collect training data like "
        "the test data, and validate on data like it too."
    ),
    FINE: (
        "Nothing to fix: training and validation are low and agree. Report the test "
        "score once."
    ),
}


@dataclasses.dataclass
class Diagnosis:
    """The verdict on a training run, the numbers behind it and the next step.

    Attributes:
        verdict: one of "fine", "model bias", "optimization failure",
            "high training loss" (model bias or optimization failure, undecided),
            "overfitting", "mismatch".
        evidence: the numbers the rules used, by name (see the module docstring):
            `train_<m>`, `val_<m>`, `test_<m>`, `human_<m>`, `shallower_train_<m>`,
            `deeper_train_<m>` with `<m>` the measure ("error", or the metric's name
            such as "loss"), and
            `avoidable_bias`, `variance`, `test_gap`, `tolerance`, `baseline`, `epoch`
            (1-based), where they apply.
        advice: the next step the lecture recommends.
        reason: one or two sentences saying which rule fired and why.
    """

    verdict: str
    evidence: dict
    advice: str
    reason: str

    def __str__(self):
        width = max(map(len, self.evidence), default=0)
        numbers = [f"  {k:<{width}}  {v:.4g}" for k, v in self.evidence.items()]
        return "\n".join(
            [f"Diagnosis: {self.verdict}", *numbers,
             f"Why: {self.reason}", f"Next step: {self.advice}"]
        )


def _history_dict(history):
    history = getattr(history, "history", history)  # a keras.callbacks.History
    if isinstance(history, dict) and "history" in history:  # a comparison entry
        history = history["history"]
    if not isinstance(history, dict) or not history:
        raise ValueError(
            "A history must be a non-empty dict of per-epoch lists, like "
            f"`model.fit(...).history`. Received: {history!r}"
        )
    return history


class _Measure:
    """Reads one measure, lower is better, from histories at the chosen epoch."""

    def __init__(self, history, metric, epoch):
        if metric == "auto":
            accuracies = [
                k for k in history if "acc" in k and "val_" + k in history
            ]
            metric = accuracies[0] if accuracies else "loss"
        if metric not in history:
            raise ValueError(
                f"The history has no {metric!r}. Received: metric={metric!r}, "
                f"history keys {sorted(history)}"
            )
        if epoch not in ("last", "best") and not isinstance(epoch, int):
            raise ValueError(
                "epoch must be 'last', 'best' or an epoch index. "
                f"Received: epoch={epoch!r}"
            )
        self.key, self.epoch = metric, epoch
        self.is_accuracy = "acc" in metric
        self.name = "error" if self.is_accuracy else metric

    def error(self, value):
        return 1.0 - float(value) if self.is_accuracy else float(value)

    def index(self, history):
        """The epoch to read: the last, the best on validation, or a given one."""
        count = len(history[self.key])
        if self.epoch == "last":
            return count - 1
        if self.epoch == "best":
            values = history.get("val_" + self.key) or history[self.key]
            errors = [self.error(v) for v in values]
            finite = [i for i, e in enumerate(errors) if math.isfinite(e)]
            return min(finite, key=errors.__getitem__) if finite else count - 1
        if not -count <= self.epoch < count:
            raise ValueError(
                f"epoch must be 'last', 'best' or an index below {count}. "
                f"Received: epoch={self.epoch!r}"
            )
        return self.epoch % count

    def at(self, history, prefix=""):
        """The measure on a split ("" for training, "val_") at the chosen epoch."""
        values = history.get(prefix + self.key)
        if not values:
            return None
        return self.error(values[min(self.index(history), len(values) - 1)])


def diagnose(
    result=None,
    *,
    history=None,
    test_metrics=None,
    shallower=None,
    deeper=None,
    stop_reason=None,
    human_error=None,
    baseline=None,
    metric="auto",
    tolerance=0.02,
    epoch="last",
):
    """Diagnoses a training run: model bias, optimization, overfitting or mismatch.

    Pass a training result, or the histories themselves; keyword arguments override the
    result's attributes. The rules are in the module docstring.

    Args:
        result: an object with a `history` (dict of per-epoch lists, or a
            `keras.callbacks.History`) and optionally `test_metrics` (dict),
            `stop_reason` (str), `comparisons` (dict with "shallower"/"deeper", each a
            history or a dict with a "history") and `settings` (dict, read for
            "human_error" and "baseline"), such as the engine's `Result`.
            Defaults to `None`.
        history: the run's history. Defaults to `result.history`.
        test_metrics: metrics on the test split, e.g. `{"loss": 0.3, "accuracy": 0.9}`.
            Defaults to `result.test_metrics`, else none.
        shallower: history of a shallower model trained the same way.
            Defaults to `result.comparisons["shallower"]`, else none.
        deeper: history of a deeper model trained the same way.
            Defaults to `result.comparisons["deeper"]`, else none.
        stop_reason: why training stopped early; "non_finite_loss" means it diverged.
            Defaults to `result.stop_reason`, else none.
        human_error: human-level (or best achievable) value of the measure: an error
            rate when judging errors, a loss value when judging losses.
            Defaults to `result.settings["human_error"]`, else 0.
        baseline: loss of a trivial predictor (`ln(num_classes)` for cross-entropy,
            the target variance for MSE), the scale of `tolerance` when judging losses.
            Defaults to `result.settings["baseline"]`, else the first epoch's loss.
        metric: history key to judge ("loss", "accuracy", "mae" ...); names with
            "acc" are turned into errors `1 - value`. Defaults to "auto": an accuracy
            recorded for training and validation, else "loss".
        tolerance: gaps up to `tolerance * scale` are small (`scale` is 1 for errors,
            `baseline` for losses). Defaults to 0.02.
        epoch: which epoch's values to use: "last", "best" (best validation value)
            or an index. Defaults to "last".

    Returns:
        A `Diagnosis`.

    Example:

    >>> history = model.fit(x, y, validation_split=0.2, epochs=20).history
    >>> test_metrics = model.evaluate(x_test, y_test, return_dict=True)
    >>> print(diagnose(history=history, test_metrics=test_metrics, human_error=0.01))
    """
    comparisons = getattr(result, "comparisons", None) or {}
    settings = getattr(result, "settings", None) or {}
    if history is None:
        history = getattr(result, "history", None)
    if test_metrics is None:
        test_metrics = getattr(result, "test_metrics", None) or {}
    if shallower is None:
        shallower = comparisons.get("shallower")
    if deeper is None:
        deeper = comparisons.get("deeper")
    if stop_reason is None:
        stop_reason = getattr(result, "stop_reason", None)
    if human_error is None:
        human_error = settings.get("human_error")
    if baseline is None:
        baseline = settings.get("baseline")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0. Received: tolerance={tolerance}")

    history = _history_dict(history)
    measure = _Measure(history, metric, epoch)
    m = measure.name
    train, val = measure.at(history), measure.at(history, "val_")
    test = test_metrics.get(measure.key)
    test = None if test is None else measure.error(test)
    if measure.is_accuracy:
        scale = 1.0
    else:
        scale = float(baseline if baseline is not None else history[measure.key][0])
    t = tolerance * scale
    human = float(human_error or 0.0)
    bias = train - human
    # Without validation values, the test split stands in for them.
    held_out, held_name = (val, "validation") if val is not None else (test, "test")
    variance = None if held_out is None else held_out - train
    test_gap = None if test is None or val is None else test - val

    evidence = {f"train_{m}": train, f"val_{m}": val, f"test_{m}": test}
    if human_error is not None:
        evidence.update({f"human_{m}": human, "avoidable_bias": bias})
    evidence.update(variance=variance, test_gap=test_gap, tolerance=t)
    evidence.update(baseline=None if measure.is_accuracy else scale)
    evidence["epoch"] = measure.index(history) + 1
    evidence = {k: v for k, v in evidence.items() if v is not None}

    def conclude(verdict, reason, advice=None):
        if human_error is not None and variance is not None:
            first = "bias" if bias >= variance else "variance"
            reason += (
                f" Avoidable bias {bias:.4g} vs variance {variance:.4g}: "
                f"work on {first} first."
            )
        if stop_reason and stop_reason != "non_finite_loss":
            reason += f" Training stopped early ({stop_reason})."
        return Diagnosis(verdict, evidence, advice or ADVICE[verdict], reason)

    losses = [float(v) for v in history[measure.key]]
    if stop_reason == "non_finite_loss" or not all(map(math.isfinite, losses)):
        return conclude(
            OPTIMIZATION,
            f"Training diverged: the training {measure.key} became non-finite.",
            ADVICE["diverged"],
        )
    if bias > t and (variance is None or bias >= variance):
        high = f"Training {m} {train:.4g} is high (above {human + t:.4g})."
        pairs = []  # (bigger model, its training value, smaller model, its value)
        if shallower is not None:
            small = measure.at(_history_dict(shallower))
            evidence[f"shallower_train_{m}"] = small
            pairs.append(("this model", train, "the shallower model", small))
        if deeper is not None:
            big = measure.at(_history_dict(deeper))
            evidence[f"deeper_train_{m}"] = big
            pairs.append(("the deeper model", big, "this model", train))
        if not pairs:
            return conclude(HIGH_TRAINING_LOSS, f"{high} No model to compare with.")
        worse = [pair for pair in pairs if pair[1] > pair[3]]
        bigger, big, smaller, small = (worse or pairs)[0]
        if worse:
            return conclude(
                OPTIMIZATION,
                f"{high} {bigger.capitalize()} fits the training data worse "
                f"({big:.4g}) than {smaller} ({small:.4g}): more capacity fitting "
                "worse is an optimization failure.",
            )
        return conclude(
            MODEL_BIAS,
            f"{high} {bigger.capitalize()} fits the training data better "
            f"({big:.4g}) than {smaller} ({small:.4g}): capacity helps, the model "
            "is too simple.",
        )
    if variance is not None and variance > t:
        return conclude(
            OVERFITTING,
            f"Training {m} {train:.4g} is low but {held_name} {m} is {variance:.4g} "
            f"higher ({held_out:.4g}; tolerance {t:.4g}).",
        )
    if test_gap is not None and test_gap > t:
        return conclude(
            MISMATCH,
            f"Training ({train:.4g}) and validation ({val:.4g}) {m} agree but test "
            f"{m} is {test_gap:.4g} higher ({test:.4g}): the test split differs.",
        )
    return conclude(
        FINE,
        f"Training {m} {train:.4g} is low and held-out values are within {t:.4g} "
        "of it.",
    )


def diagnose_run(run_dir, **kwargs):
    """Diagnoses a saved run and writes its learning curves and diagnosis beside it.

    Reads `history.json` and `result.json` (format in the module docstring) and writes
    `learning_curves.png` (verdict in the title) and `diagnosis.json`.

    Args:
        run_dir: the run's directory.
        **kwargs: passed to `diagnose` (`human_error`, `tolerance`, `epoch` ...).

    Returns:
        A `Diagnosis`.

    Example:

    >>> print(diagnose_run("runs/cnn_mnist"))
    """
    from types import SimpleNamespace

    from recipes import plots

    run_dir = Path(run_dir)
    paths = [run_dir / "history.json", run_dir / "result.json"]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(
            f"{run_dir} is not a saved run: missing {', '.join(missing)}. "
            f"Received: run_dir={str(run_dir)!r}"
        )
    history = json.loads(paths[0].read_text())
    record = json.loads(paths[1].read_text())
    if "test_metrics" not in record:
        raise ValueError(
            f"{paths[1]} has no 'test_metrics'. Received: keys {sorted(record)}"
        )
    result = SimpleNamespace(
        history=history,
        test_metrics=record["test_metrics"],
        settings=record.get("settings") or {},
        stop_reason=record.get("stop_reason"),
        comparisons=record.get("comparisons") or {},
    )
    diagnosis = diagnose(result, **kwargs)
    name = record.get("recipe") or run_dir.name
    plots.learning_curves(
        history, run_dir / "learning_curves.png", title=f"{name}: {diagnosis.verdict}"
    )
    (run_dir / "diagnosis.json").write_text(
        json.dumps(dataclasses.asdict(diagnosis), indent=1)
    )
    return diagnosis

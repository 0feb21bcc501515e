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
  the training side. With a shallower (or deeper) model's history, compared by the lowest
  training value each run reached over its epochs: a deeper model with a higher one ->
  "optimization failure"; a deeper model with a lower one -> "model bias". Without a
  comparison -> "high training loss" (undecided; the advice says which model to train to
  decide).
- `variance > t` -> "overfitting".
- `test_gap = test - val > t` -> "mismatch".
- else -> "fine".

Values are taken at the last epoch (`epoch="last"`), or at the epoch with the best
validation value (`epoch="best"`, the weights `EarlyStopping(restore_best_weights=True)`
keeps), or at a given one. A run of the engine is diagnosed at the epoch whose weights it
holds, the one its test split measured (`recipes.engine.Result.diagnose`). Keras records
the training loss as the mean over the epoch's batches with dropout on, the validation
loss after the epoch in inference mode.

Saved runs are diagnosed by `recipes.engine.diagnose_run`, which reads them with
`recipes.engine.Result.load`.
"""

import dataclasses
import math

from recipes.diagnostics.history import accuracy_key, error, is_accuracy

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
        "same way and pass its history as `shallower=` (a recipe's "
        "`train(compare_depth=True)`, or `--compare-depth` on the command line, trains "
        "both): if this deeper model does not "
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
            `train_<m>`, `val_<m>`, `test_<m>`, `human_<m>`, and with a comparison
            the lowest training value of each run, `lowest_train_<m>` (this one),
            `shallower_train_<m>` and `deeper_train_<m>`, with `<m>` the measure
            ("error", or the metric's name such as "loss"), and
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
            metric = accuracy_key(history) or "loss"
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
        self.is_accuracy = is_accuracy(metric)
        self.name = "error" if self.is_accuracy else metric

    def error(self, value):
        return error(value) if self.is_accuracy else float(value)

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

    def lowest(self, history):
        """The lowest training value a run reached, over all its epochs: how well its
        model can fit the training data, whichever epoch each run kept or stopped at."""
        values = [self.error(v) for v in history[self.key]]
        return min((v for v in values if math.isfinite(v)), default=math.inf)


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
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0. Received: tolerance={tolerance}")
    run = _Run.of(
        result,
        history=history,
        test_metrics=test_metrics,
        shallower=shallower,
        deeper=deeper,
        stop_reason=stop_reason,
        human_error=human_error,
        baseline=baseline,
    )
    numbers = _Numbers(run, _Measure(run.history, metric, epoch), tolerance)
    verdict, reason, advice = _apply_rules(run, numbers)
    return Diagnosis(verdict, numbers.evidence, advice or ADVICE[verdict], _note(run, numbers, reason))


@dataclasses.dataclass
class _Run:
    """What the rules read of a run: its histories, test metrics and settings."""

    history: dict
    test_metrics: dict
    shallower: dict | None
    deeper: dict | None
    stop_reason: str | None
    human_error: float | None
    baseline: float | None

    @classmethod
    def of(cls, result, **given):
        """The values given, else the result's attributes (see `diagnose`)."""
        comparisons = getattr(result, "comparisons", None) or {}
        settings = getattr(result, "settings", None) or {}
        defaults = dict(
            history=getattr(result, "history", None),
            test_metrics=getattr(result, "test_metrics", None) or {},
            shallower=comparisons.get("shallower"),
            deeper=comparisons.get("deeper"),
            stop_reason=getattr(result, "stop_reason", None),
            human_error=settings.get("human_error"),
            baseline=settings.get("baseline"),
        )
        values = {k: v if v is not None else defaults[k] for k, v in given.items()}
        values["history"] = _history_dict(values["history"])
        for name in ("shallower", "deeper"):
            if values[name] is not None:
                values[name] = _history_dict(values[name])
        return cls(**values)


class _Numbers:
    """The measure on each split and the gaps the rules compare, with their evidence."""

    def __init__(self, run, measure, tolerance):
        self.measure = m = measure
        history = run.history
        self.train, self.val = m.at(history), m.at(history, "val_")
        test = run.test_metrics.get(m.key)
        self.test = None if test is None else m.error(test)
        if m.is_accuracy:
            scale = 1.0
        else:
            scale = float(run.baseline if run.baseline is not None else history[m.key][0])
        self.t = tolerance * scale
        self.human = float(run.human_error or 0.0)
        self.bias = self.train - self.human
        # Without validation values, the test split stands in for them.
        self.held_out, self.held_name = (
            (self.val, "validation") if self.val is not None else (self.test, "test")
        )
        self.variance = None if self.held_out is None else self.held_out - self.train
        self.test_gap = (
            None if self.test is None or self.val is None else self.test - self.val
        )
        n = m.name
        evidence = {f"train_{n}": self.train, f"val_{n}": self.val, f"test_{n}": self.test}
        if run.human_error is not None:
            evidence.update({f"human_{n}": self.human, "avoidable_bias": self.bias})
        evidence.update(variance=self.variance, test_gap=self.test_gap, tolerance=self.t)
        evidence.update(baseline=None if m.is_accuracy else scale)
        evidence["epoch"] = m.index(history) + 1
        self.evidence = {k: v for k, v in evidence.items() if v is not None}


def _apply_rules(run, x):
    """The flowchart, in order: `(verdict, reason, advice or None)`."""
    m, name = x.measure, x.measure.name
    losses = [float(v) for v in run.history[m.key]]
    if run.stop_reason == "non_finite_loss" or not all(map(math.isfinite, losses)):
        reason = f"Training diverged: the training {m.key} became non-finite."
        return OPTIMIZATION, reason, ADVICE["diverged"]
    if x.bias > x.t and (x.variance is None or x.bias >= x.variance):
        return _training_side(run, x)
    if x.variance is not None and x.variance > x.t:
        return OVERFITTING, (
            f"Training {name} {x.train:.4g} is low but {x.held_name} {name} is "
            f"{x.variance:.4g} higher ({x.held_out:.4g}; tolerance {x.t:.4g})."
        ), None
    if x.test_gap is not None and x.test_gap > x.t:
        return MISMATCH, (
            f"Training ({x.train:.4g}) and validation ({x.val:.4g}) {name} agree but "
            f"test {name} is {x.test_gap:.4g} higher ({x.test:.4g}): the test split "
            "differs."
        ), None
    return FINE, (
        f"Training {name} {x.train:.4g} is low and held-out values are within "
        f"{x.t:.4g} of it."
    ), None


def _training_side(run, x):
    """High training loss: model bias or optimization failure, told apart by models of
    other depths trained the same way."""
    m, name = x.measure, x.measure.name
    high = f"Training {name} {x.train:.4g} is high (above {x.human + x.t:.4g})."
    if run.shallower is None and run.deeper is None:
        return HIGH_TRAINING_LOSS, f"{high} No model to compare with.", None
    pairs = []  # (bigger model, its training value, smaller model, its value)
    this = x.evidence[f"lowest_train_{name}"] = m.lowest(run.history)
    if run.shallower is not None:
        small = x.evidence[f"shallower_train_{name}"] = m.lowest(run.shallower)
        pairs.append(("this model", this, "the shallower model", small))
    if run.deeper is not None:
        big = x.evidence[f"deeper_train_{name}"] = m.lowest(run.deeper)
        pairs.append(("the deeper model", big, "this model", this))
    worse = [pair for pair in pairs if pair[1] > pair[3]]
    bigger, big, smaller, small = (worse or pairs)[0]
    if worse:
        return OPTIMIZATION, (
            f"{high} {bigger.capitalize()} fits the training data worse ({big:.4g}) "
            f"than {smaller} ({small:.4g}): more capacity fitting worse is an "
            "optimization failure."
        ), None
    return MODEL_BIAS, (
        f"{high} {bigger.capitalize()} fits the training data better ({big:.4g}) "
        f"than {smaller} ({small:.4g}): capacity helps, the model is too simple."
    ), None


def _note(run, x, reason):
    """The reason, with Ng's bias-vs-variance priority and an early stop added."""
    if run.human_error is not None and x.variance is not None:
        first = "bias" if x.bias >= x.variance else "variance"
        reason += (
            f" Avoidable bias {x.bias:.4g} vs variance {x.variance:.4g}: "
            f"work on {first} first."
        )
    if run.stop_reason and run.stop_reason != "non_finite_loss":
        reason += f" Training stopped early ({run.stop_reason})."
    return reason

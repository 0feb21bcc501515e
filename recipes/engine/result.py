"""A training run's `Result`, and the run directory it is saved to and loaded from.

    result = cnn_mnist.train(epochs=5)       # saved to runs/cnn_mnist
    same = Result.load("runs/cnn_mnist")     # history, metrics, settings; no model
    print(diagnose_run("runs/cnn_mnist"))    # what `python -m recipes diagnose` does

The run directory format, written by `Result.save` and read by `Result.load`:

    run_dir/history.json   the Keras history: {"loss": [...], "val_loss": [...],
                           "accuracy": [...], "val_accuracy": [...], ...}, one float
                           per epoch (NaN allowed).
    run_dir/result.json    {
                             "recipe": "cnn_mnist",
                             "test_metrics": {"loss": 0.03, "accuracy": 0.99},
                             "settings": {...},
                             "hyperparameters": {...},
                             "timings": {...},
                             "stop_reason": null,
                             "comparisons": {"shallower": {"history": {...}},
                                             "deeper": {"history": {...}}}
                           }

Only "test_metrics" is required in result.json. "recipe" names the plot. "settings" may
hold "human_error" and "baseline" (used by the diagnosis unless it is given them);
"stop_reason" is `null` or a string, "non_finite_loss" meaning training diverged;
"comparisons" may hold "shallower" and/or "deeper": models trained the same way, each
an object with a "history" (same format as history.json). Other keys are ignored.
`diagnose_run` writes `learning_curves.png` (the verdict in its title) and
`diagnosis.json` (the `Diagnosis` as a dict) into the directory. `Recipe.train` also
writes `model/` (the run's SavedModel, `Result.export`; `recipes.load(run_dir)` serves
it) and `data.json` (the fingerprint of its data, `recipes.engine.fingerprint`).
"""

import dataclasses
import json
import os
from pathlib import Path

import keras

from recipes.diagnostics import diagnose, plots
from recipes.engine.export import check_export_path, write_export  # noqa: F401 (public)
from recipes.engine.report import write_report


@dataclasses.dataclass
class Result:
    """What `Recipe.train` returns: the model, its history, test metrics and more.

    Attributes:
        recipe: the recipe's name.
        model: the trained `keras.Model` (best weights restored); `None` for a
            result loaded from a run directory.
        history: dict of per-epoch metrics (`loss`, `val_loss`, ...).
        test_metrics: metrics on the test split, evaluated once after training.
        timings: `fit_seconds`, `epoch_seconds` (list), `total_seconds`.
        settings: the run's settings (epochs, batch size, learning rate, strategy ...).
        hyperparameters: the values of every tunable used to build the model.
        stop_reason: why training ended early, if it did (see `callbacks.EarlyStopping`).
        kept_epoch: the epoch (from 1) whose weights the model holds: the best on
            validation, or a later one within the recipe's `restore_tolerance`.
        run_dir: where the run was saved.
        diagnosis: the `recipes.diagnostics.Diagnosis` of the run.
        comparisons: `{"shallower": ..., "deeper": ...}` of `compare_depth`.
        auto: what `train(auto=...)` did: the budget, the seconds spent, every
            step (without histories; those are in `auto.json`), the chosen step and
            why the loop stopped; `None` for a single run.
        exporter: writes the SavedModel for `export(path)`, as the recipe serves its
            data (named raw inputs and outputs); `None`: `model.export`.
        notes: what the training chose about the data that the run's data notes say
            (a regression's target scale); `train` adds them to the data's own notes
            (`settings["data_notes"]`, the log, the report).
    """

    recipe: str
    model: keras.Model | None
    history: dict
    test_metrics: dict
    timings: dict = dataclasses.field(default_factory=dict)
    settings: dict = dataclasses.field(default_factory=dict)
    hyperparameters: dict = dataclasses.field(default_factory=dict)
    stop_reason: str | None = None
    kept_epoch: int | None = None
    run_dir: str | None = None
    diagnosis: object = None
    comparisons: dict = dataclasses.field(default_factory=dict)
    auto: dict | None = None
    exporter: object = dataclasses.field(default=None, repr=False)
    notes: list = dataclasses.field(default_factory=list)
    _exported: Path | None = dataclasses.field(default=None, repr=False)

    _SAVED = ("recipe", "test_metrics", "settings", "hyperparameters", "timings",
              "stop_reason", "kept_epoch", "comparisons", "auto")

    def export(self, path):
        """Exports a SavedModel whose `serve` signature takes raw inputs.

        It loads with `tf.saved_model.load` or TF Serving, without this project. It is
        written under a temporary name and moved into place, so an interrupted export
        never leaves a half-written model at `path`.
        """
        copy_of = self._exported if self._exported is not None and self._exported.is_dir() else None
        written = write_export(path, self.model, self.exporter, copy_of=copy_of)
        self._exported = Path(written)
        return written

    def save_model(self, path):
        """Saves a `.keras` file; it loads with `keras.saving.load_model` after
        `import layers`. Written under a temporary name and moved into place."""
        path = check_keras_path(path)
        partial = path.with_name(f".{path.stem}.partial.keras")
        self.model.save(partial)
        os.replace(partial, path)
        return str(path)

    def save(self, run_dir):
        """Writes `history.json` and `result.json` (format in the module docstring)."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        record = {name: getattr(self, name) for name in self._SAVED}
        (run_dir / "result.json").write_text(json.dumps(record, indent=1, default=str))
        self.run_dir = str(run_dir)
        return self.run_dir

    @classmethod
    def load(cls, run_dir):
        """Reads a run directory written by `save`; the result has no model.

        Raises:
            ValueError: `run_dir` lacks `history.json` or `result.json`, or
                `result.json` has no "test_metrics".
        """
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
        values = {k: record[k] for k in cls._SAVED if record.get(k) is not None}
        values.setdefault("recipe", run_dir.name)
        return cls(model=None, history=history, run_dir=str(run_dir), **values)

    def report(self):
        """Writes `report.html` into the run directory (see `recipes.engine.report`)
        and returns its path."""
        if self.run_dir is None:
            raise ValueError("The result has no run directory: save(run_dir) it first.")
        return write_report(self.run_dir, self)

    def held_history(self):
        """The history with, at the kept epoch, the figures of the model the run holds
        where the recipe replaced that epoch's weights after training
        (`settings["held_figures"]`: `tabular`'s linear model); else the history."""
        held = self.settings.get("held_figures") or {}
        if not held or self.kept_epoch is None:
            return self.history
        epoch = self.kept_epoch - 1
        return {k: [*v[:epoch], held[k], *v[epoch + 1:]] if k in held else v
                for k, v in self.history.items()}

    def diagnose(self, **kwargs):
        """The run's `Diagnosis` of the model it holds: read at the kept epoch, with
        the held model's own figures where the recipe replaced that epoch's weights
        (`held_history`); `kwargs` as `recipes.diagnostics.diagnose`, which override
        these defaults."""
        held = "history" not in kwargs and "epoch" not in kwargs and self.settings.get(
            "held_figures") and self.settings.get("held_model")
        kwargs.setdefault("history", self.held_history())
        if self.kept_epoch is not None:
            kwargs.setdefault("epoch", self.kept_epoch - 1)
        diagnosis = diagnose(self, **kwargs)
        if held and self.kept_epoch is not None:
            diagnosis.reason += (f" The model held is {held}, in place of epoch "
                                 f"{self.kept_epoch}'s weights: these are its figures.")
        return diagnosis


def check_keras_path(path):
    """Raises a `ValueError` unless `path` can become a `.keras` file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"The path must end in '.keras'. Received: path={str(path)!r}")
    if path.is_dir():
        raise ValueError(f"Cannot save to {path}: it is a directory.")
    return path


def diagnose_run(run_dir, **kwargs):
    """Diagnoses a saved run and writes its learning curves and diagnosis beside it.

    Reads the run with `Result.load` and writes `learning_curves.png` (verdict in the
    title) and `diagnosis.json`.

    Args:
        run_dir: the run's directory.
        **kwargs: passed to `recipes.diagnostics.diagnose` (`human_error`,
            `tolerance`, `epoch` ...).

    Returns:
        A `Diagnosis`.

    Example:

    >>> print(diagnose_run("runs/cnn_mnist"))
    """
    result = Result.load(run_dir)
    diagnosis = result.diagnose(**kwargs)
    run_dir = Path(run_dir)
    plots.learning_curves(
        result.history,
        run_dir / "learning_curves.png",
        title=f"{result.recipe}: {diagnosis.verdict}",
    )
    (run_dir / "diagnosis.json").write_text(
        json.dumps(dataclasses.asdict(diagnosis), indent=1)
    )
    return diagnosis

"""KerasTuner searches over a recipe's space: depth, width, learning rate and batch size.

    from recipes import cnn_mnist
    result = cnn_mnist.search(tuner="hyperband", max_trials=20, epochs=8)
    print(result)  # one row per trial: hyperparameters, score, seconds

Every recipe declares its space in `build_model(hp)` (depth, width on a log scale, its
own tunables) and the engine adds the optimizer and the learning rate (log scale) when it
compiles. `RecipeHyperModel` adds the batch size: Keras ignores `fit(batch_size=...)` for
a `tf.data.Dataset`, so each trial re-batches the recipe's pipelines for its own batch,
and its warm-up and schedule are counted in steps of that batch.

Under `tf.distribute` the tunable `batch_size` is the batch *per replica*: the global
batch is `batch_size * replicas` and the learning rate is scaled by the replicas (the
engine's linear scaling rule). Across processes, `search(workers=N)` runs KerasTuner's
distributed mode on this machine: a chief process holding the oracle and `N` worker
processes (see `recipes.engine.processes`); a worker that dies is started again under the same
tuner id, and the oracle hands it back its unfinished trial.

Output, with `verbose="auto"` (the command line's default), reads like `train`'s: a
one-line header per trial (`announce_trials`), then Keras's progress bar on a terminal
or one line per epoch (`callbacks.EpochLog`) in a log, and the leaderboard at the end
(`print(result)`); KerasTuner's own tables and summaries are left out. `verbose=1` or
`2` (`--verbose`) keeps KerasTuner's output instead.
"""

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

import keras
import keras_tuner
import pandas as pd

from recipes.data import check_data_dir, check_positive_int
from recipes.diagnostics import format_table, plots
from recipes.engine import budget as budget_module
from recipes.engine import fingerprint
from recipes.engine import processes, report
from recipes.engine.budget import Budget, Deadline, parse_budget
from recipes.engine.export import check_export_path, write_export
from recipes.engine.fit import fit
from recipes.engine.hparams import check_known
from recipes.engine.strategy import (
    check_strategy, clear_session, get_strategy, released_gradients,
)

TUNERS = ("hyperband", "bayesian", "random")
BATCH_SIZES = (32, 64, 128, 256)
COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED
BEST, TRIALS_CSV, TRIALS_PNG = "best_hyperparameters.json", "trials.csv", "trials.png"


class RecipeHyperModel(keras_tuner.HyperModel):
    """A recipe's search space as a `keras_tuner.HyperModel`, with a tunable batch size.

    `build(hp)` builds the recipe's model in the strategy's scope and compiles it with
    the recipe's warm-up + cosine schedule, counted in steps of the trial's global
    batch. `fit(hp, model, ...)` re-batches the recipe's `tf.data` pipelines for that
    batch, trains with early stopping, and returns the metrics of the best epoch plus
    `seconds` (wall time of `fit`), `epochs` (epochs trained) and `budget_stop` (1.0
    when the search's budget ended the training).

    Args:
        recipe: a `recipes.engine.Recipe`.
        data: the `recipes.data.Splits` to train and validate on.
        strategy: a strategy name or a `tf.distribute.Strategy` (see
            `recipes.engine.get_strategy`). Pass `hypermodel.strategy` to the tuner
            as its `distribution_strategy`. Defaults to `"auto"`.
        epochs: epochs per trial, which is also the length of the learning-rate
            schedule. Defaults to the recipe's.
        batch_sizes: the choices of the `batch_size` tunable (per replica); the
            recipe's default batch size is always one of them.
            Defaults to `(32, 64, 128, 256)`.
        seed: seed of the training-set shuffle. Defaults to 42.
        deadline: a search budget's deadline (on `recipes.engine.budget.clock`): each
            training stops after the epoch that leaves too little time for one more.
            Defaults to `None` (no deadline).
        batch_size: the batch size the user fixed, if any; otherwise the recipe sizes
            its default to the data (`Recipe.data_settings`). Defaults to `None`.
        verbose: the Keras `fit` verbosity of every trial (see
            `recipes.engine.fit.fit`), in place of the one the tuner passes.
            Defaults to `None` (the tuner's).

    Example:

    ```python
    recipe = recipes.get("mlp_mnist")
    hypermodel = RecipeHyperModel(recipe, recipe.load_data(limit=2048), epochs=2)
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective="val_loss", max_trials=3,
        distribution_strategy=hypermodel.strategy,
    )
    tuner.search(epochs=2)
    ```
    """

    def __init__(
        self, recipe, data, strategy="auto", epochs=None, batch_sizes=BATCH_SIZES, seed=42,
        deadline=None, batch_size=None, verbose=None,
    ):
        super().__init__(name=recipe.name)
        self.recipe = recipe
        self.data = data
        self.strategy = get_strategy(strategy)
        given = {"epochs": epochs, "batch_size": batch_size}
        settings = recipe.settings(**given)
        # Sized to the data as `train` sizes them, so that the defaults' trial is `train`.
        self.settings = recipe.data_settings(
            settings, data, {k for k, v in given.items() if v is not None}
        )
        for size in batch_sizes:
            check_positive_int("batch_sizes", size)
        self.batch_sizes = sorted({*batch_sizes, self.settings["batch_size"]})
        self.seed = seed
        self.deadline = deadline
        self.verbose = verbose

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    def global_batch_size(self, hp):
        """The trial's `batch_size` (per replica) times the number of replicas."""
        default = self.settings["batch_size"]
        return hp.Choice("batch_size", self.batch_sizes, default=default) * self.replicas

    def build(self, hp):
        model = self.recipe.build(
            hp, self.data, self.strategy, self.settings["epochs"], self.global_batch_size(hp)
        )
        with self.strategy.scope():
            # Built now, the optimizer's state loads with the weights: a Hyperband
            # trial continues its parent's schedule where the parent stopped.
            model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, *args, epochs=None, callbacks=(), verbose="auto",
            initial_epoch=0, **kwargs):
        if args or kwargs:
            raise ValueError(
                "RecipeHyperModel trains on its recipe's data: call `tuner.search()` "
                f"without x, y or fit arguments. Received {len(args)} positional "
                f"argument(s) and {sorted(kwargs)}."
            )
        train, validation, _ = self.pipelines(hp)
        callbacks = list(callbacks)
        if self.deadline is not None:
            deadline = Deadline(self.deadline, clock=lambda: budget_module.clock())
            callbacks.append(deadline)
        with released_gradients():  # memory stays flat from trial to trial
            fitted = fit(
                model,
                train,
                validation,
                epochs=epochs or self.settings["epochs"],
                **self.recipe.stopping(self.settings),
                # The tuner keeps the best epoch's weights in its own checkpoint.
                restore_best_weights=False,
                callbacks=callbacks,
                verbose=verbose if self.verbose is None else self.verbose,
                initial_epoch=initial_epoch,
            )
        stopped = self.deadline is not None and deadline.fired
        return {**fitted.best(), "seconds": fitted.seconds,
                "epochs": len(fitted.epoch_seconds), "budget_stop": float(stopped)}

    def pipelines(self, hp):
        """The recipe's train, validation and test pipelines, batched for the trial."""
        return self.recipe.pipelines(self.data, self.global_batch_size(hp), seed=self.seed)

    def evaluate(self, hp, model):
        """Metrics of `model` on the test split (evaluated once), or `{}` without one."""
        if self.data.test is None:
            return {}
        metrics = model.evaluate(self.pipelines(hp)[2], return_dict=True, verbose=0)
        return {name: float(value) for name, value in metrics.items()}


@dataclasses.dataclass
class SearchResult:
    """What `search` returns; `print(result)` shows one row per trial.

    Attributes:
        recipe: the recipe's name.
        objective: the metric the search minimized or maximized, e.g. `"val_loss"`.
        trials: one dict per trial, in trial order: `trial_id`, `status`, `score`
            (the objective at the trial's best epoch), `seconds` (wall time of the
            trial's training), `epochs` (epochs trained), `note` (`"defaults"` for
            trial 0, the recipe's defaults; `"stopped by the budget"`) and
            `hyperparameters`. Also written to `trials.csv`.
        best_hyperparameters: the best trial's values (KerasTuner's own `tuner/*`
            bookkeeping left out); also written to `best_hyperparameters.json`.
            `recipe.train(hp=best_hyperparameters)` trains them again.
        best_trial_id: the best trial's id.
        best_model: the best trial's model at its best epoch, or `None` on a worker.
        test_metrics: `best_model` evaluated once on the test split.
        project_dir: where KerasTuner keeps the search; running the same search
            again resumes it from there.
        export_path: where the best model was exported as a SavedModel, if asked.
        processes: for `workers=N`, the exit codes of each process, one per start
            (`{"chief": [0], "tuner0": [-9, 0], ...}`).
        stop_reason: why the search stopped: `max_trials` reached, the tuner out of
            new values, or the budget.
        budget: `{"seconds", "spent"}` of a search with a budget (all its runs),
            else `None`.
        exporter: writes the best model's SavedModel as `train` does (`export`).
    """

    recipe: str
    objective: str
    trials: list
    best_hyperparameters: dict | None = None
    best_trial_id: str | None = None
    best_model: keras.Model | None = None
    test_metrics: dict = dataclasses.field(default_factory=dict)
    project_dir: str | None = None
    export_path: str | None = None
    processes: dict = dataclasses.field(default_factory=dict)
    stop_reason: str | None = None
    budget: dict | None = None
    exporter: object = dataclasses.field(default=None, repr=False)

    def export(self, path):
        """Exports the best model as `Result.export` does for a trained one (the same
        serving signature, output names and atomic write), with
        `best_hyperparameters.json` beside `saved_model.pb`; returns the path."""
        text = json.dumps(self.best_hyperparameters, indent=1)
        self.export_path = write_export(
            path, self.best_model, self.exporter, files={BEST: text}
        )
        return self.export_path

    def report(self):
        """Writes `search.json` and `report.html` (the leaderboard, the score against
        each hyperparameter) into the project folder; returns the page's path."""
        record = report.search_record(self)
        (Path(self.project_dir) / "search.json").write_text(json.dumps(record, indent=1, default=str))
        return report.write_report(self.project_dir)

    def table(self):
        """`(columns, rows)` of the trials, as printed and written to `trials.csv`."""
        names = list(dict.fromkeys(n for row in self.trials for n in row["hyperparameters"]))
        columns = ["trial", "status", self.objective, "epochs", "seconds"]
        if self.budget:
            columns.append("% budget")
        columns += ["note", *names]
        rows = []
        for row in self.trials:
            cells = [row["trial_id"], row["status"], row["score"], row["epochs"], row["seconds"]]
            if self.budget:
                share = row["seconds"] and 100 * row["seconds"] / self.budget["seconds"]
                cells.append(None if share is None else round(share, 1))
            cells += [row["note"], *(row["hyperparameters"].get(n) for n in names)]
            rows.append(cells)
        return columns, rows

    def __str__(self):
        if not self.trials:
            return (
                f"This process was a search worker; the chief keeps the results in "
                f"{self.project_dir}."
            )
        columns, rows = self.table()
        for cells in rows:
            if cells[0] == self.best_trial_id:
                cells[0] += " *"
        lines = [
            f"Search over {self.recipe} ({len(self.trials)} trials; * best, by "
            f"{self.objective}):",
            format_table(columns, rows),
        ]
        if self.stop_reason:
            lines.append(f"Stopped: {self.stop_reason}.")
        if self.budget:
            b = self.budget
            lines.append(f"Budget: {b['spent']:.0f} s of {b['seconds']:.0f} s used "
                         f"({100 * b['spent'] / b['seconds']:.0f}%).")
        if self.test_metrics:
            scores = ", ".join(f"{k} {v:.4f}" for k, v in self.test_metrics.items())
            lines.append(f"Best model on the test split: {scores}")
        lines.append(f"Best hyperparameters: {self.project_dir}/{BEST}; every trial: "
                     f"{self.project_dir}/{TRIALS_CSV} and {TRIALS_PNG}; the page: "
                     f"{self.project_dir}/report.html")
        if self.export_path:
            lines.append(f"Best model exported to {self.export_path}")
        if self.processes:
            codes = ", ".join(f"{name} {codes}" for name, codes in self.processes.items())
            lines.append(f"Processes (exit code of each start): {codes}")
        return "\n".join(lines)


def search(
    recipe,
    tuner="hyperband",
    max_trials=10,
    epochs=None,
    batch_size=None,
    learning_rate=None,
    *,
    hp=None,
    batch_sizes=BATCH_SIZES,
    directory="tuning",
    project_name=None,
    overwrite=False,
    strategy="auto",
    workers=None,
    export=None,
    budget=None,
    data=None,
    data_dir=None,
    limit=None,
    executions_per_trial=1,
    callbacks=(),
    seed=42,
    verbose="auto",
    **data_options,
):
    """Searches a recipe's hyperparameters with KerasTuner; resumes an earlier search.

    Every trial trains with early stopping and is scored on the recipe's `monitor`
    (e.g. `val_loss`); the test split is used once, on the best model. The first trial
    is the recipe's defaults, trained for the full `epochs` (under Hyperband too), so
    the best trial is never worse on validation than `train` with the same settings.
    Running the same search again (same `directory` and `project_name`,
    `overwrite=False`) resumes it: finished trials are kept, an interrupted one is run
    again; on the same data only (the fingerprint in the project folder's `data.json`,
    see `recipes.engine.fingerprint`: other data is a `ValueError`). Beside KerasTuner's
    files, the project folder gets `best_hyperparameters.json`, `trials.csv` (one row
    per trial) and `trials.png` (the score against each tuned hyperparameter).

    Args:
        recipe: a `recipes.engine.Recipe`.
        tuner: `"hyperband"` (successive halving over `epochs` per trial, its
            brackets repeated until `max_trials` trials have run), `"bayesian"` or
            `"random"`. Defaults to `"hyperband"`.
        max_trials: the number of trials to run. Defaults to 10.
        epochs: most epochs per trial. Defaults to the recipe's.
        batch_size: fix the batch size (per replica) instead of tuning it.
            Defaults to `None` (tuned among `batch_sizes`).
        learning_rate: fix the peak learning rate instead of tuning it.
            Defaults to `None` (tuned on a log scale).
        hp: fix tunables of the recipe, e.g. `{"depth": 2}`. Defaults to `None`.
        batch_sizes: the batch sizes (per replica) to choose from.
            Defaults to `(32, 64, 128, 256)`, plus the recipe's default.
        directory: where searches are kept. Defaults to `"tuning"`.
        project_name: the search's folder in `directory`. Defaults to the recipe's
            name.
        overwrite: start afresh instead of resuming. Defaults to `False`.
        strategy: see `recipes.engine.get_strategy`; given to the tuner as its
            `distribution_strategy`. Defaults to `"auto"`.
        workers: run KerasTuner's distributed mode on this machine: a chief (the
            oracle) and `workers` worker processes, logging to
            `<project dir>/logs/`. With several GPUs they are shared out among the
            workers. Defaults to `None` (one process, this one).
        export: export the best model as a SavedModel to this directory, as
            `train` exports (see `SearchResult.export`), with
            `best_hyperparameters.json` inside it. Defaults to `None`.
        budget: wall-clock seconds (or text such as `"30m"`) for the whole search,
            every run of it together: a trial starts only while the median time of
            the finished trials fits in what is left, and a running trial stops
            after the epoch that leaves too little time for one more (see
            `recipes.engine.budget`). With `workers`, the chief enforces it for all.
            Defaults to `None` (no budget).
        data: a `recipes.data.Splits` to search on (not with `workers`).
            Defaults to the recipe's data.
        data_dir: where the dataset lives. Defaults to `RECIPES_DATA_DIR`, then
            TFDS's own directory.
        limit: use the first `limit` training examples only. Defaults to all.
        executions_per_trial: trainings per trial, averaged. Defaults to 1.
        callbacks: extra Keras callbacks for every trial (deep-copied per trial,
            pickled for `workers`). Defaults to none.
        seed: seed for the oracle, the initial weights, the validation split and
            shuffling. Defaults to 42.
        verbose: `"auto"`: a one-line header per trial, then one line per epoch in a
            log (Keras's progress bar on a terminal), KerasTuner silent; 0 (silent),
            1 or 2: KerasTuner's own output, and Keras's at that verbosity.
            Defaults to `"auto"`.
        **data_options: the recipe's data options, e.g. `csv=..., target=...`.

    Returns:
        A `SearchResult`.

    Example:

    ```python
    from recipes import cnn_mnist
    result = cnn_mnist.search(tuner="random", max_trials=3, epochs=1, limit=2048,
                              export="out/best")
    print(result)
    ```
    """
    if tuner not in TUNERS:
        raise ValueError(f"Unknown tuner. Expected one of {TUNERS}. Received: tuner={tuner!r}")
    check_positive_int("max_trials", max_trials)
    check_positive_int("executions_per_trial", executions_per_trial)
    seconds = None if budget is None else parse_budget(budget, "budget")
    if limit is not None:
        check_positive_int("limit", limit)
    recipe.settings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
    check_strategy(strategy)
    check_data_dir(data_dir)
    recipe.check_data_options(data_options)
    if verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    fixed = dict(recipe.hyperparameters(hp).values)
    if batch_size is not None:
        fixed["batch_size"] = batch_size
    if learning_rate is not None:
        fixed["learning_rate"] = learning_rate
    if export is not None:
        check_export_path(export)
    plan = dict(
        tuner=tuner,
        max_trials=max_trials,
        epochs=epochs,
        batch_size=batch_size,
        batch_sizes=tuple(batch_sizes),
        directory=str(Path(directory).absolute()),
        project_name=project_name or recipe.name,
        strategy=strategy,
        data_dir=data_dir,
        limit=limit,
        executions_per_trial=executions_per_trial,
        callbacks=list(callbacks),
        seed=seed,
        verbose=verbose,
        fixed=fixed,
        data_options=data_options,
    )
    role = _role()
    if workers is not None:
        check_positive_int("workers", workers)
        if role is not None:
            raise ValueError(
                "workers= starts a chief and workers on this machine, but this process "
                f"already is KerasTuner's {os.environ.get('KERASTUNER_TUNER_ID')!r}. "
                "Across machines, run the same search on each with the "
                "KERASTUNER_* variables set and no workers=."
            )
        if data is not None or not isinstance(strategy, str):
            raise ValueError(
                "workers= runs the search in new processes, which load the recipe's "
                "data and strategy themselves: pass data_dir/limit and a strategy name, "
                "not data= or a tf.distribute.Strategy."
            )
    # The data's fingerprint: a search resumes on its own data only.
    plan["source"] = fingerprint.fingerprint(recipe, data, data_options, limit, seed)
    if not overwrite and role != "worker":
        where = Path(directory) / plan["project_name"]
        fingerprint.check_same(where / fingerprint.FILE, plan["source"],
                               f"{where} holds a search", fingerprint.TUNE_FIX)
    if seconds is not None and role != "worker":
        project_dir = Path(plan["directory"]) / plan["project_name"]
        plan["budget"] = Budget.begin(seconds, project_dir, fresh=overwrite).as_plan()
    processes = {}
    if workers is not None:
        processes = _search_on_local_workers(recipe, plan, workers, overwrite)
    # With workers=N the search has run; this process only reads it back.
    overwrite = overwrite and workers is None and role != "worker"
    kt_tuner, hypermodel = _make_tuner(recipe, plan, data, overwrite)
    if workers is None:
        _run(kt_tuner, plan)
    if role == "worker":
        return SearchResult(recipe.name, recipe.monitor, [], project_dir=kt_tuner.project_dir)
    return _summarize(kt_tuner, hypermodel, export, processes)


def _role():
    """`"chief"`, `"worker"` in KerasTuner's distributed mode, `None` otherwise."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _make_tuner(recipe, plan, data=None, overwrite=False):
    """Builds the KerasTuner tuner of `plan`; returns `(tuner, hypermodel)`."""
    keras.utils.set_random_seed(plan["seed"])
    if data is None:
        data = recipe.load_data(
            plan["data_dir"], plan["limit"], plan["seed"], **plan["data_options"]
        )
    recipe.check_data(data)
    budget = Budget(**plan["budget"]) if plan.get("budget") else None
    hypermodel = RecipeHyperModel(
        recipe, data, plan["strategy"], plan["epochs"], plan["batch_sizes"], plan["seed"],
        deadline=budget and budget.deadline, batch_size=plan["batch_size"],
        verbose="auto" if plan["verbose"] == "auto" else None,
    )
    _check(hypermodel, plan["fixed"])
    fixed = keras_tuner.HyperParameters()
    for name, value in plan["fixed"].items():
        fixed.Fixed(name, value)
    common = dict(
        hypermodel=hypermodel,
        objective=recipe.monitor,
        hyperparameters=fixed,
        seed=plan["seed"],
        executions_per_trial=plan["executions_per_trial"],
        distribution_strategy=hypermodel.strategy,
        directory=plan["directory"],
        project_name=plan["project_name"],
        overwrite=overwrite,
    )
    if plan["tuner"] == "hyperband":
        # Brackets repeat until max_trials, as the other tuners stop at max_trials.
        tuner = keras_tuner.Hyperband(
            max_epochs=hypermodel.settings["epochs"], hyperband_iterations=None, **common
        )
        if isinstance(tuner.oracle, keras_tuner.Oracle):  # not on a worker's client
            tuner.oracle.max_trials = plan["max_trials"]
    elif plan["tuner"] == "bayesian":
        tuner = keras_tuner.BayesianOptimization(max_trials=plan["max_trials"], **common)
    else:
        tuner = keras_tuner.RandomSearch(max_trials=plan["max_trials"], **common)
    if isinstance(tuner.oracle, keras_tuner.Oracle):  # this process holds the oracle
        if plan.get("source") is not None:
            fingerprint.write(Path(tuner.project_dir) / fingerprint.FILE, plan["source"])
        defaults_first(tuner.oracle)
        if budget:
            budget.guard(tuner.oracle)
    if hasattr(tuner.oracle, "stub"):  # a worker's client of the chief's oracle
        tuner.oracle.stub = PatientStub(tuner.oracle.stub)
    return tuner, hypermodel


class PatientStub:
    """A worker's gRPC stub of the chief's oracle whose calls outlast a chief restart.

    KerasTuner's client waits for a chief that is not up yet (`wait_for_ready`), but a
    call in flight when the chief dies fails at once with UNAVAILABLE; the worker then
    marks the trial it was reporting FAILED and, once the chief is back, tells it so.
    Each call here is tried again on UNAVAILABLE, with backoff, for up to `patience`
    seconds: the restarted chief's oracle reloads from disk and still holds the trial
    as this worker's, so the report lands and the trial completes once.
    """

    def __init__(self, stub, patience=300.0):
        self._stub, self._patience = stub, patience

    def __getattr__(self, name):
        import grpc  # a worker has it: KerasTuner's client imported it

        method = getattr(self._stub, name)

        def call(*args, **kwargs):
            deadline, delay = time.monotonic() + self._patience, 0.25
            while True:
                try:
                    return method(*args, **kwargs)
                except grpc.RpcError as e:
                    code = e.code() if callable(getattr(e, "code", None)) else None
                    if code != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                        raise
                time.sleep(delay)
                delay = min(2 * delay, 5.0)

        return call


def _run(tuner, plan):
    verbose = plan["verbose"]
    if verbose == "auto":  # our header per trial and epoch lines, KerasTuner silent
        announce_trials(tuner)
        verbose = 0
    tuner.search(
        epochs=tuner.hypermodel.settings["epochs"], callbacks=list(plan["callbacks"]),
        verbose=verbose,
    )


def announce_trials(tuner, stream=None):
    """Makes `tuner` print one line as each trial begins: its id, `(defaults)` for
    trial 0, its values, and under Hyperband its epochs and the trial it continues, e.g.
    `trial 03  units 16  depth 2  learning_rate 0.0021  batch_size 64  epochs 3 (from
    trial 01)`. Written to `stream` (`sys.stdout` at each write when `None`)."""
    begin = tuner.on_trial_begin

    def on_trial_begin(trial):
        values = dict(trial.hyperparameters.values)
        parts = [f"trial {trial.trial_id}" + (" (defaults)" if int(trial.trial_id) == 0 else "")]
        parts += [f"{name} {_value(value)}" for name, value in _public(values).items()]
        if "tuner/epochs" in values:
            parent = values.get("tuner/trial_id")
            parts.append(f"epochs {values['tuner/epochs']}"
                         + (f" (from trial {parent})" if parent else ""))
        print("  ".join(parts), file=stream or sys.stdout, flush=True)
        begin(trial)

    tuner.on_trial_begin = on_trial_begin


def _value(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _check(hypermodel, fixed):
    """Raises before any trial for fixed values of hyperparameters the recipe does
    not have, and for data the model cannot take (`Recipe.check_model`), on the model
    the fixed values build (a fixed backbone, say)."""
    probe = keras_tuner.HyperParameters()
    probe.values.update(fixed)
    model = hypermodel.build(probe)
    check_known(probe.space, fixed, hypermodel.recipe.name)
    hypermodel.recipe.check_model(model, hypermodel.data)
    clear_session()


def defaults_first(oracle):
    """Makes `oracle`'s first trial the defaults of its space: each active
    hyperparameter at its default, as `_random_values` fills them at random. Under
    Hyperband the trial carries no `tuner/*` values: it trains the search's full
    epochs, outside the brackets. A resumed search already has its trial 0."""
    populate = oracle.populate_space

    def populate_space(trial_id):
        if oracle.trials:
            return populate(trial_id)
        hps = keras_tuner.HyperParameters()
        for hp in oracle.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        return {"status": "RUNNING", "values": dict(hps.values)}

    oracle.populate_space = populate_space


def _summarize(tuner, hypermodel, export, processes):
    """The `SearchResult` of a finished search; writes the leaderboard and exports the
    best model."""
    project_dir = Path(tuner.project_dir)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    rows = [_row(trial) for trial in trials]
    best = [t for t in tuner.oracle.get_best_trials(1) if t.status == COMPLETED]
    if not best:
        raise RuntimeError(
            f"No trial of the search in {project_dir} completed. Each trial's error is "
            "in its trial.json; fix it and search again with overwrite=True."
        )
    best = best[0]
    values = _public(best.hyperparameters.values)
    (project_dir / BEST).write_text(json.dumps(values, indent=1))
    model = tuner.load_model(best)
    record = Budget.read(project_dir) if hypermodel.deadline is not None else {}
    result = SearchResult(
        recipe=hypermodel.recipe.name,
        objective=tuner.oracle.objective.name,
        trials=rows,
        best_hyperparameters=values,
        best_trial_id=best.trial_id,
        best_model=model,
        test_metrics=hypermodel.evaluate(best.hyperparameters, model),
        project_dir=str(project_dir),
        processes=processes,
        stop_reason=record.get("stop_reason") or _stop_reason(tuner.oracle, rows),
        budget={k: record[k] for k in ("seconds", "spent")} if record else None,
        exporter=hypermodel.recipe.exporter(model, hypermodel.data),
    )
    write_leaderboard(result)
    if export is not None:
        result.export(export)
    result.report()
    return result


def _stop_reason(oracle, rows):
    if oracle.max_trials and len(rows) >= oracle.max_trials:
        return f"max_trials={oracle.max_trials} trials have run"
    return "the tuner had no new values to try"


def write_leaderboard(result):
    """Writes `trials.csv` (`SearchResult.table`) and `trials.png` (the score against
    each tuned hyperparameter) into the search's project folder."""
    folder = Path(result.project_dir)
    columns, rows = result.table()
    frame = pd.DataFrame(rows, columns=columns)
    frame.to_csv(folder / TRIALS_CSV, index=False)
    tuned = [n for n in columns[columns.index("note") + 1:] if frame[n].nunique() > 1]
    plots.search_scores(frame, result.objective, tuned, folder / TRIALS_PNG,
                        best=result.best_trial_id,
                        title=f"Search over {result.recipe}: {result.objective} against each hyperparameter")


def _row(trial):
    def last(name):
        if trial.metrics.exists(name):
            return trial.metrics.get_last_value(name)
        return None

    notes = ["defaults"] if int(trial.trial_id) == 0 else []
    if last("budget_stop"):
        notes.append("stopped by the budget")
    return dict(
        trial_id=trial.trial_id,
        status=trial.status,
        score=trial.score,
        seconds=last("seconds"),
        epochs=None if last("epochs") is None else int(last("epochs")),
        note=", ".join(notes),
        hyperparameters=_public(trial.hyperparameters.values),
    )


def _public(values):
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def _search_on_local_workers(recipe, plan, workers, overwrite, max_restarts=2):
    """Runs KerasTuner's chief and `workers` workers as processes on this machine.

    A worker that dies (killed, out of memory) is started again with the same tuner id,
    at most `max_restarts` times: KerasTuner's oracle still holds its trial as running
    and gives that same trial back to it, so the trial is trained again from its start
    and completes once. Returns `{process name: [exit codes]}`.
    """
    project_dir = Path(plan["directory"]) / plan["project_name"]
    if overwrite and project_dir.exists():
        shutil.rmtree(project_dir)
    port = processes.free_port()
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    gpus = processes.visible_gpus()
    names = ["chief", *(f"tuner{i}" for i in range(workers))]

    def on_exit(name, code):
        if code == 0:
            return False
        # A dead chief is started again: its oracle reloads from the project directory,
        # and the workers' calls wait for it (`PatientStub`); should one die meanwhile,
        # it has more restarts.
        allowed = max_restarts if name == "chief" else 2 * max_restarts + 1
        if len(procs.exit_codes[name]) > allowed:
            raise RuntimeError(
                f"The search's {name} process exited with status {code}. The end of its "
                f"log ({procs.log_dir / name}.log):\n{procs.log_tail(name)}"
            )
        if plan["verbose"]:
            what = "its oracle" if name == "chief" else "its trial"
            print(f"{name} exited with status {code}; restarting it to finish {what}.")
        return True

    with processes.LocalProcesses(project_dir / "logs") as procs:
        for name in names:
            index = None if name == "chief" else int(name.removeprefix("tuner"))
            devices = processes.share_gpus(index, workers, gpus)
            env = {**oracle, "KERASTUNER_TUNER_ID": name, **devices}
            procs.call(name, _search_process, recipe, plan, env=env)
        if plan["verbose"]:
            print(f"Searching with a chief and {workers} workers; logs in {procs.log_dir}")
        return procs.wait(on_exit)


def _search_process(recipe, plan):
    """What a chief or worker process runs (KerasTuner's env variables set)."""
    if plan["verbose"] != "auto":
        plan = dict(plan, verbose=2 if plan["verbose"] else 0)  # a log file: no bars
    _run(_make_tuner(recipe, plan)[0], plan)

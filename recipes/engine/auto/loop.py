"""The loop of `train(auto=BUDGET)`: saved state, the budget, training each step.

`AutoLoop` trains the defaults, asks `recipes.engine.auto.moves` for the next moves of
the best step's diagnosis, estimates each (a timed probe for a move that changes the
model), trains the first that fits, keeps it when it scores better on validation, and
ends by evaluating the chosen model once on the test split. Its state lives in
`RUN_DIR/auto.json`, so an interrupted loop resumes. See `recipes.engine.auto`.
"""

import json
import math
import statistics
import time
from pathlib import Path

import keras
import keras_tuner

import callbacks as recipe_callbacks
from callbacks.fine_tune import fine_tune_schedule, set_phase

from recipes.diagnostics import flowchart, plots
from recipes.diagnostics.history import measures
from recipes.diagnostics.shift import split_shift
from recipes.engine.auto.moves import (
    COST,
    DRIFT,
    PROBED,
    RESERVE,
    SCREEN,
    SCREEN_MOVES,
    candidates,
    diagnose,
    find_relatives,
    pace,
    polish,
    shortened,
    step_key,
    summary,
)
from recipes.engine.budget import Deadline, parse_budget
from recipes.engine.fingerprint import TRAIN_FIX, check_match
from recipes.engine.fit import load_model_weights, steps_per_epoch
from recipes.engine.grow import widen
from recipes.engine.result import Result

# A probe times up to PROBE_STEPS training steps after PROBE_WARMUP untimed ones (their
# median: `_timed`).
PROBE_STEPS = 200
PROBE_WARMUP = 3

COLUMNS = ("step", "diagnosis", "change", "train loss", "val loss", "train err",
           "val err", "seconds", "kept")
_WIDTHS = (4, 56, 30, 10, 9, 9, 8, 7, 7)


def clock():
    """The loop's seconds (`time.monotonic`); tests replace it."""
    return time.monotonic()


def score(step):
    """What steps are chosen by, lower is better: the validation error, else the
    validation metric (a regression's MAE: the loss would count the L2 penalty
    against the model that has one), then the validation loss."""
    loss = step["val_loss"]
    loss = math.inf if loss is None or not math.isfinite(loss) else loss
    first = step["val_error"]
    if first is None:
        first = step.get("val_metric")
    if first is None or not math.isfinite(first):
        first = math.inf if first is not None or not math.isfinite(loss) else 0.0
    return (first, loss)


def held_measures(result):
    """`measures` of the model `result` holds: its history at the kept epoch, with the
    held model's figures where the recipe replaced that epoch's weights after training
    (`Result.held_history`: a `tabular` run that kept a linear model)."""
    return measures(result.held_history(), result.kept_epoch - 1)


class AutoLoop:
    """The loop of `Recipe.train(auto=...)`; see the module docstring."""

    def __init__(self, recipe, budget, hp, data, settings, strategy, run_dir, callbacks,
                 verbose, seed, given=None, source=None):
        self.recipe, self.budget = recipe, parse_budget(budget, "auto")
        self.data = recipe.auto_data(data, hp)
        self.settings, self.strategy, self.seed = dict(settings), strategy, seed
        self.run_dir, self.callbacks, self.verbose = Path(run_dir), list(callbacks), verbose
        self.given = given  # hyperparameters the user named: checked at the first build
        self.path = self.run_dir / "auto.json"
        base = dict(hyperparameters=dict(hp.values), settings=self.settings, seed=seed)
        # The data's fingerprint (`recipes.engine.fingerprint`): a loop resumes on its own.
        self.source = source
        self.state = self._load(base) or dict(
            recipe=recipe.name, budget_seconds=self.budget, elapsed_seconds=0.0, base=base,
            data=source, steps=[], current=None, chosen=None, stopped=None, tried=[],
            checks={},
        )
        self.state["budget_seconds"] = self.budget
        self._elapsed_before, self._start = self.state["elapsed_seconds"], clock()
        # The chosen step's model, search space and result.
        self.model = self.space = self.result = None

    # -- the loop --------------------------------------------------------------------
    def run(self):
        """Runs (or resumes) the loop; returns the chosen step's `Result`, evaluated
        once on the test split."""
        header = "  ".join(c.ljust(w) if i in (1, 2) else c.rjust(w)
                           for i, (c, w) in enumerate(zip(COLUMNS, _WIDTHS)))
        self._say([header.rstrip(), "  ".join("-" * w for w in _WIDTHS)])
        for step in self.state["steps"]:
            self._print_row(step)
        if not self.state["steps"]:
            base = self.state["base"]
            self._train(dict(move="defaults", change="defaults", parent=None,
                             diagnosis=None, hyperparameters=base["hyperparameters"],
                             settings=base["settings"], augment_scale=1.0, estimate=None))
        while not self.state["stopped"]:
            move = self._next_move()
            if move is not None:
                self._train(move)
        self._save()
        return self._finish()

    def _next_move(self):
        """The next step to train, or `None` with `state["stopped"]` set."""
        if self.state["current"]:  # interrupted: the same step again
            return self.state["current"]
        best = self.state["steps"][self.state["chosen"]]
        diagnosis = self.diagnose(best)
        verdict = diagnosis.verdict
        if verdict == flowchart.FINE:
            return self._stop(f"fine: {diagnosis.reason}")
        if best["val_error"] == 0:
            return self._stop("no error left on validation to choose by")
        if not self._same_distribution():
            return self._stop(f"train/validation mismatch: {self.state['checks']['shift']}")
        left = self.left()
        too_long, fitting = [], []
        for move in self.moves(best, diagnosis):
            if move["key"] in self.state["tried"]:
                continue
            if move["move"] == "lr_finder":
                move = self._range_test(best, move)
                if move is None:
                    continue
            if move["move"] == "wider":
                move = self._widened(best, move)
            estimate = self.estimate(best, move)
            if DRIFT * estimate > left:
                short = shortened(best, move, left, estimate)
                if short is None:
                    too_long.append(f"{move['change']} ~{estimate:.0f} s")
                    continue
                move, estimate = short, self.estimate(best, short)
            move.update(parent=best["step"], diagnosis=summary(diagnosis), estimate=estimate)
            fitting.append(move)
            if len(fitting) == SCREEN_MOVES:
                break
        if fitting:
            return self._screened(fitting, left)
        polished = polish(best, left, self.budget, self.state["tried"])
        if polished is not None:
            polished.update(parent=best["step"], diagnosis=summary(diagnosis))
            return polished
        if too_long:
            return self._stop(f"budget: {left:.0f} s left, too little for "
                              f"{'; '.join(too_long)}")
        return self._stop(f"no move left for {verdict} (tried {len(self.state['steps']) - 1})")

    def _screened(self, moves, left):
        """The move to train in full among `moves` (those of the diagnosis that fit, in
        the order they are tried): with two or more, and time for each on `SCREEN` of
        its epochs plus the costliest in full, each is trained that short (once; kept
        in `checks.screens`) and the best on validation goes on, with the screen's
        results in its `screen`; else the first."""
        def short(move):
            return max(1, round(move["settings"]["epochs"] * SCREEN))

        screens = self.state["checks"].setdefault("screens", {})
        todo = [m for m in moves if m["key"] not in screens]
        cost = sum(m["estimate"] * short(m) / m["settings"]["epochs"] for m in todo)
        if len(moves) < 2 or cost + max(m["estimate"] for m in moves) > left - RESERVE * self.budget:
            return moves[0]
        if todo:
            self._say([f"screening {len(moves)} moves on a quarter of their epochs: "
                       + "; ".join(m["change"] for m in moves)])
        for move in todo:
            screens[move["key"]] = self._screen(move, short(move))
            self._save()
        ranked = sorted(moves, key=lambda m: score(screens[m["key"]]))
        winner = dict(ranked[0])
        winner["screen"] = [dict(change=m["change"], **screens[m["key"]]) for m in moves]
        self._say(["screened: " + ", ".join(
            f"{m['change']} {_err(screens[m['key']])}" for m in moves)
            + f"; {winner['change']} trains in full"])
        return winner

    def _screen(self, move, epochs):
        """`move` trained on `epochs` of its epochs (its schedule shortened with them),
        measured on the validation split at its kept epoch; nothing of it is kept but
        the measures."""
        index = len(self.state["checks"]["screens"])
        result, _, seconds, _ = self._fit(move, dict(move["settings"], epochs=epochs),
                                          self.run_dir / f"screen-{index}", verbose=0)
        measured = held_measures(result)
        return dict(epochs=len(result.history["loss"]), seconds=seconds,
                    validation_size=self.data.validation_size, **measured)

    def _fit(self, move, settings, run_dir, verbose, **options):
        """`(result, hp, seconds, deadline)`: the model of `move` (built from `hp`,
        started as `_initial` says) trained with `settings` into `run_dir`
        (`Recipe.run_once`, not evaluated on the test split), stopped by `deadline` at
        the epoch end that would overrun the budget less `RESERVE`."""
        hp = _hp(move["hyperparameters"])
        end = self._start + self.budget * (1 - RESERVE) - self._elapsed_before
        deadline = Deadline(end, clock=lambda: clock())
        keras.utils.set_random_seed(self.seed)
        start = clock()
        result = self.recipe.run_once(
            hp, self.data, self.recipe.settings(**settings), self.strategy, run_dir,
            [*self.callbacks, deadline], verbose, self.seed,
            augment_scale=move["augment_scale"], evaluate=False,
            initial_weights=self._initial(move), **options,
        )
        return result, hp, clock() - start, deadline

    def _weights(self, step):
        """Where a kept step's model weights are saved."""
        return self.run_dir / f"step-{step}" / "model.weights.h5"

    def _initial(self, move):
        """What `move`'s model starts from, as `run_once`'s `initial_weights`: its
        parent's weights (a polish), its parent's model widened (a wider move whose
        models `widen` maps), else `None` (fresh weights)."""
        if move.get("warm_start") is not None:
            return self._weights(move["warm_start"])
        if move.get("widen_from") is None:
            return None
        parent = self.state["steps"][move["widen_from"]]

        def grown(model):
            widen(self._trained(parent), model, seed=self.seed)
        return grown

    def _trained(self, step):
        """A kept step's model with its saved weights, not compiled."""
        model = self.recipe.build_model(_hp(step["hyperparameters"]), data=self.data)
        load_model_weights(model, self._weights(step["step"]))
        return model

    def _widened(self, best, move):
        """The wider `move` started from `best`'s model widened (`widen`: it computes
        what `best`'s did), where the recipe's models map; else `move` as it is, from
        fresh weights."""
        models = [self.recipe.build_model(_hp(step["hyperparameters"]), data=self.data)
                  for step in (best, move)]
        try:
            widen(*models, seed=self.seed)  # a dry run on fresh weights
        except ValueError:
            return move
        return dict(move, widen_from=best["step"],
                    change=f"{move['change']}, widened from step {best['step']}")

    def _train(self, move):
        """Trains one step, records it and prints its row."""
        self.state["current"] = move
        self._save()
        index = len(self.state["steps"])
        if move["move"] != "defaults":
            timed = (f", a timed probe: {move['probe']['ratio']:.2g}x the step time"
                     if move.get("probe") else "")
            self._say([f"step {index}: {move['change']} (estimated {move['estimate']:.0f} s"
                       f"{timed}, {self.left():.0f} s left)"])
        result, hp, seconds, deadline = self._fit(
            move, move["settings"], self.run_dir / f"step-{index}", self.verbose,
            given=self.given if index == 0 else None,
        )
        if deadline.fired and result.stop_reason is None:
            result.stop_reason = "budget"
        result.save(self.run_dir / f"step-{index}")
        notes = self.state.setdefault("notes", [])  # what a step chose about the data
        notes += [note for note in result.notes if note not in notes]
        step = {k: v for k, v in move.items() if k not in ("key", "base_key")}
        # Every tunable's value, defaults included (the learning rate is a setting).
        step["hyperparameters"] = {k: v for k, v in result.hyperparameters.items()
                                   if k != "learning_rate"}
        epoch = result.kept_epoch - 1  # the epoch of the weights the step's model holds
        step.update(step=index, epoch=epoch, **held_measures(result),
                    seconds=seconds, stop_reason=result.stop_reason,
                    history=result.history, epoch_seconds=result.timings["epoch_seconds"],
                    baseline=result.settings.get("baseline"))
        chosen = self.state["chosen"]
        step["kept"] = chosen is None or score(step) < score(self.state["steps"][chosen])
        if step["kept"]:
            self.state["chosen"] = index
            self.model, self.space, self.result = result.model, list(hp.space), result
            result.model.save_weights(self._weights(index))
        self.state["tried"].append(
            step_key(move["hyperparameters"], move["settings"], move["augment_scale"]))
        if "base_key" in move:  # shortened to fit: the full move counts as tried too
            self.state["tried"].append(move["base_key"])
        if move["move"] == "polish":
            self.state["tried"].append(move["key"])
        self.state["steps"].append(step)
        self.state["current"] = None
        self._save()
        self._print_row(step)

    def _finish(self):
        """The chosen step's result, evaluated once on the test split; auto.png."""
        chosen = self.state["steps"][self.state["chosen"]]
        if self.model is None:  # resumed after the loop had chosen: rebuild it
            self._rebuild(chosen)
        _, _, test = self.recipe.pipelines(self.data, self._global_batch(chosen), seed=self.seed)
        test_metrics = self.model.evaluate(test, return_dict=True, verbose=0)
        path = plots.auto_steps(self.state["steps"], self.run_dir / "auto.png",
                                title=f"{self.recipe.name} --auto: chose step {chosen['step']}")
        self._say(["", f"auto: {self.state['stopped']}",
                   f"auto: chose step {chosen['step']} ({_lineage(self.state['steps'], chosen)}); "
                   f"the test split is evaluated once, with it. Steps plotted in {path}."])
        result = self.result
        result.notes = list(self.state.get("notes", []))
        result.comparisons = {k: {"history": v} for k, v in find_relatives(chosen, self.state["steps"]).items()}
        result.test_metrics = {k: float(v) for k, v in test_metrics.items()}
        result.auto = {k: self.state[k] for k in ("budget_seconds", "elapsed_seconds",
                                                  "chosen", "stopped")}
        result.auto["steps"] = [
            {k: v for k, v in s.items() if k not in ("history", "epoch_seconds")}
            for s in self.state["steps"]
        ]
        return result

    # -- the flowchart's moves (`recipes.engine.auto.moves`) ---------------------------
    def diagnose(self, step):
        """The flowchart's diagnosis of `step`, with its depth relatives as comparisons."""
        return diagnose(step, self.state["steps"], self.data.num_classes)

    def moves(self, best, diagnosis):
        """The moves for `best`'s diagnosis, in the order they are tried."""
        return candidates(self.recipe, self.data, best, diagnosis, self._space_of(best))

    def _range_test(self, best, move):
        """The learning-rate range test on `best`'s model; the move with its rate, or
        `None` when the rate it finds is within 1.5x of the current one."""
        parent = best["step"]
        found = self.state["checks"].setdefault("lr_finder", {})
        if str(parent) not in found:
            hp = _hp(best["hyperparameters"])
            keras.utils.set_random_seed(self.seed)
            with self.strategy.scope():
                model = self.recipe.build_model(hp, data=self.data)
                self.recipe.compile(model, hp)  # a constant learning rate
            train, _, _ = self.recipe.pipelines(self.data, self._global_batch(best),
                                                seed=self.seed,
                                                augment_scale=best["augment_scale"])
            finding = recipe_callbacks.find_lr(model, train, min_lr=1e-6, max_lr=10.0)
            found[str(parent)] = finding.suggestion
            del model
        lr, current = found[str(parent)], best["settings"]["learning_rate"]
        self.state["tried"].append(move["key"])
        if lr is None:
            self._say([f"(range test from step {parent}: no valley in the loss; not trained)"])
            return None
        if max(lr, current) / min(lr, current) < 1.5:
            self._say([f"(range test from step {parent}: {lr:.3g}, about the current "
                       f"{current:.3g}; not trained)"])
            return None
        move = dict(move, change=f"lr {current:.3g} -> {lr:.3g} (range test)")
        move["settings"] = dict(move["settings"], learning_rate=lr)
        move["key"] = step_key(move["hyperparameters"], move["settings"], move["augment_scale"])
        return move

    def _same_distribution(self):
        """Whether the training and validation splits pass `split_shift` (once)."""
        checks = self.state["checks"]
        if "shift" not in checks:
            shift = split_shift(self.data.train, self.data.validation,
                                classification=bool(self.data.num_classes))
            checks["shift"], checks["shifted"] = shift.reason, shift.shifted
            self._save()
        return not checks["shifted"]

    # -- time --------------------------------------------------------------------------
    def elapsed(self):
        return self._elapsed_before + clock() - self._start

    def left(self):
        return self.budget - self.elapsed()

    def estimate(self, parent, move):
        """Seconds the move's run is expected to take (see the module docstring): the
        parent's median seconds per epoch, times the move's epochs, times its cost per
        step relative to the parent's, timed by `probe` for a move that changes the
        model (recorded in `move["probe"]`)."""
        per_epoch, outside = pace(parent)
        epochs = move["settings"]["epochs"]
        factor = COST.get(move["move"], 1.0) / (2.0 if move["move"] == "longer" else 1.0)
        # No probe where even a quarter of the fixed factor's estimate would not fit.
        if move["move"] in PROBED and ("probe" in move
                                       or self.left() >= 0.25 * per_epoch * epochs * factor):
            move.setdefault("probe", self.probe(parent, move))
            factor = move["probe"]["ratio"]
        return per_epoch * epochs * factor + outside

    def probe(self, parent, move):
        """`{"parent_step_s", "step_s", "ratio"}`: the seconds per training step of the
        parent's model and of the move's, each timed on the same pipeline, and their
        ratio (kept in `auto.json`: a resumed loop times nothing twice)."""
        probes = self.state["checks"].setdefault("probes", {})
        for step in (parent, move):
            key = str(step.get("step")) if step is parent else step["key"]
            if key not in probes:
                probes[key] = self.step_seconds(step)
        timed = dict(parent_step_s=probes[str(parent["step"])], step_s=probes[move["key"]])
        self._save()
        return dict(timed, ratio=timed["step_s"] / max(timed["parent_step_s"], 1e-9))

    def step_seconds(self, step):
        """Seconds per training step of `step`'s model (its hyperparameters, settings
        and augmentation): the median of up to `PROBE_STEPS` steps' times after
        `PROBE_WARMUP` untimed ones (graph tracing), on the loop's `clock`; the model
        is thrown away.

        A model that fine-tunes a backbone in two phases (`callbacks.FineTuneCosine`)
        has each phase timed on half the steps, the backbone frozen and then trainable
        (its gradients cost more), and the two weighted by their shares of the run's
        steps."""
        hp = _hp(step["hyperparameters"])
        settings = self.recipe.settings(**step["settings"])
        batch = self._global_batch(step)
        keras.utils.set_random_seed(self.seed)
        model = self.recipe.build(hp, self.data, self.strategy, settings["epochs"], batch)
        # Not cached: the probe reads a few steps of the first pass, as a cache's would.
        train, _, _ = self.recipe.pipelines(self.data, batch, seed=self.seed,
                                            augment_scale=step["augment_scale"], cache=False)
        steps = max(1, min(PROBE_STEPS, steps_per_epoch(self.data.train_size, batch)))
        schedule = fine_tune_schedule(model.optimizer)
        if schedule is None:
            seconds = _timed(model, train, steps)
        else:
            half = max(1, steps // 2)
            head = _timed(model, train, half)
            set_phase(model, whole=True)
            model.make_train_function(force=True)
            whole = _timed(model, train, half)
            share = schedule.head_steps / schedule.total_steps
            seconds = share * head + (1 - share) * whole
        del model
        return seconds

    # -- bookkeeping -----------------------------------------------------------------
    def _space_of(self, step):
        if self.space is not None and step["step"] == self.state["chosen"]:
            return self.space
        hp = _hp(step["hyperparameters"])
        self.recipe.build_model(hp, data=self.data)
        return list(hp.space)

    def _rebuild(self, step):
        hp = _hp(step["hyperparameters"])
        settings = self.recipe.settings(**step["settings"])
        self.model = self.recipe.build(hp, self.data, self.strategy, settings["epochs"],
                                       self._global_batch(step))
        self.model.optimizer.build(self.model.trainable_variables)  # its state loads too
        self.model.load_weights(self._weights(step["step"]))
        self.space = list(hp.space)
        loaded = Result.load(self.run_dir / f"step-{step['step']}")
        loaded.model, loaded.exporter = self.model, self.recipe.exporter(self.model, self.data)
        self.result = loaded

    def _global_batch(self, step):
        return step["settings"]["batch_size"] * self.strategy.num_replicas_in_sync

    def _stop(self, reason):
        self.state["stopped"] = reason
        return None

    def _load(self, base):
        if not self.path.is_file():
            return None
        state = json.loads(self.path.read_text())
        if state.get("recipe") != self.recipe.name or state.get("base") != json.loads(
                json.dumps(base, default=str)):
            raise ValueError(
                f"{self.path} is from another --auto run (another recipe, settings or "
                f"hyperparameters): {TRAIN_FIX}."
            )
        if self.source is not None:
            check_match(state.get("data"), self.source,
                        f"{self.path} is an --auto loop", TRAIN_FIX)
        print(f"Resuming --auto from {self.path}: {len(state['steps'])} step(s) done.",
              flush=True)
        return state

    def _save(self):
        self.state["elapsed_seconds"] = self.elapsed()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.state, indent=1, default=str))
        partial.replace(self.path)

    def _say(self, lines):
        if self.verbose != 0:
            print("\n".join(lines), flush=True)

    def _print_row(self, step):
        self._say([_fixed(_row(step))])


def _timed(model, train, steps):
    """Seconds per training step of `model` on `train`: the median of `steps` steps'
    own times after `PROBE_WARMUP` untimed ones, on the loop's `clock`. A median, so
    that a pause of the machine in one step, or the pipeline's start, does not count
    (a single pause would weigh more on a cheap model's short probe than on a costly
    one's, and shrink their ratio)."""
    ticks = _Ticks()
    model.fit(train.repeat(), steps_per_epoch=PROBE_WARMUP + steps, epochs=1, verbose=0,
              shuffle=False, callbacks=[ticks])
    times = [ticks.start, *ticks.times][PROBE_WARMUP:]
    return statistics.median(b - a for a, b in zip(times, times[1:]))


class _Ticks(keras.callbacks.Callback):
    """The loop's `clock` at the start of training and at the end of each step."""

    def __init__(self):
        super().__init__()
        self.start, self.times = None, []

    def on_train_begin(self, logs=None):
        self.start = clock()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(clock())


def _hp(values):
    """`keras_tuner.HyperParameters` holding `values`."""
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    return hp


def _row(step):
    return [step["step"], step["diagnosis"] or "-", step["change"], step["train_loss"],
            step["val_loss"], step["train_error"], step["val_error"], step["seconds"],
            "kept" if step["kept"] else "dropped"]


def _fixed(row):
    """A row in the fixed widths of the header, so rows printed one by one align."""
    cells = []
    for column, value, width in zip(COLUMNS, row, _WIDTHS):
        if value is None:
            text = "-".rjust(width)
        elif isinstance(value, float):
            text = (f"{value:.1f}" if column == "seconds" else f"{value:.4g}").rjust(width)
        elif isinstance(value, int):
            text = str(value).rjust(width)
        else:
            text = str(value).ljust(width)
        cells.append(text)
    return "  ".join(cells).rstrip()


def _lineage(steps, step):
    """The changes from the defaults to `step`."""
    changes = []
    while step["parent"] is not None:
        changes.append(step["change"])
        step = steps[step["parent"]]
    return ", then ".join(reversed(changes)) or "the defaults"


def _err(measured):
    """A screen's validation error (or metric, or loss) for a line of text."""
    for key in ("val_error", "val_metric", "val_loss"):
        if measured.get(key) is not None:
            name = measured.get("val_metric_name") if key == "val_metric" else key
            return f"({name.replace('val_', 'val ')} {measured[key]:.4g})"
    return "(-)"

"""`train(auto=BUDGET)`: the recipe takes its own diagnosis's advice, step by step.

    result = cnn.train(images="photos/", auto="15m")
    python -m recipes train cnn --images photos/ --auto 15m

Each step trains one model and ends with the flowchart's diagnosis of the best model
so far (`recipes.diagnostics.diagnose`, on training and validation only). The
diagnosis picks the next step's move, each taken only on its evidence (Hung-yi Lee's
"general guidance", ML 2021):

- **high training loss**, undecided: train the model one layer deeper the same way
  (or one shallower, at the deepest), the lecture's test. If the deeper model fits the
  training data *worse*, it is an optimization failure; if better, model bias.
- **model bias**: train longer when the training loss was still falling over the last
  quarter of the epochs, then wider (`filters`/`units` x2), then deeper, each within
  the recipe's own search space.
- **optimization failure**: the learning-rate range test
  (`callbacks.find_lr`, fastai's valley rule) sets the learning rate; then Adam (for
  another optimizer), batch normalization (where the recipe has it), a longer warm-up.
  A loss that became NaN, blew up or never fell is an optimization failure too: the
  range test, then a tenth of the learning rate with warm-up, then gradients clipped
  to norm 1.
- **overfitting**: stronger
  augmentation (x2, within what keeps the data natural, `recipes.data.LIMITS`), more
  dropout (+0.2), L2 (at least 1e-3, else 10x), a narrower model. Early stopping with the best
  weights restored is always on.
- **fine**: stop.

Before the first move, and whatever the verdict, the loop checks that the validation
split comes from the training data's distribution (`recipes.diagnostics.split_shift`):
if it does not, choices made on it mislead (a shifted validation split looks like
overfitting, or, read at its best epoch, like a high training loss), so the loop stops
and says so.

A step is kept when it beats the best so far on validation (the error for
classifiers, else the recipe's first metric such as the MAE, which unlike the loss
holds no weight penalty; the validation loss breaks ties), and the moves of
the best model's diagnosis are tried in order until one is kept or none is left. The
test split is evaluated once, at the end, with the chosen model.

The budget is wall-clock seconds for the whole loop. A step starts only if its
estimate fits in what is left: the parent's median seconds per epoch times the
epochs times the move's cost per step relative to its parent's, plus the parent's time
outside its epochs. A move that changes the model (deeper, shallower, wider, narrower,
batch norm) has that cost timed: a short probe trains the parent's model and the
move's for up to `PROBE_STEPS` steps each on the same pipeline (`AutoLoop.probe`, kept
in `auto.json` under `checks.probes` and in the step's `probe`), unless too little is
left for a quarter of what the fixed factor (`COST`) says; other moves cost what their
parent did (twice the epochs: twice the time). A move that
does not fit but would with at least half its epochs is trained with the epochs that
fit, its warm-up and schedule shortened with them (the table says so). A running
step stops at the end of the epoch after which one more would overrun the budget,
less `RESERVE` of it kept for the end (its stop reason is then "budget").

The budget is spent, not left over: when no move of the diagnosis fits (or none is
left) while more than `FILL` of the budget remains, the chosen model is polished: it
trains on from its own weights for the epochs that fit, at a tenth of its peak
learning rate with the same warm-up and cosine decay (a warm restart), and is kept if
it does better on validation; each model is polished once. Before the budget is
spent, the loop stops only when the diagnosis says "fine", the validation error is 0,
the validation split looks shifted, or every move and polish has been tried.

Each step is a run directory `RUN_DIR/step-N` (an interrupted step resumes from its
backup); `RUN_DIR/auto.json` holds every finished step and the step in progress, so
the same command again resumes where it stopped, and `RUN_DIR/auto.png` plots the
steps' learning curves. `auto.json`:

    {"recipe": ..., "budget_seconds": 900, "elapsed_seconds": 412.3, "base": {...},
     "steps": [{"step": 0, "parent": null, "move": "defaults", "change": "defaults",
                "diagnosis": null, "hyperparameters": {...}, "settings": {...},
                "augment_scale": 1.0, "train_loss": ..., "val_loss": ...,
                "train_error": ..., "val_error": ..., "seconds": ..., "estimate": null,
                "kept": true, "stop_reason": null, "history": {...}}, ...],
     "current": null or the step in progress, "chosen": 0, "stopped": "fine: ...",
     "tried": [...], "checks": {...}}
"""

import json
import math
import statistics
import time
from pathlib import Path

import keras
import keras_tuner

import callbacks as recipe_callbacks

from recipes.data import LIMITS, stronger
from recipes.diagnostics import flowchart, plots
from recipes.diagnostics.shift import split_shift
from recipes.engine.budget import Deadline, parse_budget  # noqa: F401 (public)
from recipes.engine.fit import steps_per_epoch
from recipes.engine.result import Result

# Expected cost of a move's run relative to its parent's (see the module docstring):
# the fallback for moves that change the model when no probe can be timed.
COST = {"deeper": 2.0, "shallower": 0.7, "wider": 2.5, "narrower": 0.6, "longer": 2.0,
        "batch_norm": 1.3}
# Moves that change the model's cost per step: their cost is timed (`AutoLoop.probe`),
# on up to PROBE_STEPS training steps after PROBE_WARMUP untimed ones.
PROBED = ("deeper", "shallower", "wider", "narrower", "batch_norm")
PROBE_STEPS = 200
PROBE_WARMUP = 3
# The loop goes on while more than FILL of its budget is left, polishing the chosen
# model when no move of its diagnosis fits; RESERVE of the budget is kept for the end
# (the chosen model's evaluation, the plots).
FILL = 0.10
RESERVE = 0.03
COLUMNS = ("step", "diagnosis", "change", "train loss", "val loss", "train err",
           "val err", "seconds", "kept")
_WIDTHS = (4, 56, 30, 10, 9, 9, 8, 7, 7)


def clock():
    """The loop's seconds (`time.monotonic`); tests replace it."""
    return time.monotonic()


def _pace(step):
    """`(median seconds per epoch, seconds outside the epochs)` of a trained step."""
    per_epoch = statistics.median(step["epoch_seconds"] or [step["seconds"]])
    return per_epoch, max(0.0, step["seconds"] - sum(step["epoch_seconds"]))


def measures(history, epoch):
    """Training and validation loss and error (`1 - accuracy`, or `None`) at `epoch`,
    and, without an accuracy, the recipe's first validation metric (`val_mae` ...),
    which unlike the loss holds no weight penalty."""
    accuracy = next((k for k in history if "acc" in k and "val_" + k in history), None)
    metric = None if accuracy else next(
        (k for k in history if k.startswith("val_") and k != "val_loss"), None)

    def at(key):
        values = history.get(key) or []
        return float(values[epoch]) if epoch < len(values) else None

    def error(key):
        value = at(key) if accuracy else None
        return None if value is None else 1.0 - value

    return dict(train_loss=at("loss"), val_loss=at("val_loss"),
                train_error=error(accuracy), val_error=error("val_" + (accuracy or "")),
                val_metric=metric and at(metric), val_metric_name=metric)


def best_epoch(history, monitor="val_loss", tolerance=0.0):
    """The epoch whose weights early stopping keeps: the best `monitor` (highest for
    an accuracy, else lowest; the training loss without it), the first of ties; or,
    with `tolerance`, the latest epoch within that fraction of the best (see
    `callbacks.EarlyStopping(restore_tolerance=...)`)."""
    raw = history.get(monitor) or history["loss"]
    sign = -1 if "acc" in monitor else 1
    values = [sign * v if math.isfinite(v) else math.inf for v in raw]
    best = min(range(len(values)), key=values.__getitem__)
    if not tolerance or not math.isfinite(values[best]):
        return best
    limit = values[best] + tolerance * abs(values[best])
    return max(i for i, v in enumerate(values) if v <= limit)


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


class AutoLoop:
    """The loop of `Recipe.train(auto=...)`; see the module docstring."""

    def __init__(self, recipe, budget, hp, data, settings, strategy, run_dir, callbacks,
                 verbose, seed, given=None):
        self.recipe, self.budget, self.data = recipe, parse_budget(budget, "auto"), data
        self.settings, self.strategy, self.seed = dict(settings), strategy, seed
        self.run_dir, self.callbacks, self.verbose = Path(run_dir), list(callbacks), verbose
        self.given = given  # hyperparameters the user named: checked at the first build
        self.path = self.run_dir / "auto.json"
        base = dict(hyperparameters=dict(hp.values), settings=self.settings, seed=seed)
        self.state = self._load(base) or dict(
            recipe=recipe.name, budget_seconds=self.budget, elapsed_seconds=0.0, base=base,
            steps=[], current=None, chosen=None, stopped=None, tried=[], checks={},
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
        too_long = []
        for move in self.moves(best, diagnosis):
            if move["key"] in self.state["tried"]:
                continue
            if move["move"] == "lr_finder":
                move = self._range_test(best, move)
                if move is None:
                    continue
            estimate = self.estimate(best, move)
            if estimate > left:
                short = self._shortened(best, move, left)
                if short is None:
                    too_long.append(f"{move['change']} ~{estimate:.0f} s")
                    continue
                move, estimate = short, self.estimate(best, short)
            move.update(parent=best["step"], diagnosis=_summary(diagnosis), estimate=estimate)
            return move
        polish = self._polish(best, left)
        if polish is not None:
            polish.update(parent=best["step"], diagnosis=_summary(diagnosis))
            return polish
        if too_long:
            return self._stop(f"budget: {left:.0f} s left, too little for "
                              f"{'; '.join(too_long)}")
        return self._stop(f"no move left for {verdict} (tried {len(self.state['steps']) - 1})")

    def _polish(self, best, left):
        """When no move of the diagnosis fits and more than `FILL` of the budget is
        left: `best`'s model trained on from its own weights for the epochs that fit
        (at most as many as it had), with a tenth of its peak learning rate and the
        same warm-up and cosine decay, kept if it does better on validation. `None`
        when less is left, or `best` was polished already."""
        key = f"polish step {best['step']}"
        if key in self.state["tried"] or left < FILL * self.budget:
            return None
        per_epoch, outside = _pace(best)
        usable = left - outside - RESERVE * self.budget
        epochs = min(best["settings"]["epochs"], int(usable // per_epoch) if per_epoch > 0 else 0)
        if epochs < 1:
            return None
        lr = best["settings"]["learning_rate"]
        settings = dict(best["settings"], epochs=epochs, learning_rate=lr / 10)
        return dict(
            move="polish", key=key, warm_start=best["step"],
            change=f"step {best['step']} +{epochs} epochs from its weights, lr {lr / 10:.3g}",
            hyperparameters=dict(best["hyperparameters"]), settings=settings,
            augment_scale=best["augment_scale"], estimate=per_epoch * epochs + outside,
        )

    def _weights(self, step):
        """Where a kept step's model weights are saved."""
        return self.run_dir / f"step-{step}" / "model.weights.h5"

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
        hp = keras_tuner.HyperParameters()
        hp.values.update(move["hyperparameters"])
        end = self._start + self.budget * (1 - RESERVE) - self._elapsed_before
        deadline = Deadline(end, clock=lambda: clock())
        keras.utils.set_random_seed(self.seed)
        start = clock()
        warm = move.get("warm_start")
        result = self.recipe._run(
            hp, self.data, self.recipe.settings(**move["settings"]), self.strategy,
            self.run_dir / f"step-{index}", [*self.callbacks, deadline], self.verbose,
            self.seed, given=self.given if index == 0 else None,
            augment_scale=move["augment_scale"], evaluate=False,
            initial_weights=None if warm is None else self._weights(warm),
        )
        if deadline.fired and result.stop_reason is None:
            result.stop_reason = "budget"
        result.save(self.run_dir / f"step-{index}")
        step = {k: v for k, v in move.items() if k not in ("key", "base_key")}
        # Every tunable's value, defaults included (the learning rate is a setting).
        step["hyperparameters"] = {k: v for k, v in result.hyperparameters.items()
                                   if k != "learning_rate"}
        epoch = result.kept_epoch - 1  # the epoch of the weights the step's model holds
        step.update(step=index, epoch=epoch, **measures(result.history, epoch),
                    seconds=clock() - start, stop_reason=result.stop_reason,
                    history=result.history, epoch_seconds=result.timings["epoch_seconds"],
                    baseline=result.settings.get("baseline"))
        chosen = self.state["chosen"]
        step["kept"] = chosen is None or score(step) < score(self.state["steps"][chosen])
        if step["kept"]:
            self.state["chosen"] = index
            self.model, self.space, self.result = result.model, list(hp.space), result
            result.model.save_weights(self._weights(index))
        self.state["tried"].append(
            _key(move["hyperparameters"], move["settings"], move["augment_scale"]))
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
        result.comparisons = {k: {"history": v} for k, v in self._relatives(chosen).items()}
        result.test_metrics = {k: float(v) for k, v in test_metrics.items()}
        result.auto = {k: self.state[k] for k in ("budget_seconds", "elapsed_seconds",
                                                  "chosen", "stopped")}
        result.auto["steps"] = [
            {k: v for k, v in s.items() if k not in ("history", "epoch_seconds")}
            for s in self.state["steps"]
        ]
        return result

    # -- the flowchart's moves -------------------------------------------------------
    def diagnose(self, step):
        """The flowchart's diagnosis of a step on training and validation, with the
        steps one layer shallower or deeper (all else the same) as comparisons."""
        relatives = self._relatives(step)
        diagnosis = flowchart.diagnose(
            history=step["history"], test_metrics={}, stop_reason=step["stop_reason"],
            baseline=step.get("baseline"), epoch=step["epoch"], **relatives,
        )
        losses = step["history"]["loss"]
        if diagnosis.verdict not in (flowchart.HIGH_TRAINING_LOSS, flowchart.MODEL_BIAS):
            return diagnosis
        trivial = (math.log(self.data.num_classes) if self.data.num_classes
                   else step.get("baseline"))
        if trivial and max(losses) > 10 * trivial:
            reason = (f"The training loss blew up to {max(losses):.4g}, over 10 times a "
                      f"trivial predictor's {trivial:.4g}: the steps were too large.")
        elif len(losses) >= 3 and min(losses[1:]) >= 0.97 * losses[0]:
            reason = (f"The training loss never fell: {losses[0]:.4g} after the first "
                      f"epoch, {min(losses[1:]):.4g} at best since.")
        else:
            return diagnosis
        diagnosis.verdict, diagnosis.reason = flowchart.OPTIMIZATION, reason
        diagnosis.advice = flowchart.ADVICE["diverged"]
        return diagnosis

    def _relatives(self, step):
        """`{"shallower": history, "deeper": history}` of the steps one layer shallower
        or deeper than `step`, all else the same, where trained."""
        relatives = {}
        depth = step["hyperparameters"].get("depth")
        for other in self.state["steps"]:
            same = {k: v for k, v in other["hyperparameters"].items() if k != "depth"} == {
                k: v for k, v in step["hyperparameters"].items() if k != "depth"}
            if depth is None or not same or other["settings"] != step["settings"] or \
                    other["augment_scale"] != step["augment_scale"]:
                continue
            other_depth = other["hyperparameters"].get("depth")
            if other_depth == depth - 1:
                relatives["shallower"] = other["history"]
            elif other_depth == depth + 1:
                relatives["deeper"] = other["history"]
        return relatives

    def moves(self, best, diagnosis):
        """The moves for `best`'s diagnosis, in the order they are tried; each a dict
        with `move`, `change`, `hyperparameters`, `settings`, `augment_scale`, `key`."""
        hp, s = best["hyperparameters"], best["settings"]
        ranges = {p.name: p for p in self._space_of(best)}
        verdict = diagnosis.verdict
        out = []

        def add(name, change, hp_changes=None, augment_scale=None, **settings):
            values = dict(hp, **(hp_changes or {}))
            new = dict(s, **settings)
            scale = augment_scale or best["augment_scale"]
            key = _key(values, new, scale)
            if name == "lr_finder":  # its rate is found later: one test per parent
                key = f"lr_finder after step {best['step']}"
            out.append(dict(move=name, change=change, hyperparameters=values,
                            settings=new, augment_scale=scale, key=key))

        def step_int(name, factor, label):
            p = ranges.get(name)
            if p is None:
                return
            value = hp.get(name, p.default)
            new = int(min(p.max_value, max(p.min_value, round(value * factor))))
            if new != value:
                add(label, f"{name} {value} -> {new}", {name: new})

        def depth_by(delta, label):
            p = ranges.get("depth")
            if p is not None:
                value = hp.get("depth", p.default)
                if p.min_value <= value + delta <= p.max_value:
                    add(label, f"depth {value} -> {value + delta}", {"depth": value + delta})

        width = "filters" if "filters" in ranges else "units"
        # NaN, a loss that blew up or never fell: the flowchart's "diverged" advice.
        diverged = diagnosis.advice == flowchart.ADVICE["diverged"]
        if verdict == flowchart.HIGH_TRAINING_LOSS:
            depth_by(+1, "deeper")
            depth_by(-1, "shallower")
            if not out:  # no depth to compare: take it as model bias
                verdict = flowchart.MODEL_BIAS
        if verdict == flowchart.MODEL_BIAS:
            if _still_falling(best["history"]["loss"]) and best["stop_reason"] is None:
                add("longer", f"epochs {s['epochs']} -> {s['epochs'] * 2}",
                    epochs=s["epochs"] * 2)
            step_int(width, 2, "wider")
            depth_by(+1, "deeper")
        elif verdict == flowchart.OPTIMIZATION:
            add("lr_finder", "learning rate from the range test")
            if diverged:
                lr = s["learning_rate"]
                add("lower_lr", f"lr {lr:.3g} -> {lr / 10:.3g}, warm-up 1 epoch",
                    learning_rate=lr / 10, warmup_epochs=max(1, s["warmup_epochs"]))
                if not s.get("clipnorm"):
                    add("clip", "gradients clipped to norm 1", clipnorm=1.0)
            else:
                if hp.get("optimizer", "adam") != "adam":
                    add("optimizer", f"optimizer {hp['optimizer']} -> adam",
                        {"optimizer": "adam"})
                if "batch_norm" in ranges and not hp.get("batch_norm", ranges["batch_norm"].default):
                    add("batch_norm", "batch norm on", {"batch_norm": True})
                warmup = max(1, 2 * s["warmup_epochs"])
                if warmup <= s["epochs"] / 4:
                    add("warmup", f"warm-up {s['warmup_epochs']:g} -> {warmup:g} epochs",
                        warmup_epochs=warmup)
        elif verdict == flowchart.OVERFITTING:
            scale = best["augment_scale"]
            if _stronger_changes(self.recipe, self.data, scale):
                add("augment", f"augmentation x{scale * 2:g}", augment_scale=scale * 2)
            p = ranges.get("dropout")
            if p is not None:
                value = hp.get("dropout", p.default)
                new = round(min(p.max_value, value + 0.2), 2)
                if new > value:
                    add("dropout", f"dropout {value:g} -> {new:g}", {"dropout": new})
            p = ranges.get("l2")
            if p is not None:  # a dose that shows: at least 1e-3, else 10x
                value = hp.get("l2", p.default)
                bigger = [v for v in p.values if v > value and v >= min(1e-3, 10 * value or 1)]
                if bigger:
                    add("l2", f"L2 {value:g} -> {bigger[0]:g}", {"l2": bigger[0]})
            step_int(width, 0.5, "narrower")
        return out

    def _shortened(self, parent, move, left):
        """The move with the epochs that fit in `left` seconds, its warm-up and schedule
        shortened with them, if at least half of its epochs fit (and, for "longer",
        more than its parent had); else `None`."""
        epochs = move["settings"]["epochs"]
        per_epoch = self.estimate(parent, move) / epochs  # outside time counted in
        fit = int(left // per_epoch) if per_epoch > 0 else 0
        floor = parent["settings"]["epochs"] + 1 if move["move"] == "longer" else -(-epochs // 2)
        if fit < max(1, floor):
            return None
        settings = dict(move["settings"], epochs=fit)
        return dict(move, settings=settings,
                    change=f"{move['change']}, {fit} of {epochs} epochs (budget)",
                    base_key=move["key"],
                    key=_key(move["hyperparameters"], settings, move["augment_scale"]))

    def _range_test(self, best, move):
        """The learning-rate range test on `best`'s model; the move with its rate, or
        `None` when the rate it finds is within 1.5x of the current one."""
        parent = best["step"]
        found = self.state["checks"].setdefault("lr_finder", {})
        if str(parent) not in found:
            hp = keras_tuner.HyperParameters()
            hp.values.update(best["hyperparameters"])
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
        move["key"] = _key(move["hyperparameters"], move["settings"], move["augment_scale"])
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
        per_epoch, outside = _pace(parent)
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
        and augmentation), timed on up to `PROBE_STEPS` steps after `PROBE_WARMUP`
        untimed ones (graph tracing); the model is thrown away."""
        hp = keras_tuner.HyperParameters()
        hp.values.update(step["hyperparameters"])
        settings = self.recipe.settings(**step["settings"])
        batch = self._global_batch(step)
        keras.utils.set_random_seed(self.seed)
        model = self.recipe.build(hp, self.data, self.strategy, settings["epochs"], batch)
        train, _, _ = self.recipe.pipelines(self.data, batch, seed=self.seed,
                                            augment_scale=step["augment_scale"])
        steps = max(1, min(PROBE_STEPS, steps_per_epoch(self.data.train_size, batch)))
        model.fit(train.repeat(), steps_per_epoch=PROBE_WARMUP, epochs=1, verbose=0, shuffle=False)
        start = time.perf_counter()
        model.fit(train.repeat(), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        seconds = (time.perf_counter() - start) / steps
        del model
        return seconds

    # -- bookkeeping -----------------------------------------------------------------
    def _space_of(self, step):
        if self.space is not None and step["step"] == self.state["chosen"]:
            return self.space
        hp = keras_tuner.HyperParameters()
        hp.values.update(step["hyperparameters"])
        self.recipe.build_model(hp, data=self.data)
        return list(hp.space)

    def _rebuild(self, step):
        hp = keras_tuner.HyperParameters()
        hp.values.update(step["hyperparameters"])
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
                "hyperparameters): choose another run directory, or delete it to start "
                "afresh."
            )
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


def _key(hyperparameters, settings, augment_scale):
    """What makes two steps the same run."""
    return json.dumps([hyperparameters, settings, augment_scale], sort_keys=True, default=str)


def _summary(diagnosis):
    """The verdict with the numbers behind it, for a table cell."""
    e = diagnosis.evidence
    name = "error" if "train_error" in e else "loss"
    numbers = [f"{label} {e[f'{key}_{name}']:.3g}" for key, label in
               (("train", "train"), ("val", "val")) if f"{key}_{name}" in e]
    for key, label in (("shallower_train", "shallower"), ("deeper_train", "deeper")):
        if f"{key}_{name}" in e:
            numbers.append(f"{label} {e[f'{key}_{name}']:.3g}")
    verdict = diagnosis.verdict
    for word in ("never fell", "blew up", "diverged"):
        if word in diagnosis.reason:
            verdict += f", {word}"
            break
    return f"{verdict} ({', '.join(numbers)})"


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


def _still_falling(losses):
    """Whether the training loss fell by more than 2% over the last quarter of epochs."""
    if len(losses) < 4:
        return len(losses) > 1 and losses[-1] < 0.98 * losses[0]
    quarter = max(1, len(losses) // 4)
    return losses[-1] < 0.98 * losses[-1 - quarter]


def _stronger_changes(recipe, data, scale):
    """Whether the recipe augments `data` with an image preset whose strengths, doubled,
    are not all at their limits already."""
    augmentation = recipe.augmentation(data)
    name = None if augmentation is None else augmentation.name  # the preset's name
    if name not in LIMITS:
        return False
    options = recipe.augment_options.get(name, {})
    return stronger(name, options, scale) != stronger(name, options, scale * 2)

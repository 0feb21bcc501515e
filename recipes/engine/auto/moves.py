"""The moves of `--auto`: from a step's diagnosis to the next steps to try.

Pure functions of the steps recorded in `auto.json`: `diagnose` (the flowchart's
verdict, with the steps one layer shallower or deeper as comparisons), `candidates`
(the moves of a verdict, in the order they are tried, within the recipe's search
space), `shortened` (a move cut to the epochs that fit the budget) and `polish` (the
chosen model trained on from its weights). `recipes.engine.auto.loop` trains them.

Example:

    verdict = diagnose(step, steps, num_classes=10)
    for move in candidates(recipe, data, step, verdict, space):
        ...
"""

import json
import math
import statistics

from recipes.data import LIMITS, stronger
from recipes.diagnostics import flowchart
from recipes.engine import backbone

# Expected cost of a move's run relative to its parent's: the fallback for moves that
# change the model when no probe can be timed (`AutoLoop.probe`).
# A backbone's guess is high: it runs on 224x224 images, the recipe's own convnet on the
# data's size.
COST = {"deeper": 2.0, "shallower": 0.7, "wider": 2.5, "narrower": 0.6, "longer": 2.0,
        "batch_norm": 1.3, "members": 2.0, "backbone": 4.0}
# Moves that change the model's cost per step: their cost is timed by a probe.
PROBED = ("deeper", "shallower", "wider", "narrower", "batch_norm", "members", "backbone")
# The loop goes on while more than FILL of its budget is left, polishing the chosen
# model when no move of its diagnosis fits; RESERVE of the budget is kept for the end
# (the chosen model's evaluation, the plots).
FILL = 0.10
RESERVE = 0.03
# A move is planned to take DRIFT times its estimate: a machine's speed drifts by about
# 20% within a run, and a step the budget stops before its last epoch ends before its
# learning rate has annealed (a shortened schedule that ends does better). A polish is
# planned on the measured pace of the model it trains on, without it.
DRIFT = 1.2
# When two or more moves fit, the first SCREEN_MOVES are screened on SCREEN of their
# epochs (where the budget holds that and the costliest in full), and the best on
# validation trains in full (successive halving, one round).
SCREEN_MOVES = 3
SCREEN = 0.25


def pace(step):
    """`(median seconds per epoch, seconds outside the epochs)` of a trained step."""
    per_epoch = statistics.median(step["epoch_seconds"] or [step["seconds"]])
    return per_epoch, max(0.0, step["seconds"] - sum(step["epoch_seconds"]))


def diagnose(step, steps, num_classes):
    """The flowchart's diagnosis of `step` on training and validation, with the
    `steps` one layer shallower or deeper (all else the same) as comparisons; a loss
    that blew up or never fell is an optimization failure."""
    relatives = find_relatives(step, steps)
    diagnosis = flowchart.diagnose(
        history=step["history"], test_metrics={}, stop_reason=step["stop_reason"],
        baseline=step.get("baseline"), epoch=step["epoch"], **relatives,
    )
    losses = step["history"]["loss"]
    if diagnosis.verdict not in (flowchart.HIGH_TRAINING_LOSS, flowchart.MODEL_BIAS):
        return diagnosis
    trivial = (math.log(num_classes) if num_classes
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

def find_relatives(step, steps):
    """`{"shallower": history, "deeper": history}` of the steps one layer shallower
    or deeper than `step`, all else the same, where trained."""
    relatives = {}
    depth = step["hyperparameters"].get("depth")
    for other in steps:
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

def candidates(recipe, data, best, diagnosis, space):
    """The moves for `best`'s diagnosis, in the order they are tried, within `space`
    (the hyperparameters `best`'s model registers); each a dict with `move`, `change`,
    `hyperparameters`, `settings`, `augment_scale` and `key`."""
    moves = _Moves(best, space)
    verdict = diagnosis.verdict
    if verdict == flowchart.HIGH_TRAINING_LOSS:
        moves.depth_by(+1, "deeper")
        moves.depth_by(-1, "shallower")
        if not moves.out:  # no depth to compare: take it as model bias
            verdict = flowchart.MODEL_BIAS
    if verdict == flowchart.MODEL_BIAS:
        _backbone(moves, data)
        s = best["settings"]
        if _still_falling(best["history"]["loss"]) and best["stop_reason"] is None:
            moves.add("longer", f"epochs {s['epochs']} -> {s['epochs'] * 2}",
                      epochs=s["epochs"] * 2)
        moves.step_int(moves.width, 2, "wider")
        moves.depth_by(+1, "deeper")
        moves.step_int("members", 2, "members")
    elif verdict == flowchart.OPTIMIZATION:
        # NaN, a loss that blew up or never fell: the flowchart's "diverged" advice.
        _optimization(moves, diverged=diagnosis.advice == flowchart.ADVICE["diverged"])
    elif verdict == flowchart.OVERFITTING:
        _backbone(moves, data)
        _regularizers(moves, recipe, data)
    return moves.out


class _Moves:
    """The moves from `best` gathered so far (`out`), each a change of its
    hyperparameters, settings or augmentation within `space`."""

    def __init__(self, best, space):
        self.best, self.out = best, []
        self.hp, self.settings = best["hyperparameters"], best["settings"]
        self.ranges = {p.name: p for p in space}
        self.width = "filters" if "filters" in self.ranges else "units"

    def add(self, name, change, hp_changes=None, augment_scale=None, **settings):
        values = dict(self.hp, **(hp_changes or {}))
        new = dict(self.settings, **settings)
        scale = augment_scale or self.best["augment_scale"]
        key = step_key(values, new, scale)
        if name == "lr_finder":  # its rate is found later: one test per parent
            key = f"lr_finder after step {self.best['step']}"
        self.out.append(dict(move=name, change=change, hyperparameters=values,
                             settings=new, augment_scale=scale, key=key))

    def value(self, name):
        """`(the hyperparameter's range, its value in best)`, or `(None, None)`."""
        p = self.ranges.get(name)
        return (None, None) if p is None else (p, self.hp.get(name, p.default))

    def step_int(self, name, factor, label):
        p, value = self.value(name)
        if p is not None:
            new = int(min(p.max_value, max(p.min_value, round(value * factor))))
            if new != value:
                self.add(label, f"{name} {value} -> {new}", {name: new})

    def depth_by(self, delta, label):
        p, value = self.value("depth")
        if p is not None and p.min_value <= value + delta <= p.max_value:
            self.add(label, f"depth {value} -> {value + delta}", {"depth": value + delta})


def _backbone(moves, data):
    """From scratch to a pretrained backbone (the `backbone` hyperparameter, where the
    model has one): for photos whose backbone weights are at hand
    (`recipes.engine.backbone.at_hand`: the weights file given, else a backbone in
    Keras's cache), against model bias (a stronger model) and overfitting
    (pretrained features are the field's answer to small photo sets); tried first."""
    p, value = moves.value("backbone")
    name = backbone.at_hand(data) if p is not None and value == "none" else None
    if name is not None:
        moves.add("backbone", f"backbone {name}", {"backbone": name})


def _optimization(moves, diverged):
    """The flowchart's optimization moves: the range test first; then, for a run that
    diverged, a lower rate and clipping, else Adam, batch norm and a longer warm-up."""
    s, hp = moves.settings, moves.hp
    moves.add("lr_finder", "learning rate from the range test")
    if diverged:
        lr = s["learning_rate"]
        moves.add("lower_lr", f"lr {lr:.3g} -> {lr / 10:.3g}, warm-up 1 epoch",
                  learning_rate=lr / 10, warmup_epochs=max(1, s["warmup_epochs"]))
        if not s.get("clipnorm"):
            moves.add("clip", "gradients clipped to norm 1", clipnorm=1.0)
        return
    if hp.get("optimizer", "adam") != "adam":
        moves.add("optimizer", f"optimizer {hp['optimizer']} -> adam", {"optimizer": "adam"})
    p, on = moves.value("batch_norm")
    if p is not None and not on:
        moves.add("batch_norm", "batch norm on", {"batch_norm": True})
    warmup = max(1, 2 * s["warmup_epochs"])
    if warmup <= s["epochs"] / 4:
        moves.add("warmup", f"warm-up {s['warmup_epochs']:g} -> {warmup:g} epochs",
                  warmup_epochs=warmup)


def _regularizers(moves, recipe, data):
    """The flowchart's moves against overfitting: more members of an ensemble (where
    the model is one, as `tabular`'s: an average of more members varies less), stronger
    augmentation (where it changes the images), more dropout, a larger L2 and a
    narrower model."""
    moves.step_int("members", 2, "members")
    scale = moves.best["augment_scale"]
    if _stronger_changes(recipe, data, scale):
        moves.add("augment", f"augmentation x{scale * 2:g}", augment_scale=scale * 2)
    p, value = moves.value("dropout")
    if p is not None:
        new = round(min(p.max_value, value + 0.2), 2)
        if new > value:
            moves.add("dropout", f"dropout {value:g} -> {new:g}", {"dropout": new})
    p, value = moves.value("l2")
    if p is not None:  # a dose that shows: at least 1e-3, else 10x
        bigger = [v for v in p.values if v > value and v >= min(1e-3, 10 * value or 1)]
        if bigger:
            moves.add("l2", f"L2 {value:g} -> {bigger[0]:g}", {"l2": bigger[0]})
    moves.step_int(moves.width, 0.5, "narrower")


def shortened(parent, move, left, estimate):
    """The move with the epochs that fit in `left` seconds at `DRIFT` times `estimate`
    (the seconds of all its epochs), its warm-up and schedule shortened with them, if at
    least half of its epochs fit (and, for "longer", more than its parent had); else
    `None`."""
    epochs = move["settings"]["epochs"]
    per_epoch = DRIFT * estimate / epochs  # outside time counted in
    fit = int(left // per_epoch) if per_epoch > 0 else 0
    floor = parent["settings"]["epochs"] + 1 if move["move"] == "longer" else -(-epochs // 2)
    if fit < max(1, floor):
        return None
    settings = dict(move["settings"], epochs=fit)
    return dict(move, settings=settings,
                change=f"{move['change']}, {fit} of {epochs} epochs (budget)",
                base_key=move["key"],
                key=step_key(move["hyperparameters"], settings, move["augment_scale"]))

def polish(best, left, budget, tried):
    """When no move of the diagnosis fits and more than `FILL` of the budget is
    left: `best`'s model trained on from its own weights for all the epochs that fit
    in what is left (less `RESERVE`), with a tenth of its peak learning rate and the
    same warm-up and cosine decay over those epochs, without early stopping (the end
    of the decay is where a warm restart gains), kept if it does better on
    validation. `None` when less is left, or `best` was polished already."""
    name = f"polish step {best['step']}"
    if name in tried or left < FILL * budget:
        return None
    per_epoch, outside = pace(best)
    usable = left - outside - RESERVE * budget
    epochs = int(usable // per_epoch) if per_epoch > 0 else 0
    if epochs < 1:
        return None
    lr = best["settings"]["learning_rate"]
    settings = dict(best["settings"], epochs=epochs, learning_rate=lr / 10,
                    patience=max(epochs, best["settings"].get("patience") or 0))
    return dict(
        move="polish", key=name, warm_start=best["step"],
        change=f"step {best['step']} +{epochs} epochs from its weights, lr {lr / 10:.3g}",
        hyperparameters=dict(best["hyperparameters"]), settings=settings,
        augment_scale=best["augment_scale"], estimate=per_epoch * epochs + outside,
    )


def step_key(hyperparameters, settings, augment_scale):
    """What makes two steps the same run."""
    return json.dumps([hyperparameters, settings, augment_scale], sort_keys=True, default=str)


def summary(diagnosis):
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

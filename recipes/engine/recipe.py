"""The `Recipe` base: what a recipe declares, and `train` / `search` for every recipe.

A recipe module is declarative: it subclasses `Recipe`, sets its defaults, its data and
its data options, and writes `build_model(hp=None, data=None)` with every tunable as
`hp.Int/Float/Choice(..., default=...)`. Training (through the one loop of
`recipes.engine.fit`), evaluation, saving, diagnosis and tuning live here and in the
engine's other modules, once.

Learning rate and batch size under `tf.distribute`: `batch_size` is the batch *per
replica*; the global batch is `batch_size * replicas`, and the peak learning rate is
scaled linearly with the number of replicas (Goyal et al., 2017, "linear scaling rule"),
with the warm-up that rule asks for. Warm-up and schedule lengths are counted in steps of
the global batch, so they follow the batch size.
"""

import contextlib
import dataclasses
import math
import sys
import time

import keras
import keras_tuner

import callbacks as recipe_callbacks
from recipes import data as recipe_data
from recipes.engine import run, tuning
from recipes.engine.budget import parse_budget
from recipes.engine.fit import steps_per_epoch
from recipes.engine.hparams import check_known, check_values, hyperparameters
from recipes.engine.strategy import check_strategy, clear_session, jit_compile

OPTIMIZERS = ("adam", "sgd", "momentum", "rmsprop", "adagrad")


def make_optimizer(name, learning_rate, clipnorm=None):
    """Builds one of the lecture's optimizers by name.

    The lecture's sequence (Hung-yi Lee, ML 2021): `sgd` is plain gradient descent on
    mini-batches, `momentum` adds momentum 0.9 (Nesterov's form), `adagrad` divides each
    step by the root of the sum of past squared gradients, `rmsprop` by a moving average
    of them, and `adam` is RMSProp with momentum. Each wants its own learning rate; see
    `recipes.diagnostics.experiments.LEARNING_RATES`.

    Args:
        name: one of `OPTIMIZERS`.
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`.
        clipnorm: clip each gradient to this norm, or `None` (no clipping).
            Defaults to `None`.

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:

    >>> make_optimizer("momentum", 0.01)
    <keras.src.optimizers.sgd.SGD object at ...>
    """
    clip = {} if clipnorm is None else {"clipnorm": clipnorm}
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, **clip)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, **clip)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, **clip)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, **clip)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate, **clip)
    raise ValueError(
        f"Unknown optimizer. Expected one of {OPTIMIZERS}. Received: optimizer={name!r}"
    )


@dataclasses.dataclass(frozen=True)
class DataOption:
    """A data option a recipe declares: a keyword of `train`/`search`/`load_data` and a
    flag of the CLI (`--NAME`, underscores as dashes).

    Attributes:
        help: one line for `--help`.
        type: the type of one value. Defaults to `str`.
        nargs: how many values the flag takes. Defaults to `None` (one).
        metavar: the value's name in `--help`. Defaults to `None`.
        choices: the values allowed. Defaults to `None` (any).
        cli: whether the CLI has a flag for it (arrays and data frames it cannot
            have). Defaults to `True`.
    """

    help: str
    type: type = str
    nargs: int | None = None
    metavar: str | tuple | None = None
    choices: tuple | None = None
    cli: bool = True


class Recipe:
    """A training recipe: defaults, data and a model; the engine does the rest.

    Subclasses set `name`, `dataset` (a TFDS name), `augment` (a preset name or None)
    and `augment_options` (`{preset: its arguments}`), `data_options` (a dict of `DataOption`s that
    `load_data` takes), `loss`, `metrics`, `monitor` and `defaults`, and implement
    `build_model(hp=None, data=None)`. The description is the first line of the
    recipe module's docstring.
    """

    name = None
    dataset = None
    augment = None
    augment_options = {}
    data_options = {}
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    monitor = "val_loss"
    # The model kept is the latest epoch whose `monitor` is within this fraction of its
    # best (`callbacks.EarlyStopping(restore_tolerance=...)`); 0 keeps the best epoch.
    restore_tolerance = 0.0
    defaults = dict(
        epochs=10,
        batch_size=128,
        learning_rate=1e-3,
        optimizer="adam",
        warmup_epochs=1,
        patience=5,
        validation_split=0.1,
        clipnorm=None,
    )

    # -- what a recipe declares ------------------------------------------------------
    def build_model(self, hp=None, data=None):
        """Returns an uncompiled `keras.Model`; every tunable has a default."""
        raise NotImplementedError(f"{type(self).__name__} must define build_model().")

    def load_data(self, data_dir=None, limit=None, seed=42, **data_options):
        """Returns a `recipes.data.Splits` with train, validation and test datasets."""
        self.check_data_options(data_options)
        return recipe_data.load(
            self.dataset,
            data_dir=data_dir,
            validation_split=self.defaults["validation_split"],
            seed=seed,
            limit=limit,
        )

    def auto_data(self, data, hp):
        """The data an `--auto` loop starting from `hp` trains on: `data` as it is. A
        recipe whose moves need to know more of its data (`cnn`: which backbone a
        weights file holds) adds it here, before the first step."""
        return data

    def augmentation(self, data=None, scale=1.0):
        """The Keras augmentation model applied on the fly in training, or None: the
        recipe's `augment` preset (see `preset`)."""
        return self.preset(self.augment, scale)

    def preset(self, name, scale=1.0):
        """Augmentation preset `name` with this recipe's options for it
        (`augment_options[name]`), each strength times `scale` up to its natural limit
        (`recipes.data.stronger`); `None` for no name or `"none"`."""
        if name in (None, "none"):
            return None
        options = self.augment_options.get(name, {})
        if scale != 1.0:
            options = recipe_data.stronger(name, options, scale)
        return recipe_data.get_preset(name, **options)

    def baseline(self, data, hp):
        """The loss of a trivial predictor, the scale the diagnosis judges a loss
        against; `None` for classifiers, which are judged by their error rate."""
        return None

    def get_loss(self, hp, model=None):
        """The loss to compile `model` with. Defaults to `loss`; a recipe may tune it."""
        return self.loss

    def get_metrics(self, model=None):
        """The metrics to compile `model` with. Defaults to `metrics`."""
        return list(self.metrics)

    def exporter(self, model, data):
        """A function `export(path)` writing the SavedModel users serve, or `None`
        (Keras's `model.export`: the model's own inputs and outputs)."""
        return None

    @property
    def description(self):
        """The first line of the recipe module's docstring, after the name."""
        doc = (sys.modules[type(self).__module__].__doc__ or "").strip()
        first = doc.splitlines()[0] if doc else ""
        return first.removeprefix(f"{self.name}:").strip().rstrip(".")

    # -- checks, before any work -----------------------------------------------------
    def settings(self, **overrides):
        """The defaults updated by `overrides` (`None` values ignored), validated."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"Unknown setting(s) {sorted(unknown)} for recipe {self.name!r}. "
                f"Known: {sorted(self.defaults)}."
            )
        s = {**self.defaults, **overrides}
        recipe_data.check_positive_int("epochs", s["epochs"])
        recipe_data.check_positive_int("batch_size", s["batch_size"])
        if s.get("clipnorm") is not None and not s["clipnorm"] > 0:
            raise ValueError(
                f"clipnorm must be positive or None. Received: clipnorm={s['clipnorm']!r}"
            )
        if not s["learning_rate"] > 0:
            raise ValueError(
                "learning_rate must be positive. "
                f"Received: learning_rate={s['learning_rate']!r}"
            )
        return s

    def data_settings(self, settings, data, given, hp=None):
        """The run's settings once the data is known: a recipe may size its defaults to
        the data (a table's batch size to its rows); the settings named in `given` were
        chosen by the user and stay; `hp`, where given, holds the run's hyperparameters.
        Defaults to `settings` unchanged."""
        return settings

    def check_data_options(self, data_options):
        """Raises a `ValueError` for keywords that are not this recipe's data options."""
        unknown = sorted(set(data_options) - set(self.data_options))
        if unknown:
            known = ", ".join(self.data_options) or "none"
            raise ValueError(
                f"Recipe {self.name!r} has no option(s) {unknown}. Its data options: "
                f"{known}. Hyperparameters go in hp, e.g. hp={{{unknown[0]!r}: ...}}."
            )
        return data_options

    def hyperparameters(self, hp=None):
        """`hp` (a dict, `None` or a `keras_tuner.HyperParameters`) as
        `HyperParameters`, before any data is read: a run or data option in a dict, an
        unknown name, or a value of the wrong type or out of range is an error (see
        `recipes.engine.hparams.check_values`); values are converted to their types."""
        if isinstance(hp, keras_tuner.HyperParameters):
            return hp
        values = dict(hp or {})
        hyperparameters(values, options=self.data_options)  # run options first
        tuned = {k: v for k, v in values.items() if k not in ("batch_size", "learning_rate")}
        if tuned:
            values.update(check_values(self._space(), tuned))
            # Conditional tunables (a model's units) appear once their parent is set.
            space = self._space({k: v for k, v in values.items() if k in tuned})
            values.update(check_values(space, tuned))
            check_known(space, tuned, self.name)
        return hyperparameters(values, options=self.data_options)

    def check_data(self, data):
        """Raises a `ValueError` before anything is built for labels out of range,
        images of mixed shapes or of no number type, or a missing or empty split
        (see `recipes.data.check_dataset`)."""
        if not data.num_classes:
            return
        for split in ("train", "validation", "test"):
            ds = getattr(data, split)
            if ds is None:
                raise ValueError(f"The {split!r} split is missing from {data.name!r}.")
            try:
                recipe_data.check_dataset(ds, data.num_classes, data.input_shape)
            except ValueError as e:
                raise ValueError(f"{data.name} {split} split: {e}") from None

    def check_model(self, model, data):
        """Raises a `ValueError` when `model` cannot take `data`'s inputs or classes."""
        want = tuple(model.input_shape[1:])
        got = tuple(data.input_shape)
        if len(want) != len(got) or any(
            a is not None and b is not None and a != b for a, b in zip(want, got)
        ):
            raise ValueError(
                f"{data.name}: images have the wrong shape: expected {want}, got {got}."
            )
        if data.num_classes and model.output_shape[-1] != data.num_classes:
            raise ValueError(
                f"{data.name} has {data.num_classes} classes, but the {self.name} model "
                f"has {model.output_shape[-1]} outputs."
            )

    # -- shared mechanics ------------------------------------------------------------
    def compile(self, model, hp=None, steps_per_epoch=None, epochs=None, replicas=1,
                warmup_epochs=None, clipnorm=None):
        """Compiles `model` with the recipe's optimizer, warm-up + cosine schedule,
        loss and metrics. `learning_rate` and `optimizer` are tunables; `epochs`,
        `warmup_epochs` and `clipnorm` (gradient clipping, `None`: none) default to
        the recipe's.

        Without `steps_per_epoch` the learning rate is constant (handy for
        benchmarks and tests that call `fit` themselves). With it, batch
        normalization's moving statistics follow the length of the training
        (`batch_norm_momentum`) in the layers whose momentum was not set: those
        built by `build` (`momentum_unset`) without a `momentum` argument. A
        momentum given, 0.99 included, stays.
        """
        hp = hp if hp is not None else hyperparameters()
        d = self.defaults
        lr = hp.Float(
            "learning_rate", 1e-4, 3e-2, sampling="log", default=d["learning_rate"]
        )
        name = hp.Choice("optimizer", list(OPTIMIZERS), default=d["optimizer"])
        lr = lr * replicas  # linear scaling rule (see module docstring)
        clipnorm = d.get("clipnorm") if clipnorm is None else clipnorm
        if steps_per_epoch:
            epochs = epochs or d["epochs"]
            total = max(1, steps_per_epoch * epochs)
            warmup_epochs = d["warmup_epochs"] if warmup_epochs is None else warmup_epochs
            warmup = min(total - 1, round(steps_per_epoch * warmup_epochs))
            lr = self.schedule(hp, lr, total, warmup)
        for layer in _all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization) and layer.momentum == UNSET:
                layer.momentum = batch_norm_momentum(total) if steps_per_epoch else 0.99
        model.compile(
            optimizer=self.optimizer(hp, name, lr, clipnorm),
            loss=self.get_loss(hp, model),
            metrics=self.get_metrics(model),
            jit_compile=jit_compile(),
        )
        return model

    def schedule(self, hp, peak, total_steps, warmup_steps):
        """The learning-rate schedule of a run of `total_steps` (`compile`): a linear
        warm-up over `warmup_steps` to `peak`, then a cosine to 0
        (`callbacks.WarmUpCosine`). A recipe may register tunables of its own in `hp`."""
        return recipe_callbacks.WarmUpCosine(
            peak=peak, total_steps=total_steps, warmup_steps=warmup_steps
        )

    def optimizer(self, hp, name, learning_rate, clipnorm):
        """The optimizer `compile` uses: `make_optimizer(name, ...)`. A recipe may
        register tunables of its own in `hp`."""
        return make_optimizer(name, learning_rate, clipnorm)

    def build(self, hp, data, strategy, epochs, global_batch, warmup_epochs=None,
              clipnorm=None):
        """Builds and compiles the model of `hp` in `strategy`'s scope, its schedule
        counted in steps of `global_batch` over `epochs` (see `compile`; the batch
        normalizations built without a momentum follow the training's length)."""
        steps = steps_per_epoch(data.train_size, global_batch)
        with strategy.scope(), momentum_unset():
            model = self.build_model(hp, data=data)
            self.compile(model, hp, steps, epochs, strategy.num_replicas_in_sync,
                         warmup_epochs=warmup_epochs, clipnorm=clipnorm)
        return model

    def stopping(self, settings):
        """The early-stopping arguments of `recipes.engine.fit.fit` for `settings`."""
        return dict(
            monitor=self.monitor,
            patience=settings["patience"],
            warmup_epochs=settings["warmup_epochs"],
            restore_tolerance=self.restore_tolerance,
        )

    def pipelines(self, data, global_batch, seed=42, augment_scale=1.0, cache=True):
        """Batched, prefetched train (augmented, shuffled), validation and test sets;
        `augment_scale` scales the augmentation's strengths (see `augmentation`). The
        train and validation sets are cached after their first pass unless `cache` is
        False (for a few steps' read: TensorFlow drops a cache read in part, and warns)."""
        aug = self.augmentation(data, scale=augment_scale)
        make = recipe_data.make_pipeline
        return (
            make(data.train, global_batch, augment=aug, seed=seed, cache=cache),
            make(data.validation, global_batch, shuffle=False, cache=cache),
            make(data.test, global_batch, shuffle=False, cache=False),
        )

    # -- what users call -------------------------------------------------------------
    def train(
        self,
        epochs=None,
        batch_size=None,
        learning_rate=None,
        *,
        hp=None,
        data=None,
        data_dir=None,
        limit=None,
        run_dir=None,
        strategy="auto",
        callbacks=(),
        tensorboard=False,
        verbose="auto",
        diagnose=True,
        compare_depth=False,
        auto=None,
        seed=42,
        overwrite=False,
        **data_options,
    ):
        """Trains the recipe and evaluates it once on the test split.

        Args:
            epochs: number of epochs. Defaults to the recipe's.
            batch_size: batch size per replica. Defaults to the recipe's.
            learning_rate: peak learning rate. Defaults to the recipe's.
            hp: values of the recipe's hyperparameters, e.g. `{"filters": 64}`, or a
                `keras_tuner.HyperParameters`. Defaults to `None` (each tunable takes
                its default).
            data: a `recipes.data.Splits` to train on. Defaults to the recipe's data.
            data_dir: where the dataset lives. Defaults to `RECIPES_DATA_DIR`, then
                TFDS's own directory.
            limit: train on the first `limit` training examples only. Defaults to all.
            run_dir: where the run's backups, history, result and SavedModel
                (`run_dir/model`) go. Defaults to `runs/<recipe name>`. An interrupted
                run started again with the same `run_dir` resumes from its last
                completed epoch, on the same data only: the fingerprint of the data
                (`run_dir/data.json`, see `recipes.engine.fingerprint`) of another
                is a `ValueError` before any work.
            strategy: see `recipes.engine.get_strategy`. Defaults to `"auto"`.
            callbacks: extra Keras callbacks. Defaults to none.
            tensorboard: write TensorBoard logs under `run_dir/logs`.
                Defaults to `False`.
            verbose: Keras `fit` verbosity. Defaults to `"auto"` (a progress bar).
            diagnose: print the diagnosis at the end. Defaults to `True`.
            compare_depth: also train a shallower and a deeper variant (same
                settings) so that the diagnosis can tell model bias from an
                optimization failure. Defaults to `False`.
            auto: a wall-clock budget (seconds, or text such as `"15m"`): train,
                diagnose, take the diagnosis's next step (a deeper, wider or
                regularized model, a learning rate from the range test ...) and
                repeat while the budget lasts, choosing on validation; the test split
                is evaluated once, with the chosen model. See
                `recipes.engine.auto`. Defaults to `None` (one run).
            seed: seed for the validation split, shuffling and initial weights.
                Defaults to 42.
            overwrite: start afresh: drop what `run_dir` would resume from (its
                backup, an `--auto` loop's state) instead of resuming it.
                Defaults to `False`.
            **data_options: the recipe's data options (`data_options`), e.g.
                `csv=..., target=...` for `regression`.

        Returns:
            A `Result`, also saved to `run_dir` (see `Result.save`), with its
            SavedModel in `run_dir/model` (`recipes.load(run_dir)` serves it).
        """
        start = time.perf_counter()
        self.check_data_options(data_options)
        hp = self.hyperparameters(hp)
        given = dict(hp.values)
        chosen = dict(
            epochs=epochs,
            batch_size=_one_of("batch_size", batch_size, given),
            learning_rate=_one_of("learning_rate", learning_rate, given),
        )
        settings = self.settings(**chosen)
        if limit is not None:
            recipe_data.check_positive_int("limit", limit)
        check_strategy(strategy)
        recipe_data.check_data_dir(data_dir)
        if compare_depth and "depth" not in self.space():
            raise ValueError(
                f"compare_depth needs a `depth` hyperparameter, which this {self.name} "
                f"model does not have. Known: {sorted(self.space())}."
            )
        if auto is not None:
            parse_budget(auto, "auto")
            if compare_depth:
                raise ValueError(
                    "auto and compare_depth cannot be combined: auto trains the "
                    "shallower or deeper variant itself when the diagnosis asks for it."
                )
        return run.train(
            self, hp, settings, given=given,
            chosen={k for k, v in chosen.items() if v is not None}, data=data,
            data_dir=data_dir, limit=limit, run_dir=run_dir, strategy=strategy,
            callbacks=callbacks, tensorboard=tensorboard, verbose=verbose,
            diagnose=diagnose, compare_depth=compare_depth, auto=auto, seed=seed,
            data_options=data_options, start=start, overwrite=overwrite,
        )

    def search(self, tuner="hyperband", **kwargs):
        """Runs a KerasTuner search over this recipe's space; see
        `recipes.engine.tuning.search`."""
        return tuning.search(self, tuner=tuner, **kwargs)

    def space(self):
        """The names of every hyperparameter the default model registers."""
        return {p.name for p in self._space()}

    def _space(self, values=None):
        """The hyperparameters the model of `values` (defaults for the rest) registers."""
        probe = keras_tuner.HyperParameters()
        probe.values.update(values or {})
        model = self.build_model(probe)
        self.compile(model, probe)
        del model
        clear_session()
        return list(probe.space)

    def run_once(self, hp, data, settings, strategy, run_dir, callbacks=(), verbose=0,
                 seed=42, **options):
        """One training of the model of `hp` on `data`, evaluated once on the test
        split: see `recipes.engine.run.run_once` (also for `options`)."""
        return run.run_once(self, hp, data, settings, strategy, run_dir, callbacks,
                            verbose, seed, **options)

    def depth_variants(self, hp):
        """(shallower, deeper) values of the `depth` tunable around the current one.

        At the smallest depth the "shallower" variant is the model itself.
        """
        depth = hp.get("depth")
        return max(1, depth - 1), depth + 1

    def compare_depth(self, result, hp, data, strategy, run_dir):
        """Trains a shallower and a deeper variant: see `recipes.engine.run.compare_depth`."""
        return run.compare_depth(self, result, hp, data, strategy, run_dir)

    def __repr__(self):
        return f"<Recipe {self.name}: {self.description}>"


def batch_norm_momentum(total_steps):
    """The momentum of batch normalization's moving statistics for a training of
    `total_steps` steps: Keras's 0.99 (a memory of about 100 steps) from 1,000 steps
    on; below, `1 - 10 / total_steps`, at least 0.9, so that the statistics a model
    is evaluated with have forgotten their initial values (mean 0, variance 1) by the
    end of training, as they would not after a few dozen steps at 0.99 (a folder of a
    few hundred images).

    Example:

    >>> batch_norm_momentum(5000), batch_norm_momentum(500), batch_norm_momentum(50)
    (0.99, 0.98, 0.9)
    """
    return min(0.99, max(0.9, 1.0 - 10.0 / total_steps))


# The momentum `momentum_unset` gives a batch normalization built without one: Keras's
# 0.99 less one float step (the same moving average), so that `Recipe.compile` tells
# "not set" from a momentum of 0.99 given.
UNSET = math.nextafter(0.99, 0.0)


@contextlib.contextmanager
def momentum_unset():
    """Within the block, a `keras.layers.BatchNormalization` (or subclass) built
    without a `momentum` gets `UNSET`, which `Recipe.compile` replaces with the
    momentum the training's length calls for (`batch_norm_momentum`); one built with
    a momentum keeps it.

    Keras's layer keeps no trace of which arguments were given (its config holds the
    defaults too), so the block wraps the layer's `__init__` while it runs.

    Example:

    >>> with momentum_unset():
    ...     keras.layers.BatchNormalization().momentum == UNSET
    True
    """
    cls = keras.layers.BatchNormalization
    init = cls.__init__

    def __init__(self, *args, **kwargs):
        if len(args) < 2 and "momentum" not in kwargs:
            kwargs["momentum"] = UNSET
        init(self, *args, **kwargs)

    cls.__init__ = __init__
    try:
        yield
    finally:
        cls.__init__ = init


def _all_layers(layer):
    """`layer` and every layer inside it (nested models included)."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _all_layers(inner)


def _one_of(name, argument, hp_values):
    """A setting given as an argument or in `hp` (a search's best values), not both."""
    value = hp_values.get(name)
    if argument is not None and value is not None and argument != value:
        raise ValueError(
            f"{name} is given twice, as an argument ({argument!r}) and in hp "
            f"({value!r}). Received: {name}={argument!r}, hp[{name!r}]={value!r}"
        )
    return argument if argument is not None else value

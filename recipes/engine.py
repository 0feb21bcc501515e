"""The engine: one `Recipe` type whose `train` and `search` serve every recipe.

A recipe module is declarative: it subclasses `Recipe`, sets its defaults and its data,
and writes `build_model(hp=None, data=None)` with every tunable as
`hp.Int/Float/Choice(..., default=...)`. Training, evaluation, export, diagnosis and
tuning live here, once.

Learning rate and batch size under `tf.distribute`: `batch_size` is the batch *per
replica*; the global batch is `batch_size * replicas`, and the peak learning rate is
scaled linearly with the number of replicas (Goyal et al., 2017, "linear scaling rule"),
with the warm-up that rule asks for. Warm-up and schedule lengths are counted in steps of
the global batch, so they follow the batch size.
"""

import dataclasses
import json
import math
import os
import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

import callbacks as recipe_callbacks

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def make_optimizer(name, learning_rate):
    """Builds one of the lecture's optimizers by name.

    `sgd` is SGD with Nesterov momentum 0.9 (plain SGD is rarely what anyone wants).
    """
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate)
    raise ValueError(
        f"Unknown optimizer. Expected one of {OPTIMIZERS}. Received: optimizer={name!r}"
    )


def get_strategy(strategy="auto"):
    """Returns the `tf.distribute.Strategy` for a name, or the strategy given.

    Args:
        strategy: `"auto"` (a `MirroredStrategy` over all GPUs when there are several,
            the default strategy otherwise), `"none"` (the default strategy),
            `"mirrored"` (a `MirroredStrategy` over all GPUs, or over all logical CPUs
            when there is no GPU), `"multiworker"` (a `MultiWorkerMirroredStrategy`
            configured from `TF_CONFIG`), or a `tf.distribute.Strategy`.
            Defaults to `"auto"`.
    """
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {STRATEGIES} or a "
            f"tf.distribute.Strategy. Received: strategy={strategy!r}"
        )
    if strategy == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy='multiworker' reads the cluster from the TF_CONFIG "
                "environment variable, which is not set. Set TF_CONFIG (see README, "
                "'Training across machines')."
            )
        # Before anything initializes TensorFlow's runtime (listing logical devices
        # does): collective ops must be configured at program startup. The strategy
        # is TensorFlow's, fixed for Keras 3's fit (see recipes.distribute).
        from recipes.distribute import MultiWorkerMirroredStrategy

        return MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        # Over CPUs, reduce on one device: CPU collectives of several strategies in
        # one process can mix up their instance keys ("Shape mismatch in the
        # collective instance").
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("CPU")],
            cross_device_ops=tf.distribute.ReductionToOneDevice(),
        )
    if strategy == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def hyperparameters(values=None):
    """A `keras_tuner.HyperParameters` whose tunables take `values` when registered.

    `values` may be a dict, `None` (every tunable takes its default) or a
    `HyperParameters`, which is returned as it is.
    """
    if isinstance(values, keras_tuner.HyperParameters):
        return values
    hp = keras_tuner.HyperParameters()
    hp.values.update(values or {})
    return hp


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch (`epoch_seconds`)."""

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)


@dataclasses.dataclass
class Result:
    """What `Recipe.train` returns: the model, its history, test metrics and more.

    Attributes:
        recipe: the recipe's name.
        model: the trained `keras.Model` (best weights restored).
        history: dict of per-epoch metrics (`loss`, `val_loss`, ...).
        test_metrics: metrics on the test split, evaluated once after training.
        timings: `fit_seconds`, `epoch_seconds` (list), `total_seconds`.
        settings: the run's settings (epochs, batch size, learning rate, strategy ...).
        hyperparameters: the values of every tunable used to build the model.
        stop_reason: why training ended early, if it did (see `callbacks.EarlyStopping`).
        run_dir: where `history.json` and `result.json` were written.
        diagnosis: the `recipes.diagnose.Diagnosis` of the run.
    """

    recipe: str
    model: keras.Model
    history: dict
    test_metrics: dict
    timings: dict
    settings: dict
    hyperparameters: dict
    stop_reason: str | None = None
    run_dir: str | None = None
    diagnosis: object = None
    comparisons: dict = dataclasses.field(default_factory=dict)

    def export(self, path):
        """Exports a SavedModel whose `serve` signature takes raw inputs.

        It loads with `tf.saved_model.load` or TF Serving, without this project.
        """
        self.model.export(str(path), format="tf_saved_model", verbose=False)
        return str(path)

    def save(self, path):
        """Saves a `.keras` file; it loads with `keras.saving.load_model` after
        `import layers`."""
        if not str(path).endswith(".keras"):
            raise ValueError(f"The path must end in '.keras'. Received: path={path!r}")
        self.model.save(path)
        return str(path)

    def write(self, run_dir):
        """Writes `history.json` and `result.json` (the format `recipes.diagnose`
        reads) into `run_dir`."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "history.json").write_text(json.dumps(self.history, indent=1))
        record = {
            "recipe": self.recipe,
            "test_metrics": self.test_metrics,
            "settings": self.settings,
            "hyperparameters": self.hyperparameters,
            "timings": self.timings,
            "stop_reason": self.stop_reason,
            "comparisons": self.comparisons,
        }
        (run_dir / "result.json").write_text(json.dumps(record, indent=1, default=str))
        self.run_dir = str(run_dir)


class Recipe:
    """A training recipe: defaults, data and a model; the engine does the rest.

    Subclasses set `name`, `description`, `dataset` (a TFDS name), `augment` (a preset
    name or None) and `augment_options` (its arguments), `loss`, `metrics`, `monitor` and `defaults`, and implement
    `build_model(hp=None, data=None)`.
    """

    name = None
    description = ""
    dataset = None
    augment = None
    augment_options = {}
    loss = "sparse_categorical_crossentropy"
    metrics = ("accuracy",)
    monitor = "val_loss"
    defaults = dict(
        epochs=10,
        batch_size=128,
        learning_rate=1e-3,
        optimizer="adam",
        warmup_epochs=1,
        patience=5,
        validation_split=0.1,
    )

    # -- what a recipe declares ------------------------------------------------------
    def build_model(self, hp=None, data=None):
        """Returns an uncompiled `keras.Model`; every tunable has a default."""
        raise NotImplementedError(f"{type(self).__name__} must define build_model().")

    def load_data(self, data_dir=None, limit=None, seed=42):
        """Returns a `recipes.data.Splits` with train, validation and test datasets."""
        from recipes import data

        return data.load(
            self.dataset,
            data_dir=data_dir,
            validation_split=self.defaults["validation_split"],
            seed=seed,
            limit=limit,
        )

    def augmentation(self, data=None):
        """The Keras augmentation model applied on the fly in training, or None."""
        if self.augment is None:
            return None
        from recipes import augment

        return augment.get_preset(self.augment, **self.augment_options)

    def baseline(self, data, hp):
        """The loss of a trivial predictor, the scale `recipes.diagnose` judges a loss
        against; `None` for classifiers, which are judged by their error rate."""
        return None

    def get_loss(self, hp):
        """The loss to compile with. Defaults to `loss`; a recipe may tune it."""
        return self.loss

    # -- shared mechanics ------------------------------------------------------------
    def compile(self, model, hp=None, steps_per_epoch=None, epochs=None, replicas=1):
        """Compiles `model` with the recipe's optimizer, warm-up + cosine schedule,
        loss and metrics. `learning_rate` and `optimizer` are tunables.

        Without `steps_per_epoch` the learning rate is constant (handy for
        benchmarks and tests that call `fit` themselves).
        """
        hp = hp if hp is not None else hyperparameters()
        d = self.defaults
        lr = hp.Float(
            "learning_rate", 1e-4, 3e-2, sampling="log", default=d["learning_rate"]
        )
        name = hp.Choice("optimizer", list(OPTIMIZERS), default=d["optimizer"])
        lr = lr * replicas  # linear scaling rule (see module docstring)
        if steps_per_epoch:
            epochs = epochs or d["epochs"]
            total = max(1, steps_per_epoch * epochs)
            warmup = min(total - 1, round(steps_per_epoch * d["warmup_epochs"]))
            lr = recipe_callbacks.WarmUpCosine(
                peak=lr, total_steps=total, warmup_steps=warmup
            )
        model.compile(
            optimizer=make_optimizer(name, lr),
            loss=self.get_loss(hp),
            metrics=list(self.metrics),
        )
        return model

    def settings(self, **overrides):
        """The defaults updated by `overrides`, validated."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"Unknown setting(s) {sorted(unknown)} for recipe {self.name!r}. "
                f"Known: {sorted(self.defaults)}."
            )
        s = {**self.defaults, **overrides}
        _check_positive_int("epochs", s["epochs"])
        _check_positive_int("batch_size", s["batch_size"])
        if not s["learning_rate"] > 0:
            raise ValueError(
                "learning_rate must be positive. "
                f"Received: learning_rate={s['learning_rate']!r}"
            )
        return s

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
        seed=42,
        **hyperparameter_values,
    ):
        """Trains the recipe and evaluates it once on the test split.

        Args:
            epochs: number of epochs. Defaults to the recipe's.
            batch_size: batch size per replica. Defaults to the recipe's.
            learning_rate: peak learning rate. Defaults to the recipe's.
            hp: a `keras_tuner.HyperParameters` to build from. Defaults to `None`
                (each tunable takes its default, or a value given as keyword).
            data: a `recipes.data.Splits` to train on. Defaults to the recipe's data.
            data_dir: where the dataset lives. Defaults to `RECIPES_DATA_DIR`, then
                TFDS's own directory.
            limit: train on the first `limit` training examples only. Defaults to all.
            run_dir: where the run's backups, history and result go. Defaults to
                `runs/<recipe name>`. An interrupted run started again with the same
                `run_dir` resumes from its last completed epoch.
            strategy: see `get_strategy`. Defaults to `"auto"`.
            callbacks: extra Keras callbacks. Defaults to none.
            tensorboard: write TensorBoard logs under `run_dir/logs`.
                Defaults to `False`.
            verbose: Keras `fit` verbosity. Defaults to `"auto"` (a progress bar).
            diagnose: print the diagnosis at the end. Defaults to `True`.
            compare_depth: also train a shallower and a deeper variant (same
                settings) so that the diagnosis can tell model bias from an
                optimization failure. Defaults to `False`.
            seed: seed for the validation split, shuffling and initial weights.
                Defaults to 42.
            **hyperparameter_values: values for the recipe's tunables, e.g.
                `filters=64`.

        Returns:
            A `Result`.
        """
        start = time.perf_counter()
        given = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
        settings = self.settings(**{k: v for k, v in given.items() if v is not None})
        if limit is not None:
            _check_positive_int("limit", limit)
        strategy = get_strategy(strategy)
        replicas = strategy.num_replicas_in_sync
        global_batch = settings["batch_size"] * replicas
        keras.utils.set_random_seed(seed)

        if hp is None:
            hp = hyperparameters()
        hp.values.update({"learning_rate": settings["learning_rate"]})
        hp.values.update(hyperparameter_values)
        data = data if data is not None else self.load_data(data_dir, limit, seed)
        train_ds, val_ds, test_ds = self.pipelines(data, global_batch, seed=seed)
        steps = math.ceil(data.train_size / global_batch)

        with strategy.scope():
            model = self.build_model(hp, data=data)
            self.compile(model, hp, steps, settings["epochs"], replicas)
        _check_known(hp, hyperparameter_values, self.name)
        if compare_depth and "depth" not in {p.name for p in hp.space}:
            raise ValueError(
                f"compare_depth needs a `depth` hyperparameter, which this {self.name} "
                f"model does not have. Known: {sorted(p.name for p in hp.space)}."
            )
        self.check_data(data, model)

        run_dir = Path(run_dir or Path("runs") / self.name)
        early = recipe_callbacks.EarlyStopping(
            monitor=self.monitor,
            patience=settings["patience"],
            restore_best_weights=True,
            warmup_epochs=math.ceil(settings["warmup_epochs"]),
        )
        timer = EpochTimer()
        cbs = [
            keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
            keras.callbacks.TerminateOnNaN(),
            early,
            timer,
            *callbacks,
        ]
        if tensorboard:
            cbs.append(keras.callbacks.TensorBoard(str(run_dir / "logs")))
        fit_start = time.perf_counter()
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=settings["epochs"],
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
        fit_seconds = time.perf_counter() - fit_start
        test_metrics = model.evaluate(test_ds, return_dict=True, verbose=0)

        result = Result(
            recipe=self.name,
            model=model,
            history={k: [float(v) for v in vs] for k, vs in history.history.items()},
            test_metrics={k: float(v) for k, v in test_metrics.items()},
            timings=dict(
                fit_seconds=fit_seconds,
                epoch_seconds=timer.epoch_seconds,
                total_seconds=time.perf_counter() - start,
            ),
            settings=dict(
                settings,
                replicas=replicas,
                global_batch_size=global_batch,
                steps_per_epoch=steps,
                strategy=type(strategy).__name__,
                train_size=data.train_size,
                seed=seed,
                baseline=self.baseline(data, hp),
            ),
            hyperparameters=dict(hp.values),
            stop_reason=early.stop_reason,
        )
        if compare_depth:
            result.comparisons = self.compare_depth(result, hp, data, strategy, run_dir)
        result.write(run_dir)
        if diagnose:
            from recipes.diagnose import diagnose as run_diagnosis

            result.diagnosis = run_diagnosis(result)
            if verbose != 0:
                print(result.diagnosis)
        return result

    def check_data(self, data, model):
        """Raises a `ValueError` before training for labels out of range, images of
        the wrong shape or dtype, or an empty split (see `recipes.data.check_dataset`)."""
        if not data.num_classes:
            return
        from recipes.data import check_dataset

        for split in ("train", "validation", "test"):
            ds = getattr(data, split)
            if ds is None:
                raise ValueError(f"The {split!r} split is missing from {data.name!r}.")
            try:
                check_dataset(ds, model.output_shape[-1], model.input_shape[1:])
            except ValueError as e:
                raise ValueError(f"{data.name} {split} split: {e}") from None

    def pipelines(self, data, global_batch, seed=42):
        """Batched, prefetched train (augmented, shuffled), validation and test sets."""
        from recipes.augment import make_pipeline

        aug = self.augmentation(data)
        return (
            make_pipeline(data.train, global_batch, augment=aug, seed=seed),
            make_pipeline(data.validation, global_batch, shuffle=False),
            make_pipeline(data.test, global_batch, shuffle=False, cache=False),
        )

    def depth_variants(self, hp):
        """(shallower, deeper) values of the `depth` tunable around the current one.

        At the smallest depth the "shallower" variant is the model itself.
        """
        depth = hp.get("depth")
        return max(1, depth - 1), depth + 1

    def compare_depth(self, result, hp, data, strategy, run_dir):
        """Trains a shallower and a deeper variant with the same settings.

        Returns `{"shallower": ..., "deeper": ...}`, each with `depth`, `history` and
        `test` metrics; at the smallest depth the shallower one is `result` itself.
        """
        out = {}
        s = result.settings
        for label, depth in zip(("shallower", "deeper"), self.depth_variants(hp)):
            if depth == hp.get("depth"):
                out[label] = dict(depth=depth, history=result.history, test=result.test_metrics)
                continue
            print(f"Training the {label} variant (depth={depth}) ...")
            variant = self.train(
                s["epochs"],
                s["batch_size"],
                s["learning_rate"],
                hp=hyperparameters(dict(hp.values, depth=depth)),
                data=data,
                run_dir=Path(run_dir) / f"depth-{depth}",
                strategy=strategy,
                verbose=0,
                diagnose=False,
                seed=s["seed"],
            )
            out[label] = dict(depth=depth, history=variant.history, test=variant.test_metrics)
        return out

    def search(self, tuner="hyperband", **kwargs):
        """Runs a KerasTuner search over this recipe's space; see `recipes.tuning.search`."""
        from recipes import tuning

        return tuning.search(self, tuner=tuner, **kwargs)

    def __repr__(self):
        return f"<Recipe {self.name}: {self.description}>"


def _check_known(hp, given, recipe):
    registered = {p.name for p in hp.space}
    unknown = [name for name in given if name not in registered]
    if unknown:
        known = sorted(registered)
        raise ValueError(
            f"Recipe {recipe!r} has no hyperparameter(s) {unknown}. Known: {known}."
        )

"""tabular: classification or regression on a table, from a CSV file or a DataFrame.

    from recipes import tabular
    result = tabular.train(csv="houses.csv", target="price")      # regression
    result = tabular.train(frame=df, target="species")            # classification
    result.export("out/model")    # one named input per raw column

The task is chosen from the target column (text, booleans or integers with at most 20
distinct values: classification, with softmax + cross-entropy; other numbers:
regression, the output in the target's own units);
`task=` (CLI `--task`) overrides it. The table is taken as it comes
(`recipes.data.load_table`: gaps kept, rows without a target and row-id columns left
out, any column name); inside the model, missing numbers are filled and flagged, numbers
piecewise-linear encoded over `bins` quantile bins (the tunable; 1 is plain scaling; 16
by default, 8 for a table of fewer than 2,000 rows: `Tabular.default_bins`), with the
tunable `scaled` (off by default) also robustly scaled and smoothly clipped beside them,
with the tunable `atoms` (off by default) a 0/1 flag for each value that holds a bin's
share of the rows, small sets of integers over their own values, and text one-hot
encoded (`TableTask.encoded_inputs`). Rows are shuffled into a seeded split: 15% for
the test, 15% of the rest for validation. Without a table it trains on the Grunfeld investment data shipped
with statsmodels (220 rows, a text column `firm`), predicting `invest`.

The model, after TabM (Gorishniy et al., 2025) and RealMLP (Holzmueller et al., 2024):
an efficient ensemble of `members` (a tunable) over one shared body: each member scales
the encoded row by its own factors (`layers.EnsembleAdapter`), the `depth` dense ReLU
layers of `units` with dropout (tunables, as in `mlp`) are shared, a linear path from
the (scaled) encoded columns runs beside them (`wide`), each member has its own output
head (`layers.EnsembleDense`) and the model averages the members' probabilities or
values. After training, with `keep_linear` (a tunable, on by default), a linear model of
the same encoded columns, fitted by scikit-learn on the training rows (ridge or logistic
regression, `Tabular.set_linear`), takes the trained model's place where it does better
on the validation split than the trained model at its kept epoch on both the loss and
the metric (accuracy, or MAE): the same layers, the heads' deep weights at 0. The data
notes say so, and the run's settings hold `kept_linear` and `linear_validation`; a
search's trials are scored without it. Classification learns a cross-entropy (labels
smoothed by `label_smoothing`, 0 by default); regression the squared error of the
standardized target, or of the standardized log(y) (`target_scale`, a tunable:
`"standard"`, `"log"` or `"auto"`, the default). With `"auto"`, `train` learns a
positive target whose skewness is above `choose_skew` both ways, each model trained in
full with the same settings and seed, and keeps the one of lower validation MAE (in the
target's units, at each model's kept epoch); the other is dropped, never evaluated on
the test split. Such a run costs two trainings; any other target, and an explicit
`"standard"` or `"log"`, trains one. `--auto` chooses in its first step, and its later
steps build the scale kept. The run's settings (`target_scale`, and
`target_scale_validation_mae` with both MAEs), its data notes and its report say which
was kept. Where one model is built from `"auto"` without training both (`build_model`
alone, a search's trial: a search chooses among the three values like any tunable, and
trains one model per trial), it is log(y) for a positive target whose skewness is above
`log_skew`. The output is in the target's own units either way, so predictions and
exports need no transform. Adam (AdamW when `weight_decay`, 0 by default, is above 0)
runs a schedule that stays at its peak rate for `flat_fraction` of the epochs and then
anneals to 0 on a cosine; nothing stops it early, and the epoch with the best validation
loss is restored. The batch grows and the epochs shrink with the rows
(`TableTask.data_settings`). What each of these gave on the development suite is in
`benchmarks/README.md` (`benchmarks/tables.py`).
"""

import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np
from keras import ops

import callbacks
import layers
from recipes.engine import blocks, hyperparameters
# SmoothedSparseCrossentropy is imported from here too (its home before engine.losses).
from recipes.engine.losses import SmoothedSparseCrossentropy  # noqa: F401
from recipes.engine.losses import label_smoothing, smoothed_crossentropy
from recipes.engine.recipe import Recipe
from recipes.engine.tasks import TableTask, train_targets


@keras.saving.register_keras_serializable(package="recipes")
class StandardizedSquaredError(keras.losses.Loss):
    """`((t(y) - t(prediction)) / std)^2`, with `t` the identity or, for a target
    learned on the log scale, `log`: the squared error of the standardized target,
    whatever the target's units, while the model's output stays in them."""

    def __init__(self, std=1.0, log=False, name="standardized_squared_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.std, self.log = float(std), bool(log)

    def call(self, y_true, y_pred):
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        if self.log:
            y_true, y_pred = ops.log(ops.maximum(y_true, 1e-12)), ops.log(y_pred)
        return ops.mean(ops.square((y_true - y_pred) / self.std), axis=-1)

    def get_config(self):
        return dict(super().get_config(), std=self.std, log=self.log)


class Tabular(TableTask):
    name = "tabular"
    defaults = dict(
        Recipe.defaults,
        epochs=32,
        batch_size=64,
        learning_rate=2e-3,
        warmup_epochs=0,
        patience=20,
        validation_split=0.15,
        # For regression, what `target_scale` chose: set from the data and the
        # hyperparameters by `data_settings`, so that the run's settings say it.
        target_scale=None,
    )
    rows_per_step = 32
    # Quantile bins per number by default: fewer on small tables, where a finer encoding
    # gives the linear path and the body more than a few hundred rows can pin down.
    # Chosen on the validation splits of the development suite's 9 tables under 2,000
    # rows, 3 seeds: 8 bins did better than 16 on 7 of them and worse on none, and
    # better than 4 on 5 of 9 (benchmarks/README.md, "Bins for small tables").
    bins, small_table_bins, small_table_rows = 16, 8, 2000

    def default_bins(self, data):
        """`bins`' default: `small_table_bins` for a table of fewer than
        `small_table_rows` rows (all three splits), else `bins`."""
        rows = data.train_size + data.validation_size + data.test_size
        return self.small_table_bins if rows < self.small_table_rows else self.bins

    def demo(self):
        from statsmodels.datasets import grunfeld  # here: statsmodels is slow to import

        return grunfeld.load_pandas().data, "invest"

    def target_transform(self, data, hp):
        """`(log, std, mean)`: whether the regression target is learned as log(y), and
        the standard deviation and mean of the (log) training targets. `"auto"` is
        log(y) for a positive target whose skewness is above `log_skew` (a model built
        alone; `train` chooses on validation, see `run_once`)."""
        y = train_targets(data).astype("float64")
        choice = hp.Choice("target_scale", list(SCALES), default="auto")
        positive, skew = target_shape(y)
        if choice == "log" and not positive:
            raise ValueError(
                "target_scale='log' needs a positive target, and this one has values <= 0. "
                "Use target_scale='standard' or 'auto'. Received: target_scale='log'"
            )
        log = choice == "log" or (choice == "auto" and positive and skew > self.log_skew)
        y = np.log(y) if log else y
        return log, float(y.std() or 1.0), float(y.mean())

    # A model built alone from "auto" learns log(y) for a positive target whose
    # skewness is above this.
    log_skew = 1.0
    # `train` with "auto" learns a positive target whose skewness is above this both
    # ways and keeps the better on validation.
    choose_skew = 0.5

    def chooses_scale(self, data, hp):
        """Whether a run of `hp` on `data` trains the target both ways and keeps the
        better on validation: a regression whose `target_scale` is `"auto"` and whose
        target is positive with a skewness above `choose_skew`."""
        if data.task != "regression" or hp.values.get("target_scale", "auto") != "auto":
            return False
        positive, skew = target_shape(train_targets(data).astype("float64"))
        return positive and skew > self.choose_skew

    def run_once(self, hp, data, settings, strategy, run_dir, callbacks=(), verbose=0,
                 seed=42, **options):
        """`Recipe.run_once`: trains (`train_scales`), then, with `wide` and
        `keep_linear` (the defaults), keeps a linear model instead where it does better
        on validation (`keep_linear`, its seconds in the timings' `keep_linear_seconds`);
        the result is evaluated once on the test split when `evaluate` (the default)."""
        evaluate = options.pop("evaluate", True)
        result = self.train_scales(hp, data, settings, strategy, run_dir, callbacks,
                                   verbose, seed, **options)
        if hp.values.get("wide", True) and hp.values.get("keep_linear", True):
            start = time.perf_counter()
            self.keep_linear(result, data, hp, seed)
            result.timings["keep_linear_seconds"] = time.perf_counter() - start
        if evaluate:
            test = self.pipelines(data, result.settings["global_batch_size"], seed=seed)[2]
            result.test_metrics = {k: float(v) for k, v in result.model.evaluate(
                test, return_dict=True, verbose=0).items()}
        return result

    def keep_linear(self, result, data, hp, seed=42):
        """Sets the trained model of `result` to a linear model of its encoded columns
        (`set_linear`) where that one does better on the validation split than the
        trained model at its kept epoch on both the loss and the metric (accuracy, or
        a regression's MAE in the target's units); else leaves it. The result's settings
        get `kept_linear` and `linear_validation` (the linear model's validation loss
        and metric); a kept linear model adds a note, its figures on the training and
        validation splits as `held_figures` (`loss`, `val_loss`, ...) and its name as
        `held_model`, which the run's diagnosis and `--auto` read
        (`Result.held_history`)."""
        model = result.model
        metric = "accuracy" if data.task == "classification" else "mae"
        epoch = result.kept_epoch - 1
        trained = {k: float(result.history[f"val_{k}"][epoch]) for k in ("loss", metric)}
        weights = model.get_weights()
        self.set_linear(model, data, hp)
        train, validation, _ = self.pipelines(data, result.settings["global_batch_size"],
                                              seed=seed)
        measured = model.evaluate(validation, return_dict=True, verbose=0)
        linear = {k: float(measured[k]) for k in ("loss", metric)}
        sign = -1 if metric == "accuracy" else 1  # lower is better

        def worst(value):  # a NaN: the trained model diverged
            return np.inf if np.isnan(value) else value

        kept = (linear["loss"] < worst(trained["loss"])
                and sign * linear[metric] < worst(sign * trained[metric]))
        if not kept:
            model.set_weights(weights)
        else:
            result.notes.append(
                f"a linear model of the encoded columns kept: validation loss "
                f"{linear['loss']:.4g} and {metric} {_figure(linear[metric])} against "
                f"{trained['loss']:.4g} and {_figure(trained[metric])} for the trained model")
            # What the diagnosis reads and `--auto` compares steps by: the model held.
            fitted = model.evaluate(train, return_dict=True, verbose=0)
            result.settings.update(
                held_model="the linear model of the encoded columns, kept on validation",
                held_figures={**{k: float(v) for k, v in fitted.items()},
                              **{f"val_{k}": float(v) for k, v in measured.items()}})
        result.settings.update(linear_validation=linear, kept_linear=kept)

    def train_scales(self, hp, data, settings, strategy, run_dir, callbacks=(), verbose=0,
                     seed=42, **options):
        """`Recipe.run_once`, not evaluated on the test split; for a regression whose
        target scale is to be chosen (`chooses_scale`), two of them: the standardized
        target and log(y), each from the same seed into `run_dir/target-standard` and
        `run_dir/target-log`. The one of lower validation MAE at its kept epoch (the
        standardized one on a tie) is the result; `hp` then holds its `target_scale`,
        so that the run's hyperparameters (and `--auto`'s later steps) build that one.
        Its `fit_seconds` and `epoch_seconds` count both trainings. A run started from
        given weights (`initial_weights`) trains one, as built."""
        options["evaluate"] = False
        if data.task != "regression":
            return super().run_once(hp, data, settings, strategy, run_dir, callbacks,
                                    verbose, seed, **options)
        if not self.chooses_scale(data, hp) or options.get("initial_weights") is not None:
            result = super().run_once(hp, data, settings, strategy, run_dir, callbacks,
                                      verbose, seed, **options)
            log = self.target_transform(data, hyperparameters(result.hyperparameters))[0]
            result.settings["target_scale"] = "log" if log else "standard"
            if hp.values.get("target_scale", "auto") == "auto":
                positive, skew = target_shape(train_targets(data).astype("float64"))
                why = ("it has values <= 0" if not positive else
                       f"skewness {skew:.2f}, at most {self.choose_skew}"
                       if skew <= self.choose_skew else
                       f"skewness {skew:.2f}; not chosen on validation: the run started "
                       "from given weights")
                result.notes.append(f"target {data.target!r}: "
                                    f"{'log(y)' if log else 'standardized'} ({why})")
            return result
        if verbose != 0:
            print(f"target {data.target!r}: positive and skewed; training it standardized, "
                  "then as log(y), to keep the one of lower validation MAE", flush=True)
        runs, trials, mae = {}, {}, {}
        for scale in ("standard", "log"):
            trials[scale] = keras_tuner.HyperParameters()
            trials[scale].values.update(dict(hp.values, target_scale=scale))
            keras.utils.set_random_seed(seed)
            run = runs[scale] = super().run_once(
                trials[scale], data, settings, strategy, Path(run_dir) / f"target-{scale}",
                callbacks, verbose, seed, **options)
            mae[scale] = float(run.history["val_mae"][run.kept_epoch - 1])
        chosen = "log" if mae["log"] < mae["standard"] else "standard"
        loser = "standard" if chosen == "log" else "log"
        result = runs[chosen]
        for scale in runs:  # what the trainings left: their backups are gone
            folder = Path(run_dir) / f"target-{scale}"
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        hp.merge(trials[chosen])
        hp.values.update(trials[chosen].values)
        result.settings.update(target_scale=chosen, target_scale_validation_mae=mae)
        result.timings.update(
            fit_seconds=sum(r.timings["fit_seconds"] for r in runs.values()),
            epoch_seconds=[s for r in runs.values() for s in r.timings["epoch_seconds"]],
            target_scale_fit_seconds={k: r.timings["fit_seconds"] for k, r in runs.items()})
        named = {"log": "log(y)", "standard": "standardized"}
        result.notes.append(
            f"target {data.target!r}: {named[chosen]} chosen on validation (MAE "
            f"{_figure(mae[chosen])} vs {_figure(mae[loser])} {named[loser]})")
        return result

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        data = data if data is not None else self.load_data()
        # Piecewise-linear bins per number (Gorishniy et al., 2022).
        bins = hp.Int("bins", 1, 64, sampling="log", default=self.default_bins(data))
        # Beside the bins, each number robustly scaled with a smooth clip (RealMLP); off
        # by default: not kept on the development suite (benchmarks/README.md).
        scaled = hp.Boolean("scaled", default=False)
        # A 0/1 flag for each value that holds a bin's share of a number's rows (a
        # number often exactly 0), which the bins cannot tell from its neighbours; off
        # by default: not kept on the development suite (benchmarks/README.md).
        atoms = hp.Boolean("atoms", default=False)
        inputs, encoded = self.encoded_inputs(data, bins, scaled, atoms)
        # Named for `set_linear`, which reads it; float32 like the encoding.
        encoded = keras.layers.Identity(name="encoded", dtype="float32")(encoded)
        regression = data.task != "classification"
        # Registered for every table, so that the space is the same for both tasks.
        label_smoothing(hp)
        self.flat_fraction(hp)  # used by the schedule, which a compile without steps has not
        hp.Choice("target_scale", list(SCALES), default="auto")
        # TabM-mini (Gorishniy et al., 2025): k members over one shared body, averaged.
        members = hp.Int("members", 1, 32, sampling="log", default=8)
        x = layers.EnsembleAdapter(members)(encoded) if members > 1 else encoded
        body = blocks.dense_body(x, hp, units=128, depth=2, dropout=0.1)
        # Wide and deep (Cheng et al., 2016): a linear path from the encoded columns
        # beside the deep one, so that the model starts where a linear model ends.
        wide = hp.Boolean("wide", default=True)
        # After training, a linear model of the encoded columns replaces the trained
        # one where its validation loss and metric are both better (`keep_linear`).
        hp.Boolean("keep_linear", default=True)
        x = keras.layers.Concatenate()([body, x]) if wide else body
        units = data.num_classes if not regression else 1
        activation = "softmax" if not regression else None
        if members > 1:
            x = layers.EnsembleDense(members, units, activation=activation, dtype="float32",
                                     name="head")(x)
            outputs = keras.layers.GlobalAveragePooling1D(dtype="float32")(x)
        else:
            outputs = keras.layers.Dense(units, activation=activation, dtype="float32",
                                         name="head")(x)
        if regression:
            log, std, mean = self.target_transform(data, hp)
            outputs = keras.layers.Rescaling(std, offset=mean, dtype="float32")(outputs)
            if log:
                outputs = keras.layers.Activation("exponential", dtype="float32")(outputs)
        model = keras.Model(inputs, outputs, name=self.name)
        if regression:
            model.target_loss = StandardizedSquaredError(std, log)
        return model

    linear_rows = 100_000  # the most training rows `set_linear` fits on,
    linear_cells = 50_000_000  # and the most values of their encoded columns (float64)

    def set_linear(self, model, data, hp):
        """Sets `model`'s output heads so that it is a linear model of the encoded
        columns, fitted by scikit-learn on the training rows (a seeded sample of a larger
        split, to bound its time and memory: at most `linear_rows` rows and
        `linear_cells` values of the encoded columns): for regression
        a ridge (alpha 1) on the standardized (log) target, for classification a logistic
        regression (C 1). The deep path's weights in the heads become 0, every member's
        wide path gets the same fit (times the sign of its adapter's factors, which
        become those signs) and its bias the intercept."""
        from sklearn.linear_model import LogisticRegression, Ridge

        encode = keras.Model(model.inputs, model.get_layer("encoded").output)
        # Called eagerly, batch by batch: `predict` would trace a function per model.
        y = train_targets(data)
        chosen = np.ones(len(y), bool)
        most = max(1, min(self.linear_rows, self.linear_cells // encode.output.shape[-1]))
        if len(y) > most:  # a seeded sample: the split keeps the file's order
            chosen[:] = False
            chosen[np.random.default_rng(0).choice(len(y), most, False)] = True
        x, start = [], 0
        for batch, _ in data.train.batch(4096):
            part = ops.convert_to_numpy(encode(batch, training=False))
            x.append(part[chosen[start:start + len(part)]])
            start += len(part)
        x, y = np.concatenate(x).astype("float64"), y[chosen]
        head = model.get_layer("head")
        if data.task == "regression":
            log, std, mean = self.target_transform(data, hp)
            z = ((np.log(y) if log else y.astype("float64")) - mean) / std
            fitted = Ridge(alpha=1.0).fit(x, z)
            coef, intercept = fitted.coef_.reshape(-1, 1), np.reshape(fitted.intercept_, 1)
        else:
            fitted = LogisticRegression(max_iter=1000).fit(x, y)
            coef = np.zeros((x.shape[1], data.num_classes))
            intercept = np.full(data.num_classes, -10.0)  # a class no training row has
            classes = fitted.classes_.astype(int)
            if len(classes) == 2:  # one column: class 1's logit against class 0's 0
                coef[:, classes[1]] = fitted.coef_[0]
                intercept[classes] = (0.0, fitted.intercept_[0])
            else:
                coef[:, classes], intercept[classes] = fitted.coef_.T, fitted.intercept_
        kernel = np.zeros(head.kernel.shape)
        adapters = [la for la in model.layers if isinstance(la, layers.EnsembleAdapter)]
        if adapters:  # members' heads: (members, features, units)
            signs = np.where(ops.convert_to_numpy(adapters[0].factors) < 0, -1.0, 1.0)
            adapters[0].factors.assign(signs)
            kernel[:, -x.shape[1]:, :] = coef[None] * signs[:, :, None]
            head.bias.assign(np.broadcast_to(intercept, head.bias.shape))
        else:
            kernel[-x.shape[1]:] = coef
            head.bias.assign(intercept)
        head.kernel.assign(kernel)

    def baseline(self, data, hp):
        """For regression 1.0: the standardized squared error of predicting the
        training mean (of y, or of log(y)), the loss's own scale."""
        return None if data.task != "regression" else 1.0

    def get_loss(self, hp, model=None):
        if model is not None and getattr(model, "target_loss", None) is not None:
            return model.target_loss
        return smoothed_crossentropy(hp, self.loss)

    def schedule(self, hp, peak, total_steps, warmup_steps):
        """After the warm-up (if any, `callbacks.WarmUp`), a rate that stays at `peak`
        for `flat_fraction` of the steps left, then anneals to 0 on a cosine."""
        flat = self.flat_fraction(hp)
        rest = max(2, total_steps - warmup_steps)
        keep = min(rest - 1, round(flat * rest))
        schedule = keras.optimizers.schedules.CosineDecay(
            peak, decay_steps=rest - keep, warmup_target=peak, warmup_steps=keep)
        return callbacks.WarmUp(schedule, warmup_steps) if warmup_steps else schedule

    def flat_fraction(self, hp):
        return hp.Float("flat_fraction", 0.0, 0.9, step=0.1, default=0.5)

    def optimizer(self, hp, name, learning_rate, clipnorm):
        """Adam with decoupled weight decay (AdamW) when `weight_decay` is above 0 and
        the optimizer is Adam; else the recipe's optimizer."""
        decay = hp.Choice("weight_decay", [0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1], default=0.0)
        if name == "adam" and decay:
            return keras.optimizers.AdamW(learning_rate, weight_decay=decay,
                                          **({"clipnorm": clipnorm} if clipnorm else {}))
        return super().optimizer(hp, name, learning_rate, clipnorm)

    def data_settings(self, settings, data, given, hp=None):
        """`TableTask.data_settings`, and for regression `target_scale`: what the run's
        `target_scale` (by default `"auto"`) chooses for this table (`"log"` or
        `"standard"`), or `"auto"` where the run chooses on validation
        (`chooses_scale`; the run's result then says which it kept)."""
        settings = super().data_settings(settings, data, given, hp)
        if data.task == "regression":
            hp = hyperparameters(hp)
            if self.chooses_scale(data, hp):
                settings["target_scale"] = "auto"
            else:
                log = self.target_transform(data, hp)[0]
                settings["target_scale"] = "log" if log else "standard"
        return settings

    def stopping(self, settings):
        """No early stop: the schedule runs to its low rate, and the best epoch on the
        validation loss is restored."""
        return dict(super().stopping(settings), patience=settings["epochs"])


SCALES = ("auto", "standard", "log")


def target_shape(y):
    """`(positive, skewness)` of the targets `y` (a float array)."""
    skew = float(((y - y.mean()) ** 3).mean() / (y.std() ** 3 or 1.0))
    return bool((y > 0).all()), skew


def _figure(value):
    """A validation figure for a note: thousands with separators, else 4 digits."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


recipe = Tabular()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

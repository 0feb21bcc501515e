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
piecewise-linear encoded over `bins` quantile bins (the tunable; 1 is plain scaling),
small sets of integers over their own values, and text one-hot encoded (`TableTask.
encoded_inputs`). Rows are shuffled into a seeded split: 15% for the test, 15% of the
rest for validation. Without a table it trains on the Grunfeld investment data shipped
with statsmodels (220 rows, a text column `firm`), predicting `invest`.

The model, after TabM (Gorishniy et al., 2025) and RealMLP (Holzmueller et al., 2024):
an efficient ensemble of `members` (a tunable) over one shared body: each member scales
the encoded row by its own factors (`layers.EnsembleAdapter`), the `depth` dense ReLU
layers of `units` with dropout (tunables, as in `mlp`) are shared, a linear path from the
(scaled) encoded columns runs beside them (`wide`), each member has its own output head
(`layers.EnsembleDense`) and the model averages the members' probabilities or values.
Classification learns a cross-entropy (labels smoothed by `label_smoothing`, 0 by
default); regression the squared error of the standardized target, or of the
standardized log(y) (`target_scale`: `"auto"` takes the log of a positive target whose
skewness is above `log_skew`; the run's settings say which, as `target_scale`). The
output is in the target's own units either way, so predictions and exports need no
transform. Adam (AdamW when `weight_decay`, 0 by default, is above 0) runs a schedule
that stays at its peak rate for `flat_fraction` of the epochs and then anneals to 0 on
a cosine; nothing stops it early, and the epoch with the
best validation loss is restored. The batch grows and the epochs shrink with the rows
(`TableTask.data_settings`). What each of these gave on the development suite is in
`benchmarks/README.md` (`benchmarks/tables.py`).
"""

import keras
import numpy as np
from keras import ops

import callbacks
import layers
from recipes.engine import blocks, hyperparameters
from recipes.engine.losses import SmoothedSparseCrossentropy
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

    def demo(self):
        from statsmodels.datasets import grunfeld  # here: statsmodels is slow to import

        return grunfeld.load_pandas().data, "invest"

    def target_transform(self, data, hp):
        """`(log, std, mean)`: whether the regression target is learned as log(y), and
        the standard deviation and mean of the (log) training targets."""
        y = train_targets(data).astype("float64")
        choice = hp.Choice("target_scale", ["auto", "standard", "log"], default="auto")
        positive = bool((y > 0).all())
        if choice == "log" and not positive:
            raise ValueError(
                "target_scale='log' needs a positive target, and this one has values <= 0. "
                "Use target_scale='standard' or 'auto'. Received: target_scale='log'"
            )
        skew = float(((y - y.mean()) ** 3).mean() / (y.std() ** 3 or 1.0))
        log = choice == "log" or (choice == "auto" and positive and skew > self.log_skew)
        y = np.log(y) if log else y
        return log, float(y.std() or 1.0), float(y.mean())

    # A positive target whose skewness is above this is learned as log(y) by default.
    log_skew = 1.0

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        data = data if data is not None else self.load_data()
        # Piecewise-linear bins per number (Gorishniy et al., 2022).
        inputs, encoded = self.encoded_inputs(data, hp.Int("bins", 1, 64, sampling="log", default=16))
        regression = data.task != "classification"
        # Registered for every table, so that the space is the same for both tasks.
        self.smoothing(hp)
        self.flat_fraction(hp)  # used by the schedule, which a compile without steps has not
        hp.Choice("target_scale", ["auto", "standard", "log"], default="auto")
        # TabM-mini (Gorishniy et al., 2025): k members over one shared body, averaged.
        members = hp.Int("members", 1, 32, sampling="log", default=8)
        x = layers.EnsembleAdapter(members)(encoded) if members > 1 else encoded
        body = blocks.dense_body(x, hp, units=128, depth=2, dropout=0.1)
        # Wide and deep (Cheng et al., 2016): a linear path from the encoded columns
        # beside the deep one, so that the model starts where a linear model ends.
        wide = hp.Boolean("wide", default=True)
        x = keras.layers.Concatenate()([body, x]) if wide else body
        units = data.num_classes if not regression else 1
        activation = "softmax" if not regression else None
        if members > 1:
            x = layers.EnsembleDense(members, units, activation=activation, dtype="float32")(x)
            outputs = keras.layers.GlobalAveragePooling1D(dtype="float32")(x)
        else:
            outputs = keras.layers.Dense(units, activation=activation, dtype="float32")(x)
        if regression:
            log, std, mean = self.target_transform(data, hp)
            outputs = keras.layers.Rescaling(std, offset=mean, dtype="float32")(outputs)
            if log:
                outputs = keras.layers.Activation("exponential", dtype="float32")(outputs)
        model = keras.Model(inputs, outputs, name=self.name)
        if regression:
            model.target_loss = StandardizedSquaredError(std, log)
        return model

    def baseline(self, data, hp):
        """For regression 1.0: the standardized squared error of predicting the
        training mean (of y, or of log(y)), the loss's own scale."""
        return None if data.task != "regression" else 1.0

    def smoothing(self, hp):
        return hp.Choice("label_smoothing", [0.0, 0.05, 0.1, 0.2], default=0.0)

    def get_loss(self, hp, model=None):
        if model is not None and getattr(model, "target_loss", None) is not None:
            return model.target_loss
        smoothing = self.smoothing(hp)
        return SmoothedSparseCrossentropy(smoothing) if smoothing else self.loss

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
        `"standard"`), so that the run's settings and report say it."""
        settings = super().data_settings(settings, data, given, hp)
        if data.task == "regression":
            log = self.target_transform(data, hyperparameters(hp))[0]
            settings["target_scale"] = "log" if log else "standard"
        return settings

    def stopping(self, settings):
        """No early stop: the schedule runs to its low rate, and the best epoch on the
        validation loss is restored."""
        return dict(super().stopping(settings), patience=settings["epochs"])


recipe = Tabular()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

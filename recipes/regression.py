"""regression: the lecture's progression from a line to a deep network, on a time series or a CSV.

    from recipes import regression
    result = regression.train(hp={"model": "piecewise"})
    regression.compare()   # linear -> lags -> piecewise -> deep, one table

The models, in the order the lecture builds them (Hung-yi Lee, ML 2021, lecture 1):
- `linear`: y = b + w x on the previous value only (lag 1).
- `lags`: y = b + sum_j w_j x_j over the previous 1, 7, 28 and 56 steps.
- `piecewise`: y = b + sum_i c_i hard_sigmoid(b_i + sum_j w_ij x_j)
  (`layers.PiecewiseLinear`): a constant plus a sum of hard sigmoids.
- `deep`: `depth` ReLU layers of `units` each.
The loss is MAE or MSE (`loss` tunable). Inputs are standardised and the output
rescaled inside the model, so it takes and returns values in the data's own units.

On a series, each model predicts the next-step *change* (`relative` tunable, on by
default): its formula gives y_t - x_{t-1}, and the model adds the last value x_{t-1}
back itself, so it still takes the raw lags and returns the next value. This is what
forecasters do, for a reason the CO2 series shows: it rises, so its validation and test
weeks lie above every training value. A model of the level must extrapolate there, and
a sum of hard sigmoids cannot (each saturates outside the range it was fitted on):
predicting the level, `piecewise` reached a test MAE of 9.8 ppm where `linear` had 0.40.
The change stays in the range it had in training, and a saturated unit then adds a
constant to the change instead of capping the level. For `linear` and `lags` it is the
same family of models (y = x_{t-1} + b + w x_{t-1} is a line in x_{t-1}), started from
"no change". `relative=False` predicts the level, as before.

Data: by default the weekly Mauna Loa CO2 series shipped with statsmodels
(`recipes.data.demo_series`), windowed into next-step examples by
`recipes.data.lag_features` (lag 1, the last value, first), split in time order
(train, then validation, then test); data passed as `data=` in that form (a `Splits`
named "series", `time_splits`'s default) is treated the same. The data options
`csv=PATH, target=COLUMN` (CLI: `--csv PATH --target COLUMN`) train on a numeric CSV
instead, its rows taken in file order: its features are other columns, not lags, so
there is no last value to predict a change from, and the model predicts the target
itself (no `relative` tunable).
"""

import keras
import numpy as np

import layers as recipe_layers
from recipes import data as recipe_data
from recipes.data import LAGS
from recipes.diagnostics import format_table
from recipes.engine import DataOption, Recipe, hyperparameters

MODELS = ("linear", "lags", "piecewise", "deep")
SERIES = "series"  # the name of lag-feature splits: `time_splits`'s default


class Regression(Recipe):
    name = "regression"
    loss = "mae"
    metrics = ("mae", "mse")
    defaults = dict(
        Recipe.defaults,
        epochs=200,
        batch_size=32,
        learning_rate=1e-2,
        warmup_epochs=2,
        patience=30,
        validation_split=0.15,
    )

    data_options = {
        "csv": DataOption("train on this numeric CSV file (rows in time order)", metavar="FILE"),
        "target": DataOption("the CSV column to predict", metavar="COLUMN"),
    }

    def load_data(self, data_dir=None, limit=None, seed=42, csv=None, target=None):
        """Time-ordered train / validation / test splits of (features, target)."""
        if (csv is None) != (target is None):
            raise ValueError(
                "csv needs target (the column to predict), and target needs csv. "
                f"Received: csv={csv!r}, target={target!r}"
            )
        if csv is not None:
            x, y, _ = recipe_data.from_csv(csv, target)
        else:
            x, y = recipe_data.lag_features(recipe_data.demo_series(), LAGS)
        if limit is not None:
            x, y = x[:limit], y[:limit]
        name = SERIES if csv is None else "csv"
        return recipe_data.time_splits(x, y, self.defaults["validation_split"], name=name)

    def get_loss(self, hp, model=None):
        return hp.Choice("loss", ["mae", "mse"], default=self.loss)

    def baseline(self, data, hp):
        """The loss of always predicting the training mean."""
        _, y = data.arrays("train")
        if self.get_loss(hp) == "mse":
            return float(y.var())
        return float(np.abs(y - y.mean()).mean())

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        data = data if data is not None else self.load_data()
        x, y = data.arrays("train")
        kind = hp.Choice("model", list(MODELS), default="deep")
        # On lag features, predict the change from the last value (module docstring).
        relative = data.name == SERIES and hp.Boolean("relative", default=True)
        target = y - x[:, 0] if relative else y
        n = x.shape[1]
        inputs = keras.Input(x.shape[1:], name="features")
        # The raw values (hundreds of ppm) stay in float32 under mixed precision: bfloat16
        # keeps 3 significant digits. So do the rescaling and the last value added back.
        z = keras.layers.Normalization(
            mean=x.mean(0), variance=x.var(0) + 1e-12, dtype="float32"
        )(inputs)
        if kind == "linear":  # the previous value only: y = b + w x
            z = keras.layers.Dense(1)(_last_value(z, n))
        elif kind == "lags":
            z = keras.layers.Dense(1)(z)
        elif kind == "piecewise":
            units = hp.Int("units", 2, 256, sampling="log", default=16)
            z = recipe_layers.PiecewiseLinear(units)(z)
        else:
            depth = hp.Int("depth", 1, 4, default=2)
            units = hp.Int("units", 2, 256, sampling="log", default=32)
            for _ in range(depth):
                z = keras.layers.Dense(units, activation="relu")(z)
            z = keras.layers.Dense(1)(z)
        # Back to the target's own units: z * std + mean.
        scale = float(target.std()) or 1.0
        z = keras.layers.Activation("linear", dtype="float32")(z)  # float32 from here on
        outputs = keras.layers.Rescaling(scale, offset=float(target.mean()), dtype="float32")(z)
        if relative:  # the change plus the last value: the next value
            outputs = keras.layers.Add(name="plus_last_value", dtype="float32")(
                [outputs, _last_value(inputs, n, dtype="float32")]
            )
        return keras.Model(inputs, outputs, name=f"{self.name}_{kind}")

    def compare(self, models=MODELS, verbose=True, **train_kwargs):
        """Trains each model of the progression; returns and prints a loss table.

        Returns:
            A list of dicts: model, train loss, validation loss, test loss (best epoch).
        """
        train_kwargs.setdefault("verbose", 0)
        train_kwargs.setdefault("diagnose", False)
        hp = dict(train_kwargs.pop("hp", None) or {})
        data = train_kwargs.pop("data", None) or self.load_data()
        rows = []
        for kind in models:
            result = self.train(data=data, hp=dict(hp, model=kind),
                                run_dir=f"runs/{self.name}-{kind}", **train_kwargs)
            best = int(np.argmin(result.history["val_loss"]))
            rows.append(
                dict(
                    model=kind,
                    train=result.history["loss"][best],
                    validation=result.history["val_loss"][best],
                    test=result.test_metrics["loss"],
                )
            )
        if verbose:
            loss = hp.get("loss", self.loss)
            columns = ["model", f"train {loss}", f"val {loss}", f"test {loss}"]
            print(format_table(columns, [list(r.values()) for r in rows]))
        return rows


def _last_value(z, n, dtype=None):
    """The first of `n` features (lag 1: the last value), as shape `(batch, 1)`."""
    z = keras.layers.Reshape((n, 1), dtype=dtype)(z)
    cropped = keras.layers.Cropping1D((0, n - 1), dtype=dtype)(z)
    return keras.layers.Flatten(dtype=dtype)(cropped)


recipe = Regression()
train, search, build_model, compare = (
    recipe.train, recipe.search, recipe.build_model, recipe.compare
)

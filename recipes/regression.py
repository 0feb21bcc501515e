"""regression: the lecture's progression from a line to a deep network, on a time series or a CSV.

    from recipes import regression
    result = regression.train(model="piecewise")
    regression.compare()   # linear -> lags -> piecewise -> deep, one table

The models, in the order the lecture builds them (Hung-yi Lee, ML 2021, lecture 1):
- `linear`: y = b + w x on the previous value only (lag 1).
- `lags`: y = b + sum_j w_j x_j over the previous 1, 7, 28 and 56 steps.
- `piecewise`: y = b + sum_i c_i hard_sigmoid(b_i + sum_j w_ij x_j)
  (`layers.PiecewiseLinear`): a constant plus a sum of hard sigmoids.
- `deep`: `depth` ReLU layers of `units` each.
The loss is MAE or MSE (`loss` tunable). Inputs are standardised and the output
rescaled inside the model, so it takes and returns values in the data's own units.

Data: by default the weekly Mauna Loa CO2 series shipped with statsmodels
(`recipes.data.demo_series`), windowed into next-step examples, split in time order
(train, then validation, then test). `csv=PATH, target=COLUMN` trains on a CSV instead.
"""

import keras
import numpy as np

import layers as recipe_layers
from recipes import data as recipe_data
from recipes.engine import Recipe, hyperparameters

MODELS = ("linear", "lags", "piecewise", "deep")
LAGS = (1, 7, 28, 56)


class Regression(Recipe):
    name = "regression"
    description = "Next-step forecasting: linear, lags, piecewise linear, deep ReLU"
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

    def __init__(self, csv=None, target=None, features=None, lags=LAGS):
        self.csv, self.target, self.features, self.lags = csv, target, features, lags

    def load_data(self, data_dir=None, limit=None, seed=42):
        """Time-ordered train / validation / test splits of (features, target)."""
        if self.csv is not None:
            x, y, _ = recipe_data.from_csv(self.csv, self.target, self.features)
        else:
            x, y = recipe_data.lag_features(recipe_data.demo_series(), self.lags)
        if limit is not None:
            x, y = x[:limit], y[:limit]
        return recipe_data.time_splits(x, y, self.defaults["validation_split"])

    def get_loss(self, hp):
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
        inputs = keras.Input(x.shape[1:], name="features")
        z = keras.layers.Normalization(mean=x.mean(0), variance=x.var(0) + 1e-12)(inputs)
        if kind == "linear":  # the previous value only: y = b + w x
            z = keras.layers.Reshape((x.shape[1], 1))(z)
            z = keras.layers.Flatten()(keras.layers.Cropping1D((0, x.shape[1] - 1))(z))
            z = keras.layers.Dense(1)(z)
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
        # Back to the target's own units: y = z * std + mean.
        outputs = keras.layers.Rescaling(float(y.std()), offset=float(y.mean()))(z)
        return keras.Model(inputs, outputs, name=f"{self.name}_{kind}")

    def compare(self, models=MODELS, verbose=True, **train_kwargs):
        """Trains each model of the progression; returns and prints a loss table.

        Returns:
            A list of dicts: model, train loss, validation loss, test loss (best epoch).
        """
        train_kwargs.setdefault("verbose", 0)
        train_kwargs.setdefault("diagnose", False)
        data = train_kwargs.pop("data", None) or self.load_data()
        rows = []
        for kind in models:
            result = self.train(data=data, model=kind, run_dir=f"runs/{self.name}-{kind}",
                                **train_kwargs)
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
            print(format_table(rows, loss=train_kwargs.get("loss", self.loss)))
        return rows


def format_table(rows, loss="mae"):
    """The lecture's table: training and validation loss per model."""
    lines = [f"{'model':<10} {'train ' + loss:>12} {'val ' + loss:>12} {'test ' + loss:>12}"]
    for r in rows:
        lines.append(
            f"{r['model']:<10} {r['train']:>12.4f} {r['validation']:>12.4f} {r['test']:>12.4f}"
        )
    return "\n".join(lines)


recipe = Regression()
train, search, build_model, compare = (
    recipe.train, recipe.search, recipe.build_model, recipe.compare
)

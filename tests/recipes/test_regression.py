"""The regression recipe: the lecture's four models on the CO2 series and on a CSV."""

import contextlib
import io
import os

import keras
import numpy as np
import pytest

import layers
from recipes import regression
from recipes.engine import hyperparameters


@pytest.fixture(scope="module")
def co2():
    return regression.recipe.load_data()


def test_splits_are_in_time_order(co2):
    x_train, _ = co2.arrays("train")
    x_val, _ = co2.arrays("validation")
    x_test, _ = co2.arrays("test")
    # CO2 rises: the lag-1 inputs of later splits start above the earlier splits' mean.
    assert x_train[:, 0].mean() < x_val[:, 0].mean() < x_test[:, 0].mean()
    assert x_train.shape[1] == len(regression.LAGS)


def test_each_model_is_the_lectures(co2):
    def build(kind):
        return regression.build_model(hyperparameters({"model": kind}), data=co2)

    linear = build("linear")  # y = b + w x: one weight and one bias
    dense = [l for l in linear.layers if isinstance(l, keras.layers.Dense)]
    assert [d.kernel.shape for d in dense] == [(1, 1)]
    assert linear.count_params() == 2
    assert build("lags").count_params() == len(regression.LAGS) + 1  # w_j and b
    assert any(isinstance(l, layers.PiecewiseLinear) for l in build("piecewise").layers)
    deep = [l for l in build("deep").layers if isinstance(l, keras.layers.Dense)]
    assert [d.activation.__name__ for d in deep] == ["relu", "relu", "linear"]


def test_linear_model_reads_only_the_previous_value(co2):
    model = regression.build_model(hyperparameters({"model": "linear"}), data=co2)
    x, _ = co2.arrays("test")
    changed = x.copy()
    changed[:, 1:] += 100.0  # the older lags must not matter
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(changed, verbose=0))


@pytest.fixture(scope="module")
def compared(co2, tmp_path_factory):
    """`regression.compare(epochs=30)`: its rows and the table it printed."""
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("compare"))
    try:
        with contextlib.redirect_stdout(out):
            rows = regression.compare(epochs=30, data=co2)
    finally:
        os.chdir(cwd)
    return rows, out.getvalue()


@pytest.mark.slow
def test_compare_prints_the_lectures_table(compared):
    rows, table = compared
    assert [r["model"] for r in rows] == list(regression.MODELS)
    assert "train mae" in table and "val mae" in table
    assert all(np.isfinite([r["train"], r["validation"], r["test"]]).all() for r in rows)


@pytest.mark.slow
def test_a_lag_model_beats_repeating_the_last_value(co2, tmp_path):
    result = regression.train(
        epochs=30, data=co2, hp={"model": "lags"}, run_dir=tmp_path, verbose=0,
        diagnose=False,
    )
    x_test, y_test = co2.arrays("test")
    # The persistence forecast: tomorrow as today (the first lag is the last value).
    persistence = np.abs(y_test - x_test[:, 0]).mean()
    assert result.test_metrics["mae"] < persistence


@pytest.mark.slow
def test_training_on_a_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + 1
    rows = "\n".join(f"{a:.5f},{b:.5f},{t:.5f}" for (a, b), t in zip(x, y))
    (tmp_path / "d.csv").write_text("a,b,target\n" + rows + "\n")
    result = regression.train(
        epochs=40, hp={"model": "lags"}, run_dir=tmp_path / "run", verbose=0,
        diagnose=False, csv=tmp_path / "d.csv", target="target",
    )
    assert result.test_metrics["mae"] < 0.1
    # A CSV's features are columns, not lags: no last value, no change to predict.
    assert "relative" not in result.hyperparameters
    assert not any(isinstance(l, keras.layers.Add) for l in result.model.layers)
    with pytest.raises(ValueError, match="target"):
        regression.recipe.load_data(csv=tmp_path / "d.csv", target="price")
    with pytest.raises(ValueError, match="csv needs target"):
        regression.train(csv=tmp_path / "d.csv", verbose=0)


def test_series_models_predict_the_change_from_the_last_value(co2, tmp_path):
    x_train, y_train = co2.arrays("train")
    x, _ = co2.arrays("test")
    hp = hyperparameters({"model": "lags"})
    model = regression.build_model(hp, data=co2)
    assert hp.get("relative") is True  # the default on a series
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):  # the formula's w and b at 0
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    # Then the model predicts the last value plus the mean change seen in training,
    # in ppm, from the raw lags.
    drift = (y_train - x_train[:, 0]).mean()
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], x[:, 0] + drift, rtol=1e-6)
    path = tmp_path / "lags.keras"
    model.save(path)
    np.testing.assert_allclose(
        keras.saving.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)
    )
    # relative=False models the level itself: no last value added back.
    level = regression.build_model(hyperparameters({"model": "lags", "relative": False}), data=co2)
    assert not any(isinstance(l, keras.layers.Add) for l in level.layers)
    assert any(isinstance(l, keras.layers.Add) for l in model.layers)


@pytest.mark.slow
def test_no_model_is_more_than_twice_as_bad_as_the_line(compared):
    # Predicting the level, the sum of hard sigmoids saturated above the training
    # range and reached 25 times the linear model's test MAE; predicting the change,
    # every model of the progression extrapolates.
    rows = {r["model"]: r for r in compared[0]}
    linear = rows["linear"]["test"]
    for kind, row in rows.items():
        assert row["test"] <= 2 * linear, (kind, row["test"], linear)

"""The tabular recipe's model: its ensemble, its losses, its log target and its schedule,
checked against numpy; served predictions against the model's own; and (slow) that it
learns a nonlinear rule a linear model cannot."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import layers
import recipes
from recipes import data, tabular
from recipes.tabular import SmoothedSparseCrossentropy, StandardizedSquaredError


def table(n=400, seed=0, classes=False):
    """Two numbers, a text column and a gap; the target follows a nonlinear rule."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    town = rng.choice(["Alton", "Brent", "Corby"], n)
    signal = np.sin(2 * a) * b + (town == "Alton") * np.abs(a)
    frame = pd.DataFrame(dict(a=a, b=b, town=town))
    frame.loc[::9, "b"] = np.nan
    if classes:
        frame["y"] = np.where(signal > np.median(signal), "high", "low")
    else:  # positive and skewed
        frame["y"] = np.exp(signal + rng.normal(0, 0.1, n)).round(4)
    return frame


def raw(frame):
    return {k: tf.constant(frame[k].to_numpy("float32") if k != "town"
                           else frame[k].to_numpy(str)) for k in ("a", "b", "town")}


@pytest.mark.parametrize("classes", [True, False])
def test_the_ensemble_heads_differ_and_the_model_averages_them(classes):
    frame = table(classes=classes)
    splits = data.load_table(frame=frame, target="y")
    hp = {"members": 4, "target_scale": "standard"}
    model = tabular.build_model(hp, data=splits)
    heads = next(layer for layer in model.layers if isinstance(layer, layers.EnsembleDense))
    members = keras.Model(model.inputs, heads.output)(raw(frame)).numpy()
    out = model(raw(frame)).numpy()
    assert members.shape[1] == 4
    assert np.abs(members[:, 0] - members[:, 1]).max() > 1e-3  # the heads differ
    mean = members.mean(axis=1)
    if classes:
        np.testing.assert_allclose(members.sum(-1), 1.0, rtol=1e-5)  # each a softmax
        np.testing.assert_allclose(out, mean, rtol=1e-5, atol=1e-6)
    else:
        y = splits.train.map(lambda x, y: y).batch(1000).get_single_element().numpy()
        np.testing.assert_allclose(out, mean * y.std() + y.mean(), rtol=1e-4, atol=1e-4)


def test_smoothed_crossentropy_against_numpy():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    y = np.array([0, 1])
    smooth = np.full((2, 3), 0.1 / 3) + 0.9 * np.eye(3)[y]
    expected = -(smooth * np.log(p)).sum(1).mean()
    got = SmoothedSparseCrossentropy(0.1)(y, p)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_the_standardized_squared_error_on_the_log_scale_against_numpy():
    y = np.array([1.0, 10.0, 100.0], "float32")
    p = np.array([[2.0], [10.0], [50.0]], "float32")
    expected = np.mean(((np.log(y) - np.log(p[:, 0])) / 1.5) ** 2)
    np.testing.assert_allclose(float(StandardizedSquaredError(1.5, log=True)(y, p)), expected,
                               rtol=1e-5)
    plain = np.mean(((y - p[:, 0]) / 2.0) ** 2)
    np.testing.assert_allclose(float(StandardizedSquaredError(2.0)(y, p)), plain, rtol=1e-5)


def test_a_skewed_positive_target_is_learned_on_the_log_scale():
    skewed = data.load_table(frame=table(), target="y")
    log, std, mean = tabular.recipe.target_transform(skewed, recipes.engine.hyperparameters())
    y = skewed.train.map(lambda x, y: y).batch(1000).get_single_element().numpy()
    assert log
    np.testing.assert_allclose([std, mean], [np.log(y).std(), np.log(y).mean()], rtol=1e-4)
    signed = table().assign(y=lambda f: np.log(f.y))
    splits = data.load_table(frame=signed, target="y")
    assert not tabular.recipe.target_transform(splits, recipes.engine.hyperparameters())[0]
    with pytest.raises(ValueError, match="Received: target_scale='log'"):
        tabular.build_model({"target_scale": "log"}, data=splits)


def test_the_run_settings_say_which_target_scale_the_run_uses():
    skewed = data.load_table(frame=table(), target="y")
    settings = tabular.recipe.settings()
    chosen = tabular.recipe.data_settings(settings, skewed, set())
    assert chosen["target_scale"] == "log"  # "auto" on a skewed positive target
    # What --auto does with a step's settings: taken back as the run's settings.
    assert tabular.recipe.settings(**chosen) == chosen
    given = tabular.recipe.hyperparameters({"target_scale": "standard"})
    assert tabular.recipe.data_settings(settings, skewed, set(), given)["target_scale"] == (
        "standard")


def test_the_rate_stays_flat_then_anneals_to_zero():
    splits = data.load_table(frame=table(classes=True), target="y")
    model = tabular.build_model(data=splits)
    hp = recipes.engine.hyperparameters({"learning_rate": 0.01, "weight_decay": 0.01})
    tabular.recipe.compile(model, hp, steps_per_epoch=10, epochs=10)
    optimizer = model.optimizer
    schedule = optimizer._learning_rate  # the schedule (`learning_rate` is its value now)
    rates = [float(schedule(step)) for step in (0, 49, 50, 75, 100)]
    np.testing.assert_allclose(rates[:3], 0.01, rtol=1e-5)
    np.testing.assert_allclose(rates[3], 0.005, rtol=1e-3)
    assert rates[4] < 1e-6
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("classes, hp", [(True, {"label_smoothing": 0.1}),
                                         (False, {"target_scale": "log"})])
def test_a_served_prediction_equals_the_models(tmp_path, classes, hp):
    frame = table(300, classes=classes)
    result = tabular.train(epochs=2, frame=frame, target="y", hp=hp, run_dir=tmp_path / "run",
                           verbose=0, diagnose=False)
    rows = frame.drop(columns="y").head(20)
    served = recipes.load(result.export(tmp_path / "model")).predict(rows)
    own = result.model(raw(rows), training=False).numpy()
    if classes:
        names = result.model.output_shape[-1]
        assert names == 2
        got = served[["probability_high", "probability_low"]].to_numpy()
        np.testing.assert_allclose(got, own, rtol=1e-4, atol=1e-5)
    else:
        np.testing.assert_allclose(served["prediction"], own[:, 0], rtol=1e-4)
        assert (own > 0).all()  # exp of the log scale: on the target's own scale


@pytest.mark.slow
def test_the_recipe_beats_a_linear_model_on_a_nonlinear_rule(tmp_path):
    from sklearn.linear_model import LogisticRegression

    frame = table(1500, seed=1, classes=True).fillna({"b": 0.0})
    splits = data.load_table(frame=frame, target="y")
    result = tabular.train(data=splits, run_dir=tmp_path / "run", verbose=0, diagnose=False,
                           epochs=12)

    def xy(split):
        x, y = getattr(splits, split).batch(10_000).get_single_element()
        town = x["town"].numpy().astype(str)
        columns = [x["a"].numpy(), x["b"].numpy(), *[(town == t) for t in ("Alton", "Brent")]]
        return np.stack(columns, 1).astype(float), y.numpy()

    linear = LogisticRegression().fit(*xy("train")).score(*xy("test"))
    assert result.test_metrics["accuracy"] > linear + 0.1


@pytest.mark.slow
def test_auto_runs_on_a_regression_table(tmp_path):
    # A step's settings (with the target scale the run chose) go back into the recipe.
    result = tabular.train(frame=table(200), target="y", epochs=3, auto=15,
                           run_dir=tmp_path / "run", verbose=0, diagnose=False)
    steps = result.auto["steps"]
    assert len(steps) >= 2 and steps[0]["move"] == "defaults"
    assert result.settings["target_scale"] == "log"


def test_a_warm_up_comes_before_the_flat_rate():
    splits = data.load_table(frame=table(classes=True), target="y")
    model = tabular.build_model(data=splits)
    hp = recipes.engine.hyperparameters({"learning_rate": 0.01})
    tabular.recipe.compile(model, hp, steps_per_epoch=10, epochs=12, warmup_epochs=2)
    schedule = model.optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 10, 20, 69, 70, 95, 120)]
    # 20 warm-up steps to the peak, then half of the 100 left flat, then a cosine to 0.
    np.testing.assert_allclose(rates[:5], [0.0, 0.005, 0.01, 0.01, 0.01], rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(rates[5], 0.005, rtol=1e-3)
    assert rates[6] < 1e-6
    assert type(model.optimizer) is keras.optimizers.Adam  # no weight decay by default

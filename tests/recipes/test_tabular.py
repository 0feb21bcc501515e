"""The tabular recipe's model: its ensemble, its losses, its log target and its schedule,
checked against numpy; how `"auto"` chooses a target's scale on validation (with the
engine's training replaced by a record of its calls); served predictions against the
model's own; and (slow) that it learns a nonlinear rule a linear model cannot and keeps
the target scale that does better on validation."""

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


def lognormal(n=500, seed=0):
    """A positive target, log-normal around a nonlinear rule: log(y) suits it."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    town = rng.choice(["Alton", "Brent", "Corby"], n)
    signal = np.sin(2 * a) * b + (town == "Alton") * np.abs(a)
    return pd.DataFrame(dict(a=a, b=b, town=town, y=np.exp(signal + rng.normal(0, 0.8, n))))


def additive(n=500, seed=0):
    """A positive, skewed target whose noise is symmetric in y (some rows near 0): its
    median is its mean, which the standardized target learns; log(y) learns the
    geometric mean, far below it."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, n), rng.uniform(-2, 2, n)
    town = rng.choice(["Alton", "Brent", "Corby"], n)
    level = np.exp(a) + (town == "Alton") * 0.5
    noise = rng.choice([-0.95, 0.0, 0.95], n, p=[0.3, 0.4, 0.3])
    return pd.DataFrame(dict(a=a, b=b, town=town, y=level * (1 + noise)))


def test_auto_chooses_on_validation_only_for_a_positive_skewed_target():
    hp = recipes.engine.hyperparameters
    skewed = data.load_table(frame=lognormal(), target="y")
    assert tabular.recipe.chooses_scale(skewed, hp())
    assert tabular.recipe.chooses_scale(skewed, hp({"target_scale": "auto"}))
    for given in ("standard", "log"):  # an explicit scale trains one model
        assert not tabular.recipe.chooses_scale(skewed, hp({"target_scale": given}))
    signed = data.load_table(frame=lognormal().assign(y=lambda f: np.log(f.y)), target="y")
    flat = data.load_table(frame=lognormal().assign(y=lambda f: 10 + np.log(f.y)), target="y")
    classes = data.load_table(frame=table(classes=True), target="y")
    for splits in (signed, flat, classes):
        assert not tabular.recipe.chooses_scale(splits, hp())


def test_the_run_settings_say_which_target_scale_the_run_uses():
    skewed = data.load_table(frame=table(), target="y")
    settings = tabular.recipe.settings()
    chosen = tabular.recipe.data_settings(settings, skewed, set())
    assert chosen["target_scale"] == "auto"  # the run chooses (see run_once)
    # What --auto does with a step's settings: taken back as the run's settings.
    assert tabular.recipe.settings(**chosen) == chosen
    given = tabular.recipe.hyperparameters({"target_scale": "standard"})
    assert tabular.recipe.data_settings(settings, skewed, set(), given)["target_scale"] == (
        "standard")
    signed = data.load_table(frame=table().assign(y=lambda f: np.log(f.y)), target="y")
    assert tabular.recipe.data_settings(settings, signed, set())["target_scale"] == "standard"


class _Model:
    """What `Tabular.run_once` asks of a trained model: its test evaluation."""

    def __init__(self, scale):
        self.scale, self.evaluated = scale, 0

    def evaluate(self, dataset, return_dict=True, verbose=0):
        self.evaluated += 1
        return {"loss": 0.5, "mae": 7.0}


@pytest.fixture
def fake_runs(monkeypatch):
    """Replaces the engine's one training with a record of its calls: the model of
    `target_scale` "log" scores `fake_runs.mae["log"]` on validation at its kept epoch
    (epoch 2 of 3), and so on."""
    from recipes.engine import run

    class Runs:
        mae = {"standard": 5.0, "log": 4.0}
        calls = []

    def run_once(recipe, hp, data, settings, strategy, run_dir, callbacks, verbose, seed,
                 given=None, evaluate=True, **options):
        scale = hp.values.get("target_scale", "auto")
        Runs.calls.append(dict(scale=scale, evaluate=evaluate, run_dir=run_dir))
        mae = Runs.mae.get(scale, 3.0)
        return recipes.engine.Result(
            recipe="tabular", model=_Model(scale), kept_epoch=2,
            history={"val_mae": [mae + 1, mae, mae + 2]},
            test_metrics={"mae": 9.0} if evaluate else {},
            timings=dict(fit_seconds=10.0 if scale == "log" else 20.0, epoch_seconds=[1.0, 2.0]),
            settings=dict(settings, global_batch_size=64),
            hyperparameters=dict(hp.values, target_scale=scale))

    monkeypatch.setattr(run, "run_once", run_once)
    return Runs


@pytest.mark.parametrize("mae, kept", [({"standard": 5.0, "log": 4.0}, "log"),
                                       ({"standard": 1.5, "log": 1500.0}, "standard"),
                                       ({"standard": 2.0, "log": 2.0}, "standard")])
def test_auto_trains_both_scales_and_keeps_the_lower_validation_mae(tmp_path, fake_runs, mae,
                                                                    kept):
    fake_runs.mae = mae
    splits = data.load_table(frame=lognormal(), target="y")
    hp = tabular.recipe.hyperparameters({"keep_linear": False})
    settings = tabular.recipe.data_settings(tabular.recipe.settings(), splits, set(), hp)
    result = tabular.recipe.run_once(hp, splits, settings, None, tmp_path, seed=3)
    assert [(c["scale"], c["evaluate"]) for c in fake_runs.calls] == [
        ("standard", False), ("log", False)]  # neither touches the test split
    assert {c["run_dir"] for c in fake_runs.calls} == {
        tmp_path / "target-standard", tmp_path / "target-log"}
    assert result.model.scale == kept and result.model.evaluated == 1  # the kept one, once
    assert result.test_metrics == {"loss": 0.5, "mae": 7.0}
    assert hp.values["target_scale"] == kept  # the run's hyperparameters build the kept one
    assert result.settings["target_scale"] == kept
    assert result.settings["target_scale_validation_mae"] == mae
    assert result.timings["fit_seconds"] == 30.0  # both trainings count
    assert len(result.timings["epoch_seconds"]) == 4
    other = "log" if kept == "standard" else "standard"
    named = {"log": "log(y)", "standard": "standardized"}
    figure = {1.5: "1.5", 1500.0: "1,500", 2.0: "2", 4.0: "4", 5.0: "5"}
    assert result.notes == [
        f"target 'y': {named[kept]} chosen on validation (MAE {figure[mae[kept]]} vs "
        f"{figure[mae[other]]} {named[other]})"]


@pytest.mark.parametrize("given", ["standard", "log"])
def test_an_explicit_target_scale_trains_one_model(tmp_path, fake_runs, given):
    splits = data.load_table(frame=lognormal(), target="y")
    hp = tabular.recipe.hyperparameters({"target_scale": given, "keep_linear": False})
    result = tabular.recipe.run_once(hp, splits, tabular.recipe.settings(), None, tmp_path)
    assert [c["scale"] for c in fake_runs.calls] == [given]
    assert result.settings["target_scale"] == given
    assert "target_scale_validation_mae" not in result.settings and result.notes == []


def test_an_unskewed_target_trains_one_standardized_model_and_says_why(tmp_path, fake_runs):
    flat = data.load_table(frame=lognormal().assign(y=lambda f: 10 + np.log(f.y)), target="y")
    hp = tabular.recipe.hyperparameters({"keep_linear": False})
    result = tabular.recipe.run_once(hp, flat, tabular.recipe.settings(), None, tmp_path)
    assert [c["scale"] for c in fake_runs.calls] == ["auto"]
    assert result.settings["target_scale"] == "standard"
    assert len(result.notes) == 1 and result.notes[0].startswith("target 'y': standardized (skewness")


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
                                         (False, {"target_scale": "log", "scaled": True})])
def test_a_served_prediction_equals_the_models(tmp_path, classes, hp):
    frame = table(300, classes=classes)
    result = tabular.train(epochs=2, frame=frame, target="y", hp=hp, run_dir=tmp_path / "run",
                           verbose=0, diagnose=False)
    # The linear model was weighed (whatever was kept: the export serves the model held).
    assert result.settings["kept_linear"] in (True, False)
    assert result.timings["keep_linear_seconds"] > 0
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
    # A step's settings go back into the recipe; the first step chooses the target's
    # scale on validation, and the later steps build the one it kept.
    result = tabular.train(frame=table(200), target="y", epochs=3, auto=15,
                           run_dir=tmp_path / "run", verbose=0, diagnose=False)
    steps = result.auto["steps"]
    assert len(steps) >= 2 and steps[0]["move"] == "defaults"
    kept = steps[0]["hyperparameters"]["target_scale"]
    assert kept in ("standard", "log")
    assert {s["hyperparameters"]["target_scale"] for s in steps} == {kept}
    assert result.settings["target_scale"] == kept
    assert sum("chosen on validation" in n for n in result.settings["data_notes"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("make, kept", [(lognormal, "log"), (additive, "standard")])
def test_auto_keeps_the_target_scale_that_does_better_on_validation(tmp_path, make, kept):
    frame = make()
    result = tabular.train(frame=frame, target="y", epochs=4, run_dir=tmp_path / "run",
                           verbose=0, diagnose=False)
    mae = result.settings["target_scale_validation_mae"]
    assert result.settings["target_scale"] == kept and mae[kept] < min(mae.values()) + 1e-9
    assert result.hyperparameters["target_scale"] == kept
    note = next(n for n in result.settings["data_notes"] if "chosen on validation" in n)
    assert note.startswith(f"target 'y': {'log(y)' if kept == 'log' else 'standardized'} chosen")
    page = (tmp_path / "run" / "report.html").read_text()
    assert "chosen on validation" in page and "target_scale_validation_mae" in page
    # Served on the original scale, by the kept model, with no rule of the server's.
    rows = frame.drop(columns="y").head(20)
    served = recipes.load(tmp_path / "run").predict(rows)
    own = result.model(raw(rows), training=False).numpy()[:, 0]
    np.testing.assert_allclose(served["prediction"], own, rtol=1e-4)
    if kept == "log":
        assert (own > 0).all()
        assert not (tmp_path / "run" / "target-log").exists()  # no empty folders left


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


def test_the_training_targets_are_read_once_per_split():
    from recipes.engine.tasks import train_targets

    reads = []

    def counted(x, y):
        tf.py_function(lambda: reads.append(1) or 0, [], tf.int64)
        return x, y

    x = {"a": np.arange(10.0), "b": np.array(list("xyzxyzxyzx"))}
    splits = data.Splits("t", tf.data.Dataset.from_tensor_slices((x, np.arange(10.0) ** 2)).map(counted),
                         None, None, input_shape=())
    first = train_targets(splits)
    np.testing.assert_array_equal(first, np.arange(10.0) ** 2)
    assert train_targets(splits) is first and len(reads) == 10
    assert not first.flags.writeable


def test_small_tables_get_fewer_bins_by_default():
    def edges(rows, hp=None):
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"a": rng.normal(size=rows), "y": rng.normal(size=rows)})
        splits = data.load_table(frame=frame, target="y")
        model = tabular.recipe.build_model(hp, data=splits)
        encoding = next(la for la in model.layers if isinstance(la, layers.PiecewiseLinearEncoding))
        return len(np.asarray(encoding.edges)) - 1

    assert edges(1999) == 8 and edges(2000) == 16
    assert edges(500, {"bins": 16}) == 16


def test_scaled_adds_each_numbers_robust_scale_beside_its_bins():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.lognormal(size=300), "b": rng.normal(size=300),
                          "rooms": rng.integers(1, 4, 300), "y": rng.normal(size=300)})
    splits = data.load_table(frame=frame, target="y")
    assert splits.columns == {"a": "number", "b": "number", "rooms": "integer_category"}

    found = [la for la in tabular.recipe.build_model({"scaled": True}, data=splits).layers
             if isinstance(la, layers.RobustScale)]
    assert sorted((la.center, la.scale) for la in found) == sorted(
        splits.robust_scale(name) for name in ("a", "b"))  # numbers only, not integer ones
    assert not [la for la in tabular.recipe.build_model({"scaled": False}, data=splits).layers
                if isinstance(la, layers.RobustScale)]


def test_atoms_flag_a_number_that_is_often_exactly_zero_and_a_linear_model_splits_on_it():
    # Hours worked: 0 on half the rows, else from 0.01 up; the class is whether one works.
    rng = np.random.default_rng(0)
    hours = np.where(rng.random(600) < 0.5, 0.0, rng.exponential(500, 600) + 0.01)
    frame = pd.DataFrame({"hours": hours, "age": rng.uniform(20, 60, 600),
                          "y": np.where(hours > 0, "works", "not")})
    splits = data.load_table(frame=frame, target="y")
    assert splits.atoms("hours", 8) == [0.0] and splits.atoms("age", 8) == []

    def linear_errors(hp):
        model = tabular.recipe.build_model(hp, data=splits)
        encodings = [la for la in model.layers
                     if isinstance(la, layers.PiecewiseLinearEncoding)]
        tabular.recipe.set_linear(model, splits, recipes.engine.hyperparameters(hp))
        x = {k: tf.constant(frame[k].to_numpy("float32")) for k in ("hours", "age")}
        predicted = model(x, training=False).numpy().argmax(-1)
        names = splits.class_names
        expected = np.where(hours > 0, names.index("works"), names.index("not"))
        return encodings, predicted != expected

    encodings, wrong = linear_errors({"members": 1, "atoms": True})
    assert sorted(la.atoms for la in encodings) == [[], [0.0]]
    assert not wrong.any()
    plain_encodings, wrong = linear_errors({"members": 1})  # off by default
    assert all(la.atoms == [] for la in plain_encodings)
    # Without the flag, a few hours are a small part of the first bin's component, as good
    # as 0 to a regularised fit: the rows it gets wrong are those.
    smallest = np.sort(hours[hours > 0])[:wrong.sum()]
    assert wrong.sum() >= 5 and np.array_equal(np.sort(hours[wrong]), smallest)
    assert smallest[-1] < splits.edges("hours", 8)[1] / 2


@pytest.mark.parametrize("kind, members, rows", [
    ("regression", 4, None), ("two classes", 4, None), ("three classes", 4, None),
    ("three classes", 1, None), ("regression", 4, 100),  # 100: a seeded sample of rows
    ("two classes", 4, "cells")])  # as many rows as 90 of its encoded rows hold values
def test_set_linear_makes_the_model_a_linear_model_of_its_encoded_training_rows(
        monkeypatch, kind, members, rows):
    from sklearn.linear_model import LogisticRegression, Ridge

    frame = table(300, classes=kind != "regression")
    if kind == "three classes":
        frame["y"] = pd.cut(frame["a"] + frame["b"].fillna(0), 3, labels=["lo", "mid", "hi"])
        frame["y"] = frame["y"].astype(str)
    splits = data.load_table(frame=frame, target="y")
    hp = recipes.engine.hyperparameters({"members": members})
    model = tabular.recipe.build_model(hp, data=splits)
    before = model(raw(frame), training=False).numpy()
    if rows == "cells":
        rows = 90
        width = model.get_layer("encoded").output.shape[-1]
        monkeypatch.setattr(tabular.recipe, "linear_cells", width * rows + width - 1)
    elif rows:
        monkeypatch.setattr(tabular.recipe, "linear_rows", rows)
    tabular.recipe.set_linear(model, splits, hp)
    encode = keras.Model(model.inputs, model.get_layer("encoded").output)
    x, y = splits.train.batch(1000).get_single_element()
    x, y = encode(x).numpy().astype("float64"), y.numpy()
    if rows:
        chosen = np.zeros(len(y), bool)
        chosen[np.random.default_rng(0).choice(len(y), rows, replace=False)] = True
        x, y = x[chosen], y[chosen]
    every = encode(raw(frame)).numpy()
    out = model(raw(frame), training=False).numpy()
    if kind == "regression":
        log, std, mean = tabular.recipe.target_transform(splits, hp)
        assert log  # the table's target is positive and skewed
        z = (np.log(y) - mean) / std
        expected = np.exp(Ridge(alpha=1.0).fit(x, z).predict(every) * std + mean)
        np.testing.assert_allclose(out[:, 0], expected, rtol=1e-4)
    else:
        expected = LogisticRegression(max_iter=1000).fit(x, y).predict_proba(every)
        assert expected.shape[1] == (2 if kind == "two classes" else 3)
        np.testing.assert_allclose(out, expected, atol=1e-4)
    assert np.abs(before - out).max() > 1e-2  # it was not that model before


@pytest.mark.parametrize("trained_loss, trained_accuracy, kept", [
    (1e9, 0.0, True), (1e-9, 1.0, False),
    (1e9, 1.0, False),  # a lower loss is not enough: the accuracy must be higher too
    (np.nan, np.nan, True)])  # a trained model that diverged
def test_the_linear_model_is_kept_only_where_it_does_better_on_validation(
        trained_loss, trained_accuracy, kept):
    from sklearn.linear_model import LogisticRegression

    frame = table(300, classes=True)
    splits = data.load_table(frame=frame, target="y")
    hp = recipes.engine.hyperparameters({"members": 4})
    model = tabular.recipe.build_model(hp, data=splits)
    tabular.recipe.compile(model, hp)
    before = model(raw(frame), training=False).numpy()
    result = recipes.engine.Result(
        recipe="tabular", model=model, kept_epoch=2,
        history={"val_loss": [trained_loss * 2, trained_loss, trained_loss * 3],
                 "val_accuracy": [0.5, trained_accuracy, 0.5]},
        test_metrics={}, settings={"global_batch_size": 64},
        hyperparameters=dict(hp.values))
    tabular.recipe.keep_linear(result, splits, hp)

    # The linear model's validation figures, from scikit-learn's fit and numpy.
    encode = keras.Model(model.inputs, model.get_layer("encoded").output)
    x, y = splits.train.batch(1000).get_single_element()
    fitted = LogisticRegression(max_iter=1000).fit(encode(x).numpy().astype("float64"), y)
    x, y = splits.validation.batch(1000).get_single_element()
    p = fitted.predict_proba(encode(x).numpy().astype("float64"))
    loss = -np.log(p[np.arange(len(p)), y.numpy()]).mean()
    accuracy = (p.argmax(-1) == y.numpy()).mean()
    assert result.settings["linear_validation"] == {
        "loss": pytest.approx(loss, rel=1e-4), "accuracy": pytest.approx(accuracy)}
    assert result.settings["kept_linear"] is kept
    out = model(raw(frame), training=False).numpy()
    if kept:
        np.testing.assert_allclose(out, fitted.predict_proba(encode(raw(frame)).numpy()),
                                   atol=1e-4)
        assert result.notes == [
            f"a linear model of the encoded columns kept: validation loss {loss:.4g} and "
            f"accuracy {accuracy:.4g} against {trained_loss:.4g} and "
            f"{trained_accuracy:.4g} for the trained model"]
        # Its training figures too, which the diagnosis reads in place of epoch 2's.
        x, y = splits.train.batch(1000).get_single_element()
        p = fitted.predict_proba(encode(x).numpy().astype("float64"))
        train_loss = -np.log(p[np.arange(len(p)), y.numpy()]).mean()
        train_accuracy = (p.argmax(-1) == y.numpy()).mean()
        assert result.settings["held_figures"] == {
            "loss": pytest.approx(train_loss, rel=1e-4),
            "accuracy": pytest.approx(train_accuracy),
            "val_loss": pytest.approx(loss, rel=1e-4), "val_accuracy": pytest.approx(accuracy)}
        result.history.update(loss=[9.0, 9.0, 9.0], accuracy=[0.1, 0.1, 0.1])
        diagnosis = result.diagnose()
        assert diagnosis.evidence["train_error"] == pytest.approx(1 - train_accuracy)
        assert diagnosis.evidence["val_error"] == pytest.approx(1 - accuracy)
        assert diagnosis.evidence["epoch"] == 2
        assert diagnosis.reason.endswith(
            f"The model held is {result.settings['held_model']}, in place of epoch 2's "
            "weights: these are its figures.")
    else:
        np.testing.assert_array_equal(out, before)  # the trained weights are back
        assert result.notes == [] and "held_figures" not in result.settings

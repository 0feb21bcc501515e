"""`train(auto=...)`: each diagnosis made for real on tiny data, the move the loop takes
for it, the choice on validation, the budget and resumption."""

import importlib
import json
import statistics

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from helpers import TinyRecipe
from recipes.data import Splits
from recipes.engine import Recipe, hyperparameters
from recipes.engine.auto import AutoLoop, parse_budget, score
from recipes.engine.auto import loop as loop_module
from recipes.engine.auto import moves as moves_module

fit_module = importlib.import_module("recipes.engine.fit")  # the package exports `fit`


class Ticks(keras.callbacks.Callback):
    """The fake clock of `fake_time`: each training step of a model lasts
    `SECONDS_PER_WEIGHT` times its number of weights (Toy's defaults: about 1 s an epoch),
    so a budget counts steps, not this machine's speed."""

    SECONDS_PER_WEIGHT = 1 / 228
    now = 0.0

    def on_train_batch_end(self, batch, logs=None):
        Ticks.now += Ticks.SECONDS_PER_WEIGHT * self.model.count_params()


@pytest.fixture
def fake_time(monkeypatch):
    """The loop's and the fit loop's clocks read `Ticks.now`, which passes only while a
    model trains with a `Ticks()` callback; a probe's seconds per step are the model's
    weights times `Ticks.SECONDS_PER_WEIGHT`."""
    Ticks.now = 0.0
    monkeypatch.setattr(loop_module, "clock", lambda: Ticks.now)
    monkeypatch.setattr(fit_module, "clock", lambda: Ticks.now)

    def step_seconds(self, step):
        hp = keras_tuner.HyperParameters()
        hp.values.update(step["hyperparameters"])
        return Ticks.SECONDS_PER_WEIGHT * self.recipe.build_model(hp, data=self.data).count_params()

    monkeypatch.setattr(AutoLoop, "step_seconds", step_seconds)
    return Ticks


def splits(train, val, test, num_classes=2):
    def ds(xy):
        return tf.data.Dataset.from_tensor_slices((xy[0].astype("float32"), xy[1]))

    return Splits(
        "toy", ds(train), ds(val), ds(test), input_shape=train[0].shape[1:],
        num_classes=num_classes, train_size=len(train[1]), validation_size=len(val[1]),
        test_size=len(test[1]),
    )


def rings(n, rng):
    """Two concentric rings in 2-D: a model of two ReLU units cannot separate them."""
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + 1.5 * y + rng.normal(0, 0.15, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1), y


def noisy(n, rng, dims=40):
    """Two classes told apart by one feature of `dims`; the rest is noise to memorise."""
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (n, dims))
    x[:, 0] += 1.2 * (2 * y - 1)
    return x, y


class Toy(Recipe):
    """A dense network on given splits: `depth` layers of `units` (2-64), dropout, L2."""

    name = "toy"
    description = "test recipe"
    defaults = dict(Recipe.defaults, epochs=20, batch_size=32, learning_rate=1e-2,
                    warmup_epochs=0, patience=40)

    def __init__(self, data, units=2, depth=1, **defaults):
        self.data, self.units, self.depth = data, units, depth
        self.defaults = dict(Toy.defaults, **defaults)

    def load_data(self, data_dir=None, limit=None, seed=42):
        return self.data

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        units = hp.Int("units", 2, 64, sampling="log", default=self.units)
        depth = hp.Int("depth", 1, 3, default=self.depth)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.05, default=0.0)
        l2 = hp.Choice("l2", [0.0, 1e-4, 1e-3, 1e-2], default=0.0)
        x = inputs = keras.Input(self.data.input_shape)
        for _ in range(depth):
            x = keras.layers.Dense(units, activation="relu",
                                   kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)(x)
            x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(2, activation="softmax")(x)
        return keras.Model(inputs, outputs)


def ring_data(seed=0):
    rng = np.random.default_rng(seed)
    return splits(rings(600, rng), rings(300, rng), rings(300, rng))


def assert_chosen_is_best(result):
    steps = result.auto["steps"]
    best = min(steps, key=score)
    assert result.auto["chosen"] == best["step"]
    assert result.hyperparameters["units"] == best["hyperparameters"]["units"]


@pytest.mark.slow
def test_a_model_too_small_is_first_compared_with_a_deeper_one(tmp_path, fake_time):
    recipe = Toy(ring_data())
    # 100 s on the fake clock: the defaults (20 s), one layer deeper (30 s), then what
    # the comparison says.
    result = recipe.train(auto=100, run_dir=tmp_path, verbose=0, diagnose=False,
                          callbacks=[Ticks()])
    steps = result.auto["steps"]
    assert steps[0]["train_error"] > 0.1  # two units cannot fit two rings
    assert steps[1]["diagnosis"].startswith("high training loss")
    assert steps[1]["move"] == "deeper" and steps[1]["hyperparameters"]["depth"] == 2
    # The deeper model fits the training data better: the comparison says model bias,
    # and capacity (or time) comes next.
    assert steps[2]["diagnosis"].startswith("model bias")
    assert steps[2]["move"] in ("longer", "wider", "deeper")
    assert_chosen_is_best(result)
    assert score(steps[result.auto["chosen"]]) < score(steps[0])
    assert set(result.test_metrics) == {"loss", "accuracy"}  # evaluated once, at the end
    saved = json.loads((tmp_path / "auto.json").read_text())
    assert [s["step"] for s in saved["steps"]] == list(range(len(steps)))
    assert (tmp_path / "auto.png").stat().st_size > 0


@pytest.mark.slow
def test_a_move_that_changes_the_model_is_estimated_from_a_timed_probe(tmp_path, monkeypatch,
                                                                      fake_time):
    timed = []
    real = AutoLoop.step_seconds

    def spy(self, step):
        seconds = real(self, step)
        timed.append((step["hyperparameters"]["depth"], seconds))
        return seconds

    monkeypatch.setattr(AutoLoop, "step_seconds", spy)
    recipe = Toy(ring_data())
    recipe.train(auto=60, run_dir=tmp_path, verbose=0, diagnose=False, callbacks=[Ticks()])
    saved = json.loads((tmp_path / "auto.json").read_text())
    parent, deeper = saved["steps"][:2]
    assert deeper["move"] == "deeper"
    # The parent's model and the deeper one, each timed once, on the real models.
    assert [depth for depth, _ in timed[:2]] == [1, 2]
    probe = deeper["probe"]
    assert (probe["parent_step_s"], probe["step_s"]) == (timed[0][1], timed[1][1])
    assert probe["ratio"] == pytest.approx(probe["step_s"] / probe["parent_step_s"])
    per_epoch = statistics.median(parent["epoch_seconds"])
    outside = max(0.0, parent["seconds"] - sum(parent["epoch_seconds"]))
    expected = per_epoch * deeper["settings"]["epochs"] * probe["ratio"] + outside
    assert deeper["estimate"] == pytest.approx(expected)
    assert saved["checks"]["probes"]["0"] == probe["parent_step_s"]


@pytest.mark.slow
def test_a_learning_rate_far_too_high_gets_the_range_test(tmp_path, fake_time):
    recipe = Toy(ring_data(1), units=16, learning_rate=30.0)
    result = recipe.train(auto=400, run_dir=tmp_path, verbose=0, diagnose=False,
                          callbacks=[Ticks()])
    steps = result.auto["steps"]
    assert steps[1]["diagnosis"].startswith("optimization failure")
    assert steps[1]["move"] == "lr_finder"
    assert steps[1]["settings"]["learning_rate"] < 1.0
    assert steps[1]["kept"] and steps[1]["val_error"] < steps[0]["val_error"] - 0.2
    assert_chosen_is_best(result)


@pytest.mark.slow
def test_a_model_that_memorises_gets_the_best_of_three_screened_regularizers(
        tmp_path, fake_time, capsys):
    rng = np.random.default_rng(2)
    data = splits(noisy(48, rng), noisy(300, rng), noisy(300, rng))
    recipe = Toy(data, units=64, depth=2, epochs=40)
    # The defaults take about 2,400 s on the fake clock; screening the three moves of
    # the diagnosis (a quarter each) and one in full fits in what is left.
    result = recipe.train(auto=7_000, run_dir=tmp_path, verbose=1, diagnose=False,
                          callbacks=[Ticks()])
    saved = json.loads((tmp_path / "auto.json").read_text())
    step = saved["steps"][1]
    assert step["diagnosis"].startswith("overfitting")
    screened = step["screen"]
    assert [s["change"].split()[0] for s in screened] == ["dropout", "L2", "units"]
    assert all(s["epochs"] <= 10 for s in screened)  # 40 / 4, or fewer if stopped early
    # All on the same validation split, and the best of them went on.
    assert {s["validation_size"] for s in screened} == {data.validation_size}
    best = min(screened, key=score)
    assert step["change"] == best["change"]
    assert len(saved["checks"]["screens"]) >= 3
    out = capsys.readouterr().out
    assert "screening 3 moves" in out and f"{best['change']} trains in full" in out
    steps = result.auto["steps"]
    assert steps[0]["train_error"] < steps[0]["val_error"] - 0.1  # it memorises
    assert {s["move"] for s in steps[1:]} <= {"dropout", "l2", "narrower", "polish"}
    assert saved["checks"]["shifted"] is False
    assert_chosen_is_best(result)


@pytest.mark.slow
def test_a_validation_split_from_elsewhere_stops_the_loop(tmp_path):
    rng = np.random.default_rng(3)
    (x, y), (xv, yv) = noisy(48, rng), noisy(300, rng)
    data = splits((x, y), (xv + 1.5, yv), noisy(300, rng))
    recipe = Toy(data, units=64, depth=2, epochs=40)
    result = recipe.train(auto=120, run_dir=tmp_path, verbose=0, diagnose=False)
    assert len(result.auto["steps"]) == 1
    assert result.auto["stopped"].startswith("train/validation mismatch")


@pytest.mark.slow
def test_fine_data_stops_after_the_first_step(tmp_path):
    result = TinyRecipe().train(epochs=20, auto=60, run_dir=tmp_path, verbose=0,
                                diagnose=False)
    assert len(result.auto["steps"]) == 1
    assert result.auto["stopped"].startswith("fine")


@pytest.mark.slow
def test_a_step_stops_at_the_epoch_end_after_which_one_more_would_overrun(tmp_path, fake_time):
    budget = 20.0  # Toy's defaults: one second an epoch on the fake clock
    result = Toy(ring_data(), epochs=1000, patience=1000).train(
        auto=budget, run_dir=tmp_path, verbose=0, diagnose=False, callbacks=[Ticks()])
    # RESERVE of the budget is kept for the end (the test split, the plot).
    usable = budget * (1 - moves_module.RESERVE)
    step = json.loads((tmp_path / "auto.json").read_text())["steps"][0]
    per_epoch = step["epoch_seconds"][0]
    assert per_epoch == pytest.approx(1.0, rel=0.01)
    assert usable - per_epoch < step["seconds"] <= usable
    assert len(step["history"]["loss"]) == round(step["seconds"] / per_epoch)
    assert result.auto["steps"][0]["stop_reason"] == "budget"
    assert result.auto["stopped"].startswith("budget")


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at epoch 3 of the `at`-th training (counted by class)."""

    trainings = 0

    def __init__(self, at=None):
        super().__init__()
        self.at = at

    def on_train_begin(self, logs=None):
        Interrupt.trainings += 1

    def on_epoch_end(self, epoch, logs=None):
        if Interrupt.trainings == self.at and epoch == 2:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_an_interrupted_loop_resumes_at_its_step(tmp_path, capsys, fake_time):
    recipe = Toy(ring_data(), epochs=8)
    Interrupt.trainings = 0
    with pytest.raises(KeyboardInterrupt):
        recipe.train(auto=30, run_dir=tmp_path, verbose=0, diagnose=False,
                     callbacks=[Ticks(), Interrupt(at=2)])
    saved = json.loads((tmp_path / "auto.json").read_text())
    assert len(saved["steps"]) == 1 and saved["current"]["move"] == "deeper"
    Interrupt.trainings = 0
    result = recipe.train(auto=30, run_dir=tmp_path, verbose=1, diagnose=False,
                          callbacks=[Ticks(), Interrupt()])
    out = capsys.readouterr().out
    assert "Resuming --auto" in out and "Resuming at epoch 4 of 8" in out
    steps = result.auto["steps"]
    # Step 0 was not trained again: one training per later step and per screened move.
    screens = json.loads((tmp_path / "auto.json").read_text())["checks"].get("screens", {})
    assert Interrupt.trainings == len(steps) - 1 + len(screens)
    assert len(json.loads((tmp_path / "auto.json").read_text())["steps"][1]["history"]["loss"]) == 8
    assert_chosen_is_best(result)
    # Once the loop has stopped, the same command trains nothing.
    Interrupt.trainings = 0
    again = recipe.train(auto=30, run_dir=tmp_path, verbose=0, diagnose=False,
                         callbacks=[Ticks(), Interrupt()])
    assert Interrupt.trainings == 0
    assert again.auto["chosen"] == result.auto["chosen"]
    assert again.test_metrics == pytest.approx(result.test_metrics, rel=1e-5)


@pytest.mark.slow
def test_another_auto_run_in_the_same_directory_is_an_error(tmp_path, fake_time):
    recipe = Toy(ring_data(), epochs=2)
    recipe.train(auto=3, run_dir=tmp_path, verbose=0, diagnose=False, callbacks=[Ticks()])
    with pytest.raises(ValueError, match="another --auto run"):
        recipe.train(auto=3, epochs=3, run_dir=tmp_path, verbose=0, diagnose=False)


@pytest.mark.parametrize("text, seconds", [("900", 900), (90, 90), ("90s", 90),
                                           ("15m", 900), ("1.5h", 5400), (" 2 min ", 120)])
def test_budgets_parse(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "15 minutes", True, None, float("inf")])
def test_bad_budgets_are_errors(bad):
    with pytest.raises(ValueError, match="budget"):
        parse_budget(bad)


def test_auto_with_compare_depth_is_an_error_before_training(tmp_path):
    with pytest.raises(ValueError, match="cannot be combined"):
        TinyRecipe().train(auto=10, compare_depth=True, run_dir=tmp_path)
    assert not (tmp_path / "auto.json").exists()


def test_the_warm_up_and_clipping_moves_reach_the_optimizer():
    # The moves change settings; the model must be compiled with them, not the defaults.
    recipe, data = TinyRecipe(), TinyRecipe().load_data()
    strategy = tf.distribute.get_strategy()
    model = recipe.build(hyperparameters(), data, strategy, epochs=4, global_batch=16,
                         warmup_epochs=2, clipnorm=1.0)
    schedule = model.optimizer.learning_rate if not hasattr(
        model.optimizer, "_learning_rate") else model.optimizer._learning_rate
    steps = -(-data.train_size // 16)
    assert schedule.warmup_steps == 2 * steps and schedule.total_steps == 4 * steps
    assert model.optimizer.clipnorm == 1.0
    plain = recipe.build(hyperparameters(), data, strategy, epochs=4, global_batch=16)
    assert plain.optimizer.clipnorm is None
    assert plain.optimizer._learning_rate.warmup_steps == 0  # TinyRecipe's default
    with pytest.raises(ValueError, match="clipnorm must be positive"):
        recipe.settings(clipnorm=-1.0)


@pytest.mark.slow
def test_best_epoch_agrees_with_the_weights_early_stopping_restores():
    from callbacks import EarlyStopping
    from recipes.engine.auto import best_epoch

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    for trial in range(200):
        losses = list(1.0 / np.arange(1, 13) + rng.normal(0, 0.05, 12).clip(-0.5))
        tolerance = [0.0, 0.02, 0.05, 0.2][trial % 4]
        stopper = EarlyStopping(patience=100, restore_best_weights=True,
                                restore_tolerance=tolerance)
        stopper.set_model(model)
        stopper.on_train_begin()
        for epoch, loss in enumerate(losses):
            stopper.on_epoch_end(epoch, {"loss": 1.0, "val_loss": loss})
        assert best_epoch({"val_loss": losses}, "val_loss", tolerance) == stopper.restored_epoch


@pytest.mark.slow
def test_budget_left_and_no_move_to_take_polish_the_chosen_model_from_its_weights(
    tmp_path, fake_time
):
    from recipes.engine import get_strategy

    budget = 200
    recipe = Toy(ring_data(), units=8, epochs=10, patience=2)
    hp = recipe.hyperparameters(None)
    settings = recipe.settings()
    loop = AutoLoop(recipe, budget, hp, recipe.data, settings, get_strategy("auto"),
                    tmp_path, [Ticks()], 0, 42)
    loop._train(dict(move="defaults", change="defaults", parent=None, diagnosis=None,
                     hyperparameters=dict(hp.values), settings=settings, augment_scale=1.0,
                     estimate=None))
    parent = loop.state["steps"][0]
    diagnosis = loop.diagnose(parent)
    assert diagnosis.verdict != "fine"
    loop.state["tried"] += [m["key"] for m in loop.moves(parent, diagnosis)]
    fake_time.now = 100.0  # half the budget left, and no move of the diagnosis left
    move = loop._next_move()
    assert move["move"] == "polish" and move["warm_start"] == 0
    assert move["settings"]["learning_rate"] == pytest.approx(settings["learning_rate"] / 10)
    # All the epochs that fit in what is left less the reserve (more than the parent
    # had), without early stopping.
    per_epoch = statistics.median(parent["epoch_seconds"])
    outside = max(0.0, parent["seconds"] - sum(parent["epoch_seconds"]))
    usable = 100.0 - outside - moves_module.RESERVE * budget
    assert move["settings"]["epochs"] == int(usable // per_epoch) > settings["epochs"]
    assert move["settings"]["patience"] == move["settings"]["epochs"]
    loop._train(move)
    polished = loop.state["steps"][1]
    assert len(polished["history"]["loss"]) == move["settings"]["epochs"]
    # The budget is spent: less than FILL of it is left, and none of it overrun.
    assert 0 <= loop.left() < moves_module.FILL * budget
    # From the parent's weights: its first epoch starts where the parent ended, far
    # below where a model trained from scratch starts.
    assert polished["history"]["loss"][0] < 0.5 * parent["history"]["loss"][0]
    assert polished["history"]["loss"][0] < 1.5 * parent["history"]["loss"][-1]
    # Each model is polished once, and only while more than 10% of the budget is left.
    tried = loop.state["tried"]
    assert moves_module.polish(parent, 40.0, 100, tried) is None
    assert moves_module.polish(polished, 9.9, 100, tried) is None
    assert moves_module.polish(polished, 40.0, 100, tried)["warm_start"] == 1


@pytest.mark.slow
def test_a_wider_model_starts_from_its_parent_widened(tmp_path, fake_time):
    from recipes.diagnostics import flowchart
    from recipes.engine import get_strategy

    recipe = Toy(ring_data(), units=4, epochs=10)
    hp = recipe.hyperparameters(None)
    loop = AutoLoop(recipe, 1_000, hp, recipe.data, recipe.settings(), get_strategy("auto"),
                    tmp_path, [Ticks()], 0, 42)
    loop._train(dict(move="defaults", change="defaults", parent=None, diagnosis=None,
                     hyperparameters=dict(hp.values), settings=recipe.settings(),
                     augment_scale=1.0, estimate=None))
    parent = loop.state["steps"][0]
    bias = type("Diagnosis", (), dict(verdict=flowchart.MODEL_BIAS))()
    wider = next(m for m in loop.moves(parent, bias) if m["move"] == "wider")
    move = loop._widened(parent, wider)
    assert move["widen_from"] == 0 and move["change"] == "units 4 -> 8, widened from step 0"
    assert move["hyperparameters"]["units"] == 8
    loop._train(dict(move, parent=0, diagnosis="model bias", estimate=10.0))
    grown = loop.state["steps"][1]
    # It starts where its parent ended: its first epoch's loss is far below the
    # parent's first (from fresh weights), near the parent's last.
    assert grown["history"]["loss"][0] < 0.5 * parent["history"]["loss"][0]
    assert grown["history"]["loss"][0] < 1.5 * parent["history"]["loss"][-1]
    assert json.loads((tmp_path / "auto.json").read_text())["steps"][1]["widen_from"] == 0


def test_a_model_widen_cannot_map_grows_from_fresh_weights(tmp_path):
    from recipes.diagnostics import flowchart
    from recipes.engine import get_strategy

    class Normalized(Toy):
        def build_model(self, hp=None, data=None):
            hp = hyperparameters(hp)
            units = hp.Int("units", 2, 64, sampling="log", default=self.units)
            inputs = keras.Input(self.data.input_shape)
            x = keras.layers.LayerNormalization()(keras.layers.Dense(units)(inputs))
            return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))

    recipe = Normalized(ring_data(), units=4)
    hp = recipe.hyperparameters(None)
    loop = AutoLoop(recipe, 100, hp, recipe.data, recipe.settings(), get_strategy("auto"),
                    tmp_path, [], 0, 42)
    parent = dict(step=0, hyperparameters=dict(hp.values), settings=recipe.settings(),
                  augment_scale=1.0, history={"loss": [1.0, 0.5]}, stop_reason=None)
    bias = type("Diagnosis", (), dict(verdict=flowchart.MODEL_BIAS))()
    wider = next(m for m in loop.moves(parent, bias) if m["move"] == "wider")
    assert loop._widened(parent, wider) == wider
    assert loop._initial(wider) is None


@pytest.mark.parametrize("probe_steps, timed", [(200, 6), (4, 4)])
def test_a_probe_times_its_steps_after_the_untimed_warm_up(tmp_path, monkeypatch,
                                                           probe_steps, timed):
    # The clock reads the probe model's training steps, half a second each: the seconds
    # per step are 0.5 only if the warm-up steps are left out and the timed ones counted.
    from helpers import TinyRecipe, tiny_data

    recipe, built = TinyRecipe(), []
    build = recipe.build

    def recorded(*args, **kwargs):
        built.append(build(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(recipe, "build", recorded)
    monkeypatch.setattr(loop_module, "clock",
                        lambda: 0.5 * int(built[-1].optimizer.iterations) if built else 0.0)
    monkeypatch.setattr(loop_module, "PROBE_STEPS", probe_steps)
    data = tiny_data()  # 96 examples: 6 steps of 16 an epoch
    hp = recipe.hyperparameters(None)
    loop = AutoLoop(recipe, 60, hp, data, recipe.settings(), tf.distribute.get_strategy(),
                    tmp_path, [], 0, 42)
    step = dict(hyperparameters={"units": 8}, settings=recipe.settings(), augment_scale=1.0)
    assert loop.step_seconds(step) == 0.5
    assert int(built[-1].optimizer.iterations) == loop_module.PROBE_WARMUP + timed


def test_a_pause_of_the_machine_during_a_probe_does_not_move_its_step_time(tmp_path,
                                                                          monkeypatch):
    # Half a second a step, but one timed step stalls for 20 s (the machine paused, or a
    # pipeline filled its buffer): the mean would be 0.5 + 20/50 = 0.9 s, the probe 0.5.
    from helpers import TinyRecipe, tiny_data

    recipe, built = TinyRecipe(), []
    build = recipe.build

    def recorded(*args, **kwargs):
        built.append(build(*args, **kwargs))
        return built[-1]

    def clock():
        if not built:
            return 0.0
        done = int(built[-1].optimizer.iterations)
        return 0.5 * done + (20.0 if done >= loop_module.PROBE_WARMUP + 10 else 0.0)

    monkeypatch.setattr(recipe, "build", recorded)
    monkeypatch.setattr(loop_module, "clock", clock)
    monkeypatch.setattr(loop_module, "PROBE_STEPS", 50)
    data = tiny_data(train_size=16 * 60)  # 60 steps of 16 an epoch: 50 are timed
    hp = recipe.hyperparameters(None)
    loop = AutoLoop(recipe, 60, hp, data, recipe.settings(), tf.distribute.get_strategy(),
                    tmp_path, [], 0, 42)
    step = dict(hyperparameters={"units": 8}, settings=recipe.settings(), augment_scale=1.0)
    assert loop.step_seconds(step) == 0.5
    assert int(built[-1].optimizer.iterations) == loop_module.PROBE_WARMUP + 50


def test_a_probe_reads_its_few_steps_without_tensorflow_s_warning_of_a_cache_read_in_part(
        tmp_path, monkeypatch, capfd):
    # More examples than the shuffle buffer (10,000): a cached pipeline would be read in
    # part, and TensorFlow would warn the user of a mistake that is not theirs.
    from helpers import tiny_data

    recipe = TinyRecipe()
    monkeypatch.setattr(loop_module, "PROBE_STEPS", 5)
    data = tiny_data(train_size=16 * 800)
    loop = AutoLoop(recipe, 60, recipe.hyperparameters(None), data, recipe.settings(),
                    tf.distribute.get_strategy(), tmp_path, [], 0, 42)
    step = dict(hyperparameters={"units": 8}, settings=recipe.settings(), augment_scale=1.0)
    assert loop.step_seconds(step) > 0
    assert "did not fully read the dataset being cached" not in capfd.readouterr().err
    # Training still caches (it reads each pass whole); a few steps of its pipeline warn.
    for _ in zip(range(5), recipe.pipelines(data, 16)[0]):
        pass
    assert "did not fully read the dataset being cached" in capfd.readouterr().err


def test_an_ensemble_that_overfits_or_underfits_is_offered_more_members():
    from types import SimpleNamespace

    from recipes import tabular
    from recipes.diagnostics import flowchart

    hp = keras_tuner.HyperParameters()
    hp.Int("members", 1, 32, sampling="log", default=8)
    hp.Float("dropout", 0.0, 0.5, step=0.05, default=0.1)
    hp.Int("units", 16, 512, sampling="log", default=128)
    best = dict(step=0, hyperparameters={"members": 8, "dropout": 0.1, "units": 128},
                settings={"epochs": 32, "warmup_epochs": 0}, augment_scale=1.0,
                history={"loss": [1.0] * 32}, stop_reason=None)
    data = tabular.recipe.load_data()
    for verdict in (flowchart.OVERFITTING, flowchart.MODEL_BIAS):
        out = moves_module.candidates(tabular.recipe, data, best,
                                      SimpleNamespace(verdict=verdict, advice=""), hp.space)
        members = [m for m in out if m["move"] == "members"]
        assert [m["hyperparameters"]["members"] for m in members] == [16], verdict
        assert members[0]["change"] == "members 8 -> 16"
    # A model with no ensemble gets no such move.
    out = moves_module.candidates(tabular.recipe, data, dict(best, hyperparameters={}),
                                  SimpleNamespace(verdict=flowchart.OVERFITTING, advice=""),
                                  [p for p in hp.space if p.name != "members"])
    assert "members" not in {m["move"] for m in out}


def test_a_move_is_shortened_to_the_epochs_that_fit_at_the_drift_allowed_for():
    # --auto 15m on Fashion-MNIST: one convolution more per stage, 14 epochs estimated at
    # 646 s with 626 s left. Planned at 1.2x the estimate, 11 epochs fit: its schedule
    # ends within the budget where the machine runs up to 20% slower than the probe.
    parent = dict(step=0, settings=dict(epochs=14))
    move = dict(move="deeper", change="depth 1 -> 2", key="k", hyperparameters={"depth": 2},
                settings=dict(epochs=14, warmup_epochs=0.2), augment_scale=1.0)
    short = moves_module.shortened(parent, move, 626.0, 646.0)
    assert moves_module.DRIFT == 1.2
    assert short["settings"]["epochs"] == int(626.0 // (1.2 * 646.0 / 14)) == 11
    assert short["change"] == "depth 1 -> 2, 11 of 14 epochs (budget)"
    # Less than half the epochs: not taken.
    assert moves_module.shortened(parent, move, 0.4 * 646.0, 646.0) is None


def test_steps_are_measured_on_the_model_they_hold():
    from recipes.engine import Result

    history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.6, 0.8, 0.85],
               "val_loss": [0.8, 0.6, 0.7], "val_accuracy": [0.7, 0.75, 0.74]}
    result = Result(recipe="tabular", model=None, kept_epoch=2, history=history,
                    test_metrics={})
    measured = loop_module.held_measures(result)
    assert (measured["val_loss"], measured["val_error"]) == (0.6, pytest.approx(0.25))
    # A run that replaced the kept epoch's weights (tabular's linear model) says so.
    result.settings["held_figures"] = {"loss": 0.45, "val_loss": 0.5, "val_accuracy": 0.8}
    measured = loop_module.held_measures(result)
    assert (measured["val_loss"], measured["val_error"]) == (0.5, pytest.approx(0.2))
    assert (measured["train_loss"], measured["train_error"]) == (0.45, pytest.approx(0.2))
    assert history["val_loss"] == [0.8, 0.6, 0.7]  # the history itself is unchanged

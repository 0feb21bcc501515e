"""recipes.diagnostics.flowchart: each verdict produced by a real (tiny) training run, and the rules
checked on hand-written histories."""

import json
import math
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from matplotlib.image import imread

from recipes.diagnostics import flowchart as d
from recipes.engine import diagnose_run


def mlp(inputs, widths, activation="tanh", output_activation=None):
    return keras.Sequential(
        [keras.Input((inputs,))]
        + [keras.layers.Dense(w, activation=activation) for w in widths]
        + [keras.layers.Dense(1, activation=output_activation)]
    )


def fit(model, data, epochs, optimizer, loss="mse", metrics=(), batch_size=16):
    (x, y), validation = data
    model.compile(optimizer, loss=loss, metrics=list(metrics))
    return model.fit(
        x, y, validation_data=validation, epochs=epochs, batch_size=batch_size,
        verbose=0,
    ).history


def sine(rng, n, low=-2.0, high=2.0):
    x = rng.uniform(low, high, size=(n, 1)).astype("float32")
    return x, np.sin(2 * x).astype("float32")


@pytest.fixture(scope="module")
def sine_runs():
    """Linear, tiny and big models fitted to y = sin(2x) on [-2, 2], same settings."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train, validation = sine(rng, 512), sine(rng, 256)
    runs = {}
    for name, widths in (("linear", []), ("tiny", [2]), ("big", [32, 32])):
        model = mlp(1, widths)
        optimizer = keras.optimizers.Adam(0.01)
        runs[name] = fit(model, (train, validation), 8, optimizer, batch_size=8)
    runs["test_same"] = model.evaluate(*sine(rng, 256), return_dict=True, verbose=0)
    # The test inputs come from [2.5, 4]: a shifted distribution.
    runs["test_shifted"] = model.evaluate(
        *sine(rng, 256, 2.5, 4.0), return_dict=True, verbose=0
    )
    runs["baseline"] = float(np.var(train[1]))  # MSE of predicting the mean
    keras.backend.clear_session()
    return runs


# Each verdict, from a real training run.


@pytest.mark.slow
def test_model_bias_when_a_bigger_model_fits_better(sine_runs):
    tiny, linear, big = sine_runs["tiny"], sine_runs["linear"], sine_runs["big"]
    baseline = sine_runs["baseline"]

    result = d.diagnose(history=tiny, shallower=linear, baseline=baseline)
    assert result.verdict == d.MODEL_BIAS
    assert result.evidence["train_loss"] < result.evidence["shallower_train_loss"]
    assert result.evidence["train_loss"] > result.evidence["tolerance"]
    assert "more flexible" in result.advice

    result = d.diagnose(history=tiny, deeper=big, baseline=baseline)
    assert result.verdict == d.MODEL_BIAS
    assert result.evidence["deeper_train_loss"] < result.evidence["train_loss"]


def test_high_training_loss_without_a_comparison_asks_for_one(sine_runs):
    result = d.diagnose(history=sine_runs["linear"], baseline=sine_runs["baseline"])
    assert result.verdict == d.HIGH_TRAINING_LOSS
    assert "shallower=" in result.advice


@pytest.mark.slow
def test_optimization_failure_of_a_deep_sigmoid_network():
    # 12 sigmoid layers trained with plain SGD: the gradient vanishes, so the deep
    # network fits a linearly separable problem worse than a one-layer network does.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(768, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")
    data = ((x[:512], y[:512]), (x[512:], y[512:]))

    def train(depth):
        model = mlp(2, [16] * depth, "sigmoid", output_activation="sigmoid")
        return fit(
            model, data, 5, keras.optimizers.SGD(0.5), "binary_crossentropy",
            ["accuracy"],
        )

    shallow, deep = train(1), train(12)
    result = d.diagnose(history=deep, shallower=shallow)
    assert result.verdict == d.OPTIMIZATION
    evidence = result.evidence
    assert evidence["train_error"] > evidence["shallower_train_error"] + 0.2
    assert "shallower" in result.advice


@pytest.mark.slow
def test_overfitting_of_a_big_model_on_a_tiny_training_set():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(524, 20)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    data = ((x[:24], y[:24]), (x[24:], y[24:]))  # 24 training examples, 500 validation
    model = mlp(20, [256, 256], "relu", output_activation="sigmoid")
    history = fit(
        model, data, 10, keras.optimizers.Adam(0.003), "binary_crossentropy",
        ["accuracy"], batch_size=2,
    )
    result = d.diagnose(history=history)
    assert result.verdict == d.OVERFITTING
    assert result.evidence["train_error"] == 0.0
    assert result.evidence["variance"] > 0.1
    assert "augment" in result.advice and "dropout" in result.advice
    # On losses too (the baseline defaults to the first epoch's loss).
    assert d.diagnose(history=history, metric="loss").verdict == d.OVERFITTING


def test_mismatch_when_the_test_inputs_are_shifted(sine_runs):
    result = d.diagnose(
        history=sine_runs["big"],
        test_metrics=sine_runs["test_shifted"],
        baseline=sine_runs["baseline"],
    )
    assert result.verdict == d.MISMATCH
    assert result.evidence["test_gap"] > 10 * result.evidence["tolerance"]
    assert "training data like the test data" in result.advice


def test_fine_when_everything_is_low(sine_runs):
    result = d.diagnose(
        history=sine_runs["big"],
        test_metrics=sine_runs["test_same"],
        baseline=sine_runs["baseline"],
    )
    assert result.verdict == d.FINE, str(result)


# The rules, on hand-written histories.


def history(loss, val_loss, accuracy=None, val_accuracy=None):
    out = {"loss": list(loss), "val_loss": list(val_loss)}
    if accuracy is not None:
        out.update(accuracy=list(accuracy), val_accuracy=list(val_accuracy))
    return out


@pytest.mark.parametrize(
    "human_error, train_error, val_error, verdict, first",
    [
        # Andrew Ng's two examples: the same errors, different human-level errors.
        (0.01, 0.08, 0.10, d.HIGH_TRAINING_LOSS, "bias"),
        (0.075, 0.08, 0.10, d.OVERFITTING, "variance"),
        # Both gaps within the tolerance: fine, and bias is still the larger.
        (0.075, 0.08, 0.083, d.FINE, "bias"),
    ],
)
def test_human_level_error(human_error, train_error, val_error, verdict, first):
    h = history([0.5, 0.3], [0.6, 0.4], [0.5, 1 - train_error], [0.5, 1 - val_error])
    result = d.diagnose(history=h, human_error=human_error, tolerance=0.01)
    assert result.verdict == verdict
    assert result.evidence["avoidable_bias"] == pytest.approx(train_error - human_error)
    assert result.evidence["variance"] == pytest.approx(val_error - train_error)
    assert result.evidence["human_error"] == human_error
    assert f"work on {first} first" in result.reason


def test_rules_on_losses():
    # baseline 1.0, tolerance 0.02: "low" means below 0.02.
    kwargs = dict(baseline=1.0)
    fine = history([1, 0.01], [1, 0.02])
    assert d.diagnose(history=fine, **kwargs).verdict == d.FINE
    overfit = history([1, 0.01], [1, 0.5])
    assert d.diagnose(history=overfit, **kwargs).verdict == d.OVERFITTING
    high = history([1, 0.4], [1, 0.41])
    assert d.diagnose(history=high, **kwargs).verdict == d.HIGH_TRAINING_LOSS
    worse_than_shallower = d.diagnose(
        history=high, shallower=history([1, 0.2], [1, 0.2]), **kwargs
    )
    assert worse_than_shallower.verdict == d.OPTIMIZATION
    better_than_shallower = d.diagnose(
        history=high, shallower=history([1, 0.6], [1, 0.6]), **kwargs
    )
    assert better_than_shallower.verdict == d.MODEL_BIAS
    deeper_is_worse = d.diagnose(
        history=high, deeper=history([1, 0.5], [1, 0.5]), **kwargs
    )
    assert deeper_is_worse.verdict == d.OPTIMIZATION
    mismatch = d.diagnose(history=fine, test_metrics={"loss": 0.3}, **kwargs)
    assert mismatch.verdict == d.MISMATCH
    assert mismatch.evidence["test_gap"] == pytest.approx(0.28)
    # Large variance comes before a test gap: overfitting, not mismatch.
    assert (
        d.diagnose(history=overfit, test_metrics={"loss": 2.0}, **kwargs).verdict
        == d.OVERFITTING
    )


def test_bias_and_variance_both_high_work_on_the_larger():
    assert d.diagnose(history=history([1, 0.3], [1, 0.4]), baseline=1).verdict == (
        d.HIGH_TRAINING_LOSS
    )
    assert d.diagnose(history=history([1, 0.3], [1, 0.9]), baseline=1).verdict == (
        d.OVERFITTING
    )


def test_baseline_defaults_to_the_first_epoch_loss():
    result = d.diagnose(history=history([2.0, 0.01], [2.0, 0.02]))
    assert result.evidence["baseline"] == 2.0
    assert result.evidence["tolerance"] == pytest.approx(0.04)


def test_divergence_is_an_optimization_failure():
    h = history([1.0, math.nan], [1.0, math.nan])
    result = d.diagnose(history=h)
    assert result.verdict == d.OPTIMIZATION
    assert "learning rate" in result.advice
    stopped = d.diagnose(
        history=history([1, 0.01], [1, 0.01]), stop_reason="non_finite_loss"
    )
    assert stopped.verdict == d.OPTIMIZATION and "diverged" in stopped.reason


def test_other_stop_reasons_are_reported():
    h = history([1, 0.01], [1, 0.01])
    result = d.diagnose(history=h, stop_reason="early_stopping")
    assert result.verdict == d.FINE
    assert "early_stopping" in result.reason


def test_epoch_choice():
    h = history([1.0, 0.3, 0.01], [1.0, 0.35, 0.9])
    assert d.diagnose(history=h, baseline=1).verdict == d.OVERFITTING
    best = d.diagnose(history=h, baseline=1, epoch="best")
    assert best.evidence["epoch"] == 2
    assert best.evidence["train_loss"] == 0.3
    assert d.diagnose(history=h, baseline=1, epoch=0).evidence["epoch"] == 1
    with pytest.raises(ValueError, match="epoch"):
        d.diagnose(history=h, epoch="first")


def test_accuracy_is_judged_as_error_when_recorded():
    h = history([1, 0.5], [1, 0.5], [0.5, 0.995], [0.5, 0.99])
    result = d.diagnose(history=h)
    assert result.evidence["train_error"] == pytest.approx(0.005)
    assert result.evidence["val_error"] == pytest.approx(0.01)
    assert "baseline" not in result.evidence
    assert d.diagnose(history=h, metric="loss").evidence["train_loss"] == 0.5


def test_without_validation_the_test_split_stands_in():
    result = d.diagnose(
        history={"loss": [1, 0.01]}, test_metrics={"loss": 0.5}, baseline=1
    )
    assert result.verdict == d.OVERFITTING
    assert "test loss" in result.reason


def test_reads_a_result_object():
    # The engine's Result: comparisons hold dicts with a "history"; settings may hold
    # the human-level error.
    result = SimpleNamespace(
        history=history([1, 0.5], [1, 0.5], [0.5, 0.7], [0.5, 0.7]),
        test_metrics={"loss": 0.5, "accuracy": 0.7},
        stop_reason=None,
        settings={"human_error": 0.05, "epochs": 2},
        comparisons={"shallower": {"depth": 1, "history": history(
            [1, 0.4], [1, 0.4], [0.5, 0.8], [0.5, 0.8])}},
    )
    diagnosis = d.diagnose(result)
    assert diagnosis.verdict == d.OPTIMIZATION
    assert diagnosis.evidence["human_error"] == 0.05
    assert diagnosis.evidence["shallower_train_error"] == pytest.approx(0.2)
    assert d.diagnose(result, shallower=result.history).verdict == d.MODEL_BIAS


def test_readable_string():
    text = str(d.diagnose(history=history([1, 0.01], [1, 0.6]), baseline=1))
    assert text.startswith("Diagnosis: overfitting")
    assert "val_loss" in text and "0.6" in text
    assert "Why:" in text and "Next step:" in text


def test_bad_input():
    with pytest.raises(ValueError, match="no 'accuracy'"):
        d.diagnose(history=history([1], [1]), metric="accuracy")
    with pytest.raises(ValueError, match="non-empty dict"):
        d.diagnose(history={})
    with pytest.raises(ValueError, match="tolerance"):
        d.diagnose(history=history([1], [1]), tolerance=-1)


def test_diagnose_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    h = history([1, 0.2, 0.05], [1, 0.3, 0.4], [0.5, 0.9, 0.99], [0.5, 0.85, 0.8])
    (run / "history.json").write_text(json.dumps(h))
    (run / "result.json").write_text(
        json.dumps(
            {
                "recipe": "toy",
                "test_metrics": {"loss": 0.4, "accuracy": 0.8},
                "settings": {"epochs": 3},
                "stop_reason": None,
                "comparisons": {},
            }
        )
    )
    result = diagnose_run(run)
    assert result.verdict == d.OVERFITTING
    image = imread(run / "learning_curves.png")
    assert image.ndim == 3 and image.shape[0] > 100
    saved = json.loads((run / "diagnosis.json").read_text())
    assert saved["verdict"] == d.OVERFITTING
    assert saved["evidence"]["val_error"] == pytest.approx(0.2)
    # Keyword arguments reach `diagnose`.
    assert diagnose_run(run, tolerance=0.5).verdict == d.FINE


def test_a_run_is_diagnosed_at_the_epoch_whose_weights_it_holds(tmp_path):
    # Overfit by the last epoch; the run kept epoch 2, whose test error it measured.
    h = history([1, 0.2, 0.05], [1, 0.21, 0.4], [0.5, 0.9, 0.99], [0.5, 0.89, 0.8])
    (tmp_path / "history.json").write_text(json.dumps(h))
    (tmp_path / "result.json").write_text(json.dumps(
        {"recipe": "toy", "test_metrics": {"loss": 0.3, "accuracy": 0.85}, "kept_epoch": 2}))
    diagnosis = diagnose_run(tmp_path, human_error=0.1)
    assert diagnosis.evidence["epoch"] == 2
    assert diagnosis.evidence["val_error"] == pytest.approx(0.11)
    assert diagnosis.evidence["test_gap"] == pytest.approx(0.15 - 0.11)  # one model's
    assert diagnosis.verdict == d.MISMATCH
    # The last epoch, where asked, is the lecture's overfitting.
    assert diagnose_run(tmp_path, human_error=0.1, epoch="last").verdict == d.OVERFITTING


def test_models_of_other_depths_are_compared_by_the_lowest_training_loss_each_reached():
    # Read at its second epoch (the one a run kept), this model's training loss is above
    # the shallower model's; over its epochs it went lower, and a shallower one stopped
    # sooner: capacity helps.
    deep = history([1.0, 0.6, 0.3, 0.2], [1.0, 0.65, 0.7, 0.8])
    shallow = history([1.0, 0.5, 0.45], [1.0, 0.6, 0.6])
    result = d.diagnose(history=deep, shallower=shallow, baseline=1.0, epoch=1)
    assert result.verdict == d.MODEL_BIAS
    assert result.evidence["lowest_train_loss"] == 0.2
    assert result.evidence["shallower_train_loss"] == 0.45
    assert result.evidence["train_loss"] == 0.6
    # A deeper model that never got as low as this one: optimization failed.
    deeper = history([1.0, 0.9, 0.25, 0.3], [1.0, 0.9, 0.8, 0.8])
    result = d.diagnose(history=deep, deeper=deeper, baseline=1.0, epoch=1)
    assert result.verdict == d.OPTIMIZATION and result.evidence["deeper_train_loss"] == 0.25


def test_diagnose_run_errors(tmp_path):
    with pytest.raises(ValueError, match="history.json"):
        diagnose_run(tmp_path)
    (tmp_path / "history.json").write_text(json.dumps(history([1], [1])))
    (tmp_path / "result.json").write_text(json.dumps({"recipe": "toy"}))
    with pytest.raises(ValueError, match="test_metrics"):
        diagnose_run(tmp_path)


def test_a_comparison_model_that_stopped_sooner_is_read_at_its_last_epoch():
    # `--auto` reads a run at its best epoch; a shallower model trained the same way
    # may have stopped earlier (on its budget): it is compared at its last epoch.
    high = history([1, 0.5, 0.4], [1, 0.5, 0.41])
    stopped = d.diagnose(history=high, shallower=history([0.2], [0.2]), epoch=2)
    assert stopped.verdict == d.OPTIMIZATION
    assert stopped.evidence["shallower_train_loss"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="index below 3"):
        d.diagnose(history=high, epoch=3)

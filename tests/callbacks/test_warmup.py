import keras
from helpers import LearningRateRecorder
import numpy as np
import pytest

from callbacks import WarmUp, WarmUpCallback


def tiny_model(learning_rate=0.1):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 1))


def test_ramps_then_lets_reduce_lr_on_plateau_take_over():
    model = tiny_model(learning_rate=0.1)
    recorder = LearningRateRecorder()
    # `min_delta` so large that no epoch counts as an improvement: with
    # `patience=0` it divides the learning rate by 10 after every epoch but
    # the first.
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.1, patience=0, min_delta=1e9
    )
    x, y = tiny_data()
    model.fit(
        x,
        y,
        batch_size=2,  # 4 steps per epoch.
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[WarmUpCallback(warmup_steps=6), recorder, plateau],
    )
    ramp = [0.1 * step / 6 for step in range(6)]
    expected = ramp + [0.1, 0.1] + [0.01] * 4
    np.testing.assert_allclose(recorder.learning_rates, expected, rtol=1e-6)
    final_lr = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    assert float(final_lr) == pytest.approx(0.001)


def test_explicit_initial_and_target():
    model = tiny_model(learning_rate=0.5)
    recorder = LearningRateRecorder()
    x, y = tiny_data()
    warmup = WarmUpCallback(warmup_steps=4, initial=0.01, target=0.05)
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[warmup, recorder])
    expected = [0.01, 0.02, 0.03, 0.04] + [0.05] * 4
    np.testing.assert_allclose(recorder.learning_rates, expected, rtol=1e-6)


def test_continues_the_ramp_in_a_second_fit():
    model = tiny_model(learning_rate=0.1)
    recorder = LearningRateRecorder()
    warmup = WarmUpCallback(warmup_steps=8)
    x, y = tiny_data()
    for _ in range(2):
        model.fit(x, y, batch_size=2, verbose=0, callbacks=[warmup, recorder])
    expected = [0.1 * step / 8 for step in range(8)]
    np.testing.assert_allclose(recorder.learning_rates, expected, rtol=1e-6)


def test_rejects_a_schedule():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(WarmUp(0.1, warmup_steps=2)), loss="mse")
    x, y = tiny_data()
    with pytest.raises(ValueError, match="float learning rate.*WarmUp"):
        model.fit(x, y, verbose=0, callbacks=[WarmUpCallback(warmup_steps=2)])


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"warmup_steps": -1}, "warmup_steps=-1"),
        ({"warmup_steps": 2.0}, "warmup_steps=2.0"),
        ({"warmup_steps": 2, "initial": -0.1}, "initial=-0.1"),
        ({"warmup_steps": 2, "target": "high"}, "target='high'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, received):
    with pytest.raises(ValueError, match=f"Received: {received}"):
        WarmUpCallback(**kwargs)

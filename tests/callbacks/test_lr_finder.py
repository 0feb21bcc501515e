import keras
from helpers import LearningRateRecorder
import numpy as np
import pytest
import tensorflow as tf

from callbacks import LRFinder, LRFinderResult, WarmUp, find_lr


def regression_data(num_samples=512, seed=0):
    """y = x @ w + 1 + noise, with 4 standard-normal features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_samples, 4)).astype("float32")
    noise = 0.1 * rng.normal(size=num_samples)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 1.0 + noise).astype("float32")
    return x, y[:, None]


def regression_model(optimizer):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer, loss="mse")
    return model


def batches(x, y, batch_size=32):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def state(model):
    """Copies of the model's weights, then of every optimizer variable."""
    weights = [np.array(w) for w in model.get_weights()]
    variables = model.optimizer.variables
    return weights + [keras.ops.convert_to_numpy(v).copy() for v in variables]


def test_sweep_is_geometric_and_sets_the_optimizer():
    x, y = regression_data()
    model = regression_model(keras.optimizers.SGD(0.01))
    finder = LRFinder(min_lr=1e-4, max_lr=0.1, num_steps=20, diverge_factor=100.0)
    recorder = LearningRateRecorder()
    # 16 batches an epoch: the sweep runs into the second epoch, then stops.
    model.fit(batches(x, y), epochs=5, shuffle=False, verbose=0, callbacks=[finder, recorder])
    expected = np.geomspace(1e-4, 0.1, 20)
    np.testing.assert_allclose(finder.learning_rates, expected, rtol=1e-12)
    np.testing.assert_allclose(recorder.learning_rates, expected, rtol=1e-6)
    np.testing.assert_array_equal(finder.result.learning_rates, finder.learning_rates)
    np.testing.assert_array_equal(finder.result.losses, finder.losses)


def test_losses_are_the_bias_corrected_average_of_batch_losses():
    x, y = regression_data(num_samples=24)
    model = regression_model(keras.optimizers.SGD(0.01))
    kernel, bias = model.get_weights()
    # Learning rates too small to move the weights: every batch loss is the
    # initial model's loss on that batch (3 batches, so the data is repeated).
    batch_losses = np.mean((x @ kernel + bias - y) ** 2, axis=1).reshape(3, 8).mean(1)
    batch_losses = np.tile(batch_losses, 4)[:10]
    beta = 0.9
    result = find_lr(
        model, batches(x, y, 8), min_lr=1e-12, max_lr=1e-11, num_steps=10, beta=beta
    )
    average, expected = 0.0, []
    for step, loss in enumerate(batch_losses):
        average = beta * average + (1 - beta) * loss
        expected.append(average / (1 - beta ** (step + 1)))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)


def test_stops_on_divergence_and_restores_weights_and_optimizer():
    x, y = regression_data()
    model = regression_model(keras.optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # Non-zero Adam slots.
    before = state(model)

    result = find_lr(model, batches(x, y), min_lr=1e-3, max_lr=1e3, num_steps=60)

    assert len(result.losses) < 60
    assert result.losses[-1] > 4.0 * result.losses.min()
    after = state(model)
    # Kernel and bias; iterations, learning rate and Adam's 2 slots per weight.
    assert len(before) == len(after) == 2 + 2 + 4
    for restored, saved in zip(after, before):
        np.testing.assert_array_equal(restored, saved)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == (
        pytest.approx(1e-3)
    )


def test_restores_the_model_when_the_sweep_is_interrupted():
    x, y = regression_data(num_samples=64)
    model = regression_model(keras.optimizers.SGD(0.01, momentum=0.9))
    model.fit(x, y, batch_size=32, verbose=0)  # Non-zero momentum.
    before = state(model)

    def failing_batches():
        for step in range(3):
            yield x[8 * step : 8 * step + 8], y[8 * step : 8 * step + 8]
        raise RuntimeError("data source failed")

    with pytest.raises(Exception, match="data source failed"):
        find_lr(model, failing_batches(), min_lr=0.1, max_lr=1.0, num_steps=10)
    after = state(model)
    assert len(before) == len(after) == 2 + 2 + 2  # SGD with momentum.
    for restored, saved in zip(after, before):
        np.testing.assert_array_equal(restored, saved)


def test_suggestion_on_linear_regression(tmp_path):
    x, y = regression_data(num_samples=1024)
    model = regression_model(keras.optimizers.SGD(0.01))
    dataset = batches(x, y).shuffle(32, seed=0)
    result = find_lr(model, dataset, min_lr=1e-4, max_lr=10.0, num_steps=100)
    # Plain SGD on standardized features diverges above a learning rate of
    # about 1 (2 / the largest Hessian eigenvalue); a sensible suggestion lies
    # within two decades below.
    assert 1e-4 <= result.suggestion <= 10.0
    assert 1e-2 <= result.suggestion <= 0.5
    path = result.plot(tmp_path / "lr_finder.png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_suggestion_is_in_the_middle_of_the_longest_valley():
    learning_rates = np.geomspace(1e-5, 1.0, 41)
    # Noise at the start, a long descent over steps 10..30, then divergence.
    losses = np.concatenate(
        [[5.0, 6.0, 5.0, 6.0, 5.0, 6.0, 5.0, 6.0, 5.0, 6.0],
         np.linspace(4.0, 1.0, 21), np.linspace(2.0, 11.0, 10)]
    )
    result = LRFinderResult(learning_rates, losses)
    # The longest decreasing subsequence: a 6.0, a 5.0, then steps 10..30
    # (23 steps, ending at step 30); halfway is step 30 - 23 // 2 = 19.
    assert result.suggestion == learning_rates[19]
    assert LRFinderResult(np.array([]), np.array([])).suggestion is None


def test_plot_without_steps(tmp_path):
    path = LRFinderResult(np.array([]), np.array([])).plot(tmp_path / "empty.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_rejects_a_schedule():
    model = regression_model(keras.optimizers.SGD(WarmUp(0.1, warmup_steps=2)))
    x, y = regression_data(num_samples=16)
    with pytest.raises(ValueError, match="float learning rate"):
        find_lr(model, batches(x, y), num_steps=4)


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"min_lr": 0.0}, "min_lr=0.0, max_lr=10.0"),
        ({"min_lr": 1.0, "max_lr": 0.1}, "min_lr=1.0, max_lr=0.1"),
        ({"num_steps": 1}, "num_steps=1"),
        ({"num_steps": 10.0}, "num_steps=10.0"),
        ({"beta": 1.0}, "beta=1.0"),
        ({"diverge_factor": 1.0}, "diverge_factor=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, received):
    with pytest.raises(ValueError, match=f"Received: {received}"):
        LRFinder(**kwargs)

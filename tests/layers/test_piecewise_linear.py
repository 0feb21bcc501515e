import keras
import numpy as np
import pytest
from helpers import check_layer, load_in_fresh_process

import layers

# A curve with three kinks (at -0.5, 0 and 0.5) and a range of 1.2.
KNOTS_X = [-1.0, -0.5, 0.0, 0.5, 1.0]
KNOTS_Y = [0.0, 1.0, 0.2, 1.2, 0.5]


def _relu(x):
    return np.maximum(x, 0.0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _random_weights(layer, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(weights)
    return weights


def test_hard_variant_is_a_relu_network():
    # y = b + sum_i c_i * clip(z_i, 0, 1), and clip(z, 0, 1) = relu(z) - relu(z - 1):
    # the layer equals a network of 2 * units ReLUs.
    x = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
    layer = layers.PiecewiseLinear(units=5, outputs=2)
    layer.build(x.shape)
    kernel, bias, heights, constant = _random_weights(layer)
    z = x @ kernel + bias
    expected = constant + (_relu(z) - _relu(z - 1.0)) @ heights
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5
    )


def test_smooth_variant_matches_numpy():
    x = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
    layer = layers.PiecewiseLinear(units=5, outputs=2, smooth=True)
    layer.build(x.shape)
    kernel, bias, heights, constant = _random_weights(layer)
    # The sigmoid with the hard ramp's centre (z = 0.5) and slope (1).
    expected = constant + _sigmoid(4.0 * (x @ kernel + bias) - 2.0) @ heights
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5
    )


def _fit_curve(smooth, units=16, steps=300):
    x = np.linspace(-1.0, 1.0, 256, dtype="float32")[:, None]
    y = np.interp(x[:, 0], KNOTS_X, KNOTS_Y).astype("float32")[:, None]
    model = keras.Sequential(
        [keras.Input((1,)), layers.PiecewiseLinear(units, smooth=smooth)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    # One full-batch update per repeat of the data: `steps` updates in one epoch.
    model.fit(
        np.tile(x, (steps, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(x),
        shuffle=False,
        verbose=0,
    )
    return float(np.mean(np.abs(model.predict(x, verbose=0) - y)))


@pytest.mark.slow
def test_fits_a_curve_with_three_kinks():
    assert _fit_curve(smooth=False) < 0.05


@pytest.mark.slow
def test_smooth_variant_fits_the_curve():
    assert _fit_curve(smooth=True) < 0.05


@pytest.mark.parametrize(
    "kwargs, bad", [({"units": 0}, "units=0"), ({"units": 2.5}, "units=2.5"),
                    ({"units": 3, "outputs": 0}, "outputs=0")]
)
def test_bad_arguments_raise(kwargs, bad):
    with pytest.raises(ValueError, match=f"Received: {bad}"):
        layers.PiecewiseLinear(**kwargs)


@pytest.mark.parametrize("smooth", [False, True])
def test_check_layer(tmp_path, smooth):
    check_layer(
        layers.PiecewiseLinear,
        {"units": 4, "outputs": 3, "smooth": smooth},
        input_shape=(2, 7, 5),
        expected_output_shape=(2, 7, 3),
        tmp_path=tmp_path,
    )


@pytest.mark.slow
def test_loads_in_fresh_process(tmp_path):
    model = keras.Sequential(
        [keras.Input((2,)), layers.PiecewiseLinear(units=6, outputs=2)]
    )
    path = tmp_path / "piecewise_linear.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    np.testing.assert_array_equal(
        load_in_fresh_process(path, x), keras.ops.convert_to_numpy(model(x))
    )

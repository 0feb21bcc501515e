import keras
import numpy as np
import pytest
from helpers import check_layer, load_in_fresh_process

import layers


def _numpy_relu(x):
    return np.maximum(x, 0.0)


def test_default_matches_keras_bit_for_bit():
    x = np.concatenate(
        [np.linspace(-5, 5, 1001), np.random.default_rng(0).normal(0, 4, 1000)]
    ).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layers.hard_sigmoid(x)),
        keras.ops.convert_to_numpy(keras.activations.hard_sigmoid(x)),
    )


@pytest.mark.parametrize("lower, upper", [(-3.0, 3.0), (0.0, 1.0), (-1.0, 2.5)])
def test_ramp_matches_numpy(lower, upper):
    x = np.linspace(lower - 2, upper + 2, 801).astype("float32")
    expected = np.clip((x - lower) / (upper - lower), 0.0, 1.0)
    got = keras.ops.convert_to_numpy(layers.hard_sigmoid(x, lower, upper))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got[0] == 0.0 and got[-1] == 1.0


@pytest.mark.parametrize("lower, upper", [(-3.0, 3.0), (0.0, 1.0), (-1.0, 2.5)])
def test_two_relus_make_one_hard_sigmoid(lower, upper):
    # hard_sigmoid(x) = relu(a x + b) - relu(a x + c): a = 1 / width,
    # b = -lower / width, c = b - 1 (the second ReLU switches on at `upper`).
    x = np.linspace(lower - 2, upper + 2, 801).astype("float32")
    a = 1.0 / (upper - lower)
    b = -lower * a
    c = b - 1.0
    two_relus = _numpy_relu(a * x + b) - _numpy_relu(a * x + c)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layers.hard_sigmoid(x, lower, upper)),
        two_relus,
        atol=1e-6,
    )


def test_layer_applies_its_ramp():
    layer = layers.HardSigmoid(lower=0.0, upper=2.0)
    y = keras.ops.convert_to_numpy(layer(np.array([-1.0, 0.5, 1.0, 3.0])))
    np.testing.assert_allclose(y, [0.0, 0.25, 0.5, 1.0], atol=1e-7)


@pytest.mark.parametrize("lower, upper", [(1.0, 1.0), (2.0, -1.0)])
def test_bad_ramp_raises(lower, upper):
    message = f"Received: lower={lower}, upper={upper}"
    with pytest.raises(ValueError, match=message):
        layers.hard_sigmoid(np.zeros(3), lower=lower, upper=upper)
    with pytest.raises(ValueError, match=message):
        layers.HardSigmoid(lower=lower, upper=upper)


def test_check_layer(tmp_path):
    y = check_layer(
        layers.HardSigmoid,
        {"lower": -1.0, "upper": 2.0},
        input_shape=(3, 4, 5),
        expected_output_shape=(3, 4, 5),
        tmp_path=tmp_path,
    )
    assert y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.slow
def test_loads_in_fresh_process(tmp_path):
    # The registered function serializes as an activation, the layer by name.
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, activation=layers.hard_sigmoid),
            keras.layers.Dense(3),
            layers.HardSigmoid(lower=-1.0, upper=2.0),
        ]
    )
    path = tmp_path / "hard_sigmoid.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    np.testing.assert_array_equal(
        load_in_fresh_process(path, x), keras.ops.convert_to_numpy(model(x))
    )

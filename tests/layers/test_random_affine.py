"""layers.RandomAffine: exact turns, shifts and zooms against NumPy, random draws within
their limits, the identity at inference, config round trip, errors."""

import math

import keras
import numpy as np
import pytest
from helpers import check_layer

import layers


def square(n=7, channels=2, seed=0):
    return np.random.default_rng(seed).uniform(1, 255, (3, n, n, channels)).astype("float32")


def apply(layer, x, angle=0.0, scale=1.0, shift=(0.0, 0.0)):
    n = len(x)
    out = layer.transform(x, np.full(n, angle), np.full(n, scale), np.tile(shift, (n, 1)))
    return keras.ops.convert_to_numpy(out)


def test_a_quarter_turn_is_numpys_rot90():
    x = square()
    out = apply(layers.RandomAffine(), x, angle=math.pi / 2)
    np.testing.assert_allclose(out, np.rot90(x, 1, axes=(1, 2)), atol=1e-3)


def test_a_whole_pixel_shift_moves_the_content_and_fills_black():
    x = square()
    out = apply(layers.RandomAffine(), x, shift=(2 / 7, -1 / 7))  # 2 down, 1 left
    expected = np.zeros_like(x)
    expected[:, 2:, :-1] = x[:, :-2, 1:]
    np.testing.assert_allclose(out, expected, atol=1e-3)


def test_a_zoom_out_by_two_samples_every_other_pixel():
    x = square(n=9)
    out = apply(layers.RandomAffine(), x, scale=2.0)
    np.testing.assert_allclose(out[:, 2:7, 2:7], x[:, 0::2, 0::2], atol=1e-3)
    assert np.all(out[:, :2] == 0) and np.all(out[:, 7:] == 0)


def test_draws_stay_within_their_limits():
    # A single bright pixel at the centre of a 41x41 image: a shift of at most 10% moves
    # it at most 4 pixels each way, and every image moves it differently.
    x = np.zeros((64, 41, 41, 1), "float32")
    x[:, 20, 20] = 1.0
    out = keras.ops.convert_to_numpy(layers.RandomAffine(translation=0.1, seed=0)(x, training=True))
    rows, cols = np.nonzero(out[..., 0].sum(axis=0))
    assert 20 - 5 <= rows.min() and rows.max() <= 20 + 5
    assert 20 - 5 <= cols.min() and cols.max() <= 20 + 5
    centres = [tuple(np.argwhere(o[..., 0] == o.max())[0]) for o in out]
    assert len(set(centres)) > 10
    # Rotation and zoom keep the centre pixel in place, whatever their draws.
    turned = layers.RandomAffine(rotation=20, zoom=0.2, seed=0)(x, training=True)
    assert np.all(keras.ops.convert_to_numpy(turned)[:, 20, 20, 0] > 0.5)


def test_identity_at_inference_and_with_no_strength():
    x = square()
    layer = layers.RandomAffine(rotation=10, translation=0.1, zoom=0.1, seed=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    still = layers.RandomAffine(seed=0)(x, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(still), x, atol=1e-3)


def test_same_seed_same_draws():
    x = square()
    a, b = (layers.RandomAffine(rotation=15, translation=0.1, seed=3)(x, training=True)
            for _ in range(2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_config_round_trip_and_shape():
    check_layer(layers.RandomAffine, dict(rotation=5.0, translation=0.05, zoom=0.05, seed=1),
                (2, 12, 12, 3), (2, 12, 12, 3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=-1), "rotation must be at least 0"),
    (dict(translation=1.5), "translation must be at least 0 and below 1"),
    (dict(zoom=1.0), "zoom must be"),
    (dict(fill_mode="edge"), "fill_mode must be one of"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.RandomAffine(**kwargs)

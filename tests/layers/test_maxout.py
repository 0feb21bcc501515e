import keras
import numpy as np
import pytest
from helpers import check_layer, load_in_fresh_process

import layers


def _numpy_maxout(x, kernel, bias, units, pieces):
    affine = x @ kernel + bias  # (..., pieces * units), piece-major
    return affine.reshape(*affine.shape[:-1], pieces, units).max(axis=-2)


def _set_random_weights(layer, input_shape, seed=0):
    layer.build(input_shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(weights)
    return weights


@pytest.mark.parametrize("input_shape", [(6, 5), (2, 4, 4, 5)])
def test_matches_numpy(input_shape):
    x = np.random.default_rng(1).normal(size=input_shape).astype("float32")
    layer = layers.Maxout(units=3, pieces=4)
    kernel, bias = _set_random_weights(layer, input_shape)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)),
        _numpy_maxout(x, kernel, bias, units=3, pieces=4),
        rtol=1e-5,
        atol=1e-5,
    )


def test_relu_is_a_special_case():
    x = np.random.default_rng(1).normal(size=(32, 5)).astype("float32")
    layer = layers.Maxout(units=3, pieces=2)
    kernel, bias = _set_random_weights(layer, x.shape)
    kernel[:, 3:] = 0.0  # the second piece is the constant 0
    bias[3:] = 0.0
    layer.set_weights([kernel, bias])
    expected = np.maximum(x @ kernel[:, :3] + bias[:3], 0.0)
    y = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert (y == 0).any() and (y > 0).any()


def test_trains_in_a_conv_model():
    # Is the bright bar in the left or the right half of the image?
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=256)
    images = rng.normal(0.0, 0.3, size=(256, 8, 8, 1)).astype("float32")
    for image, label in zip(images, labels):
        image[:, 4 * label : 4 * label + 4] += 1.0
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same"),  # linear
            layers.Maxout(4, pieces=3),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(images, labels, batch_size=32, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.95


@pytest.mark.parametrize(
    "kwargs, bad", [({"units": 0}, "units=0"), ({"units": 4, "pieces": 0}, "pieces=0"),
                    ({"units": 4, "pieces": 1.5}, "pieces=1.5")]
)
def test_bad_arguments_raise(kwargs, bad):
    with pytest.raises(ValueError, match=f"Received: {bad}"):
        layers.Maxout(**kwargs)


@pytest.mark.parametrize(
    "input_shape, output_shape", [((3, 5), (3, 4)), ((2, 6, 6, 3), (2, 6, 6, 4))]
)
def test_check_layer(tmp_path, input_shape, output_shape):
    check_layer(
        layers.Maxout,
        {"units": 4, "pieces": 3},
        input_shape=input_shape,
        expected_output_shape=output_shape,
        tmp_path=tmp_path,
    )


@pytest.mark.slow
def test_loads_in_fresh_process(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(6, 3),
            layers.Maxout(3, pieces=2),
        ]
    )
    path = tmp_path / "maxout.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(
        load_in_fresh_process(path, x), keras.ops.convert_to_numpy(model(x))
    )


def test_kernel_regularizer_adds_the_l2_penalty():
    layer = layers.Maxout(3, pieces=2, kernel_regularizer=keras.regularizers.L2(0.01))
    layer(np.ones((1, 4), "float32"))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    np.testing.assert_allclose(
        float(layer.losses[0]), 0.01 * np.sum(kernel**2), rtol=1e-5
    )
    clone = layers.Maxout.from_config(layer.get_config())
    assert clone.get_config()["kernel_regularizer"] == layer.get_config()["kernel_regularizer"]

"""`widen`: a trained model grown wider computes what it computed (Net2WiderNet)."""

import keras
import keras_tuner
import numpy as np
import pytest

from recipes import cnn, mlp
from recipes.engine.grow import widen


def model(recipe, **values):
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    return recipe.build_model(hp)


def trained_like(source, seed=0):
    """`source` with random weights and batch-norm statistics far from their initial
    values, as after training."""
    rng = np.random.default_rng(seed)
    for variable in source.weights:
        shape = tuple(variable.shape)
        if "moving_variance" in variable.path or "gamma" in variable.path:
            value = rng.uniform(0.5, 2.0, shape)
        elif len(shape) > 1:  # a kernel, scaled to its inputs: outputs far from saturated
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0.0, 0.3, shape)
        variable.assign(value.astype("float32"))
    return source


def images(n=16, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1)).astype("float32")


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_a_wider_convnet_computes_what_the_narrow_one_did(depth, batch_norm):
    narrow = trained_like(model(cnn.recipe, filters=16, depth=depth, batch_norm=batch_norm))
    wide = model(cnn.recipe, filters=32, depth=depth, batch_norm=batch_norm)
    x = images()
    widen(narrow, wide, noise=0.0)
    # Inference mode (moving statistics) and training mode (the batch's statistics:
    # copies of a channel have the channel's); dropout is off in both calls' outputs
    # only for inference, so training mode is compared with dropout at 0.
    np.testing.assert_allclose(wide.predict(x, verbose=0), narrow.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-6)
    if batch_norm:
        for m in (narrow, wide):
            m.layers[-2].rate = 0.0  # the dropout before the head
        np.testing.assert_allclose(wide(x, training=True), narrow(x, training=True),
                                   rtol=1e-4, atol=1e-6)
    filters = [[layer.filters for layer in m.layers if isinstance(layer, keras.layers.Conv2D)]
               for m in (narrow, wide)]
    assert filters[1] == [2 * f for f in filters[0]]


def test_a_wider_dense_network_computes_what_the_narrow_one_did():
    narrow = trained_like(model(mlp.recipe, units=24, depth=2, activation="relu"))
    wide = model(mlp.recipe, units=64, depth=2, activation="relu")  # 64 = 2x24 + 16
    x = images()
    widen(narrow, wide, noise=0.0)
    np.testing.assert_allclose(wide.predict(x, verbose=0), narrow.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-6)


def test_noise_sets_the_copies_apart_and_keeps_the_function_close():
    narrow = trained_like(model(cnn.recipe, filters=16))
    wide = model(cnn.recipe, filters=32)
    widen(narrow, wide, noise=1e-3, seed=3)
    first = wide.layers[2].kernel.numpy()  # the first convolution: 32 channels of 16
    copy, original = first[..., 16:], first[..., :16]
    assert not np.array_equal(copy, original)
    np.testing.assert_allclose(copy, original, atol=1e-2 * np.abs(original).max())
    x = images()
    np.testing.assert_allclose(wide.predict(x, verbose=0), narrow.predict(x, verbose=0),
                               rtol=0.05, atol=1e-3)


def test_what_cannot_be_widened_is_an_error_and_the_target_is_left_as_it_was():
    narrow = trained_like(model(cnn.recipe, filters=32))
    before = [w.numpy().copy() for w in narrow.weights]
    with pytest.raises(ValueError, match="narrower"):
        widen(trained_like(model(cnn.recipe, filters=64)), narrow)
    with pytest.raises(ValueError, match="not the same chain"):
        widen(trained_like(model(cnn.recipe, filters=16, depth=2)), narrow)
    maxout = model(mlp.recipe, units=16, activation="maxout")
    with pytest.raises(ValueError, match="no rule for layer"):
        widen(maxout, model(mlp.recipe, units=32, activation="maxout"))
    for variable, value in zip(narrow.weights, before):
        np.testing.assert_array_equal(variable.numpy(), value)
    with pytest.raises(ValueError, match="not the same chain"):
        widen(narrow, keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()]))


def test_a_table_model_is_not_a_chain_to_widen():
    # One input per column, each a scalar: `--auto`'s dry run of `widen` must fail with
    # the ValueError that makes its wider move start from fresh weights.
    import pandas as pd

    from recipes import data, tabular

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(dict(a=rng.normal(size=200), town=rng.choice(["x", "y"], 200)))
    frame["y"] = frame["a"] + (frame["town"] == "x")
    for columns in (["a", "town", "y"], ["a", "y"]):  # several inputs; one scalar input
        splits = data.load_table(frame=frame[columns], target="y")
        narrow, wide = (tabular.build_model({"units": units}, data=splits) for units in (8, 16))
        before = [w.numpy().copy() for w in wide.weights]
        with pytest.raises(ValueError, match="not a chain of layers from one input"):
            widen(narrow, wide)
        for variable, value in zip(wide.weights, before):
            np.testing.assert_array_equal(variable.numpy(), value)


def test_a_convnet_with_test_time_mirror_images_widens_through_them():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28, 3)).astype("uint8")
    photos = cnn.recipe.load_data(x=x, y=np.arange(40) % 2)
    narrow = trained_like(cnn.recipe.build_model({"filters": 16}, data=photos))
    wide = cnn.recipe.build_model({"filters": 32}, data=photos)
    assert "MirrorBatch" in [type(layer).__name__ for layer in wide.layers]
    widen(narrow, wide, noise=0.0)
    images = x[:6].astype("float32")
    np.testing.assert_allclose(wide.predict(images, verbose=0), narrow.predict(images, verbose=0),
                               rtol=1e-4, atol=1e-6)

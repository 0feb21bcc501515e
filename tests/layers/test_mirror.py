"""`MirrorBatch` and `MirrorMean`: test-time mirror images inside one chain of layers."""

import keras
import numpy as np

import layers


def chain(mirror, seed=0):
    """A small convnet, with the mirror layers around it or without, the same weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 5, 2))
    x = layers.MirrorBatch()(inputs) if mirror else inputs
    x = keras.layers.Conv2D(3, 3, activation="relu")(x)
    x = layers.FusedBatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    if mirror:
        outputs = layers.MirrorMean()(outputs)
    return keras.Model(inputs, outputs)


def test_inference_averages_the_image_and_its_mirror_image():
    x = np.random.default_rng(0).normal(size=(7, 6, 5, 2)).astype("float32")
    mirrored, plain = chain(True), chain(False)
    plain.set_weights(mirrored.get_weights())
    want = (plain.predict(x, verbose=0) + plain.predict(x[:, :, ::-1], verbose=0)) / 2
    got = mirrored.predict(x, batch_size=3, verbose=0)  # a last batch of one
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert np.abs(want - plain.predict(x, verbose=0)).max() > 1e-3  # the mirror counts
    np.testing.assert_allclose(mirrored(x[:1]), mirrored(x[:1, :, ::-1]), rtol=1e-5, atol=1e-7)


def test_training_passes_the_batch_through():
    x = np.random.default_rng(1).normal(size=(5, 6, 5, 2)).astype("float32")
    mirrored, plain = chain(True), chain(False)
    plain.set_weights(mirrored.get_weights())
    for model in (mirrored, plain):
        next(la for la in model.layers if isinstance(la, keras.layers.Dropout)).rate = 0.0
    np.testing.assert_allclose(mirrored(x, training=True), plain(x, training=True), rtol=1e-5)
    assert not np.allclose(mirrored(x, training=True), mirrored(x, training=False), atol=1e-4)


def test_the_layers_flip_along_the_width_and_halve_the_batch():
    x = np.arange(12.0).reshape(1, 2, 3, 2)
    doubled = keras.ops.convert_to_numpy(layers.MirrorBatch()(x))
    np.testing.assert_array_equal(doubled, np.concatenate([x, x[:, :, ::-1]]))
    np.testing.assert_array_equal(layers.MirrorBatch()(x, training=True), x)
    y = np.array([[0.2, 0.8], [0.6, 0.4], [0.4, 0.6], [0.0, 1.0]])
    np.testing.assert_allclose(layers.MirrorMean()(y), [[0.3, 0.7], [0.3, 0.7]])


def test_a_saved_model_loads_and_predicts_the_same(tmp_path):
    x = np.random.default_rng(2).normal(size=(3, 6, 5, 2)).astype("float32")
    model = chain(True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

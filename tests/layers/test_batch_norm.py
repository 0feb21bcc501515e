import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import check_layer

import layers


def _pair(**kwargs):
    """Keras's layer and the fused one, built alike, with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    keras_bn = keras.layers.BatchNormalization(**kwargs)
    fused = layers.FusedBatchNormalization(**kwargs)
    for layer in (keras_bn, fused):
        layer.build((None, 6, 5, 4))
    weights = [rng.uniform(0.5, 1.5, 4) if "gamma" in w.path or "variance" in w.path
               else rng.normal(size=4) for w in keras_bn.weights]
    keras_bn.set_weights(weights)
    fused.set_weights(weights)
    return keras_bn, fused


def _run(layer, x, training):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        # A loss that weighs each output differently, so every gradient path counts.
        loss = tf.reduce_sum(y * tf.reshape(tf.range(tf.size(y), dtype=y.dtype), y.shape) / 100.0)
    grads = tape.gradient(loss, [x] + layer.trainable_weights)
    return [y.numpy()] + [g.numpy() for g in grads] + [w.numpy() for w in layer.weights]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"center": False, "momentum": 0.9},
                                    {"scale": False, "epsilon": 1e-5}])
def test_matches_keras_outputs_gradients_and_moving_statistics(training, kwargs):
    x = np.random.default_rng(1).normal(3.0, 2.0, (8, 6, 5, 4)).astype("float32")
    keras_bn, fused = _pair(**kwargs)
    for theirs, ours in zip(_run(keras_bn, x, training), _run(fused, x, training)):
        np.testing.assert_allclose(ours, theirs, rtol=3e-4, atol=3e-5)  # float sums


def test_training_normalizes_each_channel_by_its_batch_statistics():
    # The formula: (x - mean) / sqrt(var + eps) * gamma + beta, over batch, height, width.
    x = np.random.default_rng(2).normal(-1.0, 3.0, (16, 3, 3, 2)).astype("float32")
    layer = layers.FusedBatchNormalization(momentum=0.5)
    y = layer(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * var, rtol=1e-5)


def test_other_inputs_go_through_keras():
    x = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    keras_bn, fused = keras.layers.BatchNormalization(), layers.FusedBatchNormalization()
    np.testing.assert_allclose(fused(x, training=True), keras_bn(x, training=True), rtol=1e-6)
    channels_first = layers.FusedBatchNormalization(axis=1)
    x = np.random.default_rng(4).normal(size=(8, 3, 5, 5)).astype("float32")
    y = channels_first(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)


def test_mixed_bfloat16_computes_in_float32_and_returns_bfloat16():
    x = np.random.default_rng(5).normal(2.0, 1.0, (8, 6, 5, 4)).astype("float32")
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        keras_bn, fused = _pair()
        theirs, ours = keras_bn(x, training=True), fused(x, training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert ours.dtype == theirs.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(ours, "float32"), tf.cast(theirs, "float32"),
                               rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(fused.moving_mean.numpy(), keras_bn.moving_mean.numpy(),
                               rtol=1e-2, atol=1e-2)


def test_a_convnet_trains_to_the_same_weights_as_with_keras_batch_norm():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 64)

    def model(norm):
        keras.utils.set_random_seed(7)
        inputs = keras.Input((12, 12, 1))
        h = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
        h = keras.layers.ReLU()(norm()(h))
        h = keras.layers.Conv2D(8, 3, use_bias=False)(keras.layers.MaxPooling2D()(h))
        h = keras.layers.ReLU()(norm()(h))
        outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(h))
        m = keras.Model(inputs, outputs)
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return m

    theirs = model(keras.layers.BatchNormalization)
    ours = model(layers.FusedBatchNormalization)
    for a, b in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-3, atol=1e-4)


def test_check_layer(tmp_path):
    y = check_layer(layers.FusedBatchNormalization, {"momentum": 0.9}, input_shape=(2, 4, 4, 3),
                    expected_output_shape=(2, 4, 4, 3), tmp_path=tmp_path)
    assert np.isfinite(y).all()

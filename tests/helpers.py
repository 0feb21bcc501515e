"""Test helpers: checks every custom layer needs (keras.src.testing is private, so we keep
our own), and `TinyRecipe`, a recipe that trains in a fraction of a second.

Usage:
    from helpers import check_layer
    check_layer(layers.Maxout, {"units": 4, "pieces": 3}, input_shape=(2, 5),
                expected_output_shape=(2, 4))
"""

import os
import subprocess
import sys
import textwrap

import hashlib
import json

import keras
import numpy as np
import tensorflow as tf

from recipes.data import Splits
from recipes.engine import Recipe, hyperparameters


def check_layer(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    tmp_path=None,
    call_kwargs=None,
    seed=0,
):
    """Builds `layer_cls(**init_kwargs)` and checks shape, config and `.keras` round trips.

    Returns the output of the original layer on a fixed random input.
    """
    call_kwargs = call_kwargs or {}
    rng = np.random.default_rng(seed)
    x = rng.normal(size=input_shape).astype("float32")

    layer = layer_cls(**init_kwargs)
    y = keras.ops.convert_to_numpy(layer(x, **call_kwargs))
    assert y.shape == tuple(expected_output_shape), (y.shape, expected_output_shape)
    symbolic = layer.compute_output_spec(keras.KerasTensor(input_shape)).shape
    assert tuple(symbolic) == tuple(expected_output_shape)

    # get_config round trip: the clone has the same config and, given the same
    # weights, the same outputs.
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    clone(x, **call_kwargs)
    assert clone.get_config() == config
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(x, **call_kwargs)), y, rtol=1e-6, atol=1e-6
    )

    # Serialization through the registered name (what .keras files use).
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(restored) is layer_cls

    if tmp_path is not None:
        inputs = keras.Input(input_shape[1:], batch_size=None)
        model = keras.Model(inputs, layer_cls.from_config(config)(inputs))
        path = os.path.join(str(tmp_path), "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(x)),
            keras.ops.convert_to_numpy(model(x)),
            rtol=1e-6,
            atol=1e-6,
        )
    return y


def load_in_fresh_process(path, x, imports=("layers",)):
    """Loads a `.keras` file in a new Python process importing only `imports`.

    Returns the model's predictions on `x` from that process.
    """
    x_path = str(path) + ".input.npy"
    y_path = str(path) + ".output.npy"
    np.save(x_path, x)
    code = textwrap.dedent(
        f"""
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import numpy as np
        import keras
        {"; ".join("import " + m for m in imports) or "pass"}
        model = keras.saving.load_model({str(path)!r})
        np.save({y_path!r}, keras.ops.convert_to_numpy(model(np.load({x_path!r}))))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return np.load(y_path)


class LearningRateRecorder(keras.callbacks.Callback):
    """Records the learning rate each training batch runs with."""

    def __init__(self):
        super().__init__()
        self.learning_rates = []

    def on_train_batch_begin(self, batch, logs=None):
        lr = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.learning_rates.append(float(lr))


# -- a tiny recipe, for the engine's tests ----------------------------------------------


def fingerprint(values):
    """A short hash of a trial's hyperparameter values."""
    return hashlib.sha1(json.dumps(sorted(values.items())).encode()).hexdigest()[:10]


def tiny_data(train_size=96, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, 8))

    def split(n):
        y = rng.integers(0, 3, n)
        x = (centers[y] + rng.normal(0, 1, (n, 8))).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, y)), n

    (train, n_train), (val, n_val), (test, n_test) = split(train_size), split(32), split(32)
    return Splits(
        "tiny", train, val, test, input_shape=(8,), num_classes=3,
        train_size=n_train, validation_size=n_val, test_size=n_test,
    )


class TinyRecipe(Recipe):
    """Three blobs in 8 dimensions, an MLP with seeded initializers; no dropout, no BN."""

    name = "tiny"
    description = "test recipe"
    defaults = dict(
        Recipe.defaults, epochs=2, batch_size=16, learning_rate=1e-2, warmup_epochs=0
    )

    def load_data(self, data_dir=None, limit=None, seed=42):
        return tiny_data(limit or 96)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        units = hp.Int("units", 4, 32, sampling="log", default=8)
        depth = hp.Int("depth", 1, 2, default=1)
        x = inputs = keras.Input((8,))
        for i in range(depth):
            init = keras.initializers.GlorotUniform(seed=i)
            x = keras.layers.Dense(units, activation="relu", kernel_initializer=init)(x)
        init = keras.initializers.GlorotUniform(seed=10)
        outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer=init)(x)
        # The name tells test callbacks which trial's values the model was built from.
        return keras.Model(inputs, outputs, name=f"tiny_{fingerprint(hp.values)}")

"""Checks every custom layer needs (keras.src.testing is private, so we keep our own).

Usage:
    from helpers import check_layer
    check_layer(layers.Maxout, {"units": 4, "pieces": 3}, input_shape=(2, 5),
                expected_output_shape=(2, 4))
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np


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

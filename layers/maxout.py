"""Maxout: a learned piecewise-linear activation (Goodfellow et al., 2013).

Each output unit is the largest of `pieces` affine functions of the input, so the
network learns its activation; ReLU is the special case `max(w.x + b, 0)`. Keras
has no maxout layer, so it is written here with `keras.ops`.
"""

import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recipes")
class Maxout(keras.layers.Layer):
    """Maxout layer: the largest of `pieces` affine projections of the last axis.

    `output[..., u] = max_p (inputs @ kernel_p + bias_p)[..., u]`. It works on
    inputs of any rank: on a `(batch, features)` input it is a dense maxout
    layer; on a `(batch, height, width, channels)` feature map it projects each
    pixel's channels (a 1x1 convolution) and takes the max. For a maxout
    convolution with a larger window, put it after a linear `Conv2D`.

    With `pieces=2` and the second piece's weights at zero it computes
    `relu(inputs @ kernel_0 + bias_0)`.

    The weights are stored as in `Dense(units * pieces)`: `kernel` has shape
    `(input_dim, pieces * units)` and `bias` `(pieces * units,)`, piece-major,
    so piece `p` is `kernel[:, p * units:(p + 1) * units]`.

    Args:
        units: Positive integer, size of the last output axis.
        pieces: Positive integer, number of affine pieces per unit.
            Defaults to `2`.
        kernel_initializer: Initializer for `kernel`. Defaults to
            `"glorot_uniform"`.
        bias_initializer: Initializer for `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer for `kernel`, e.g. `keras.regularizers.L2`.
            Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3),  # linear: Maxout is its activation
        Maxout(16, pieces=2),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    ```
    """

    def __init__(
        self,
        units,
        pieces=2,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("pieces", pieces)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value}"
                )
        self.units = int(units)
        self.pieces = int(pieces)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.pieces * self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.pieces * self.units,),
            initializer=self.bias_initializer,
            name="bias",
        )

    def call(self, inputs):
        kernel = ops.reshape(self.kernel, (-1, self.pieces, self.units))
        bias = ops.reshape(self.bias, (self.pieces, self.units))
        # (..., input_dim) x (input_dim, pieces, units) -> (..., pieces, units)
        affine = ops.tensordot(inputs, kernel, axes=1) + bias
        return ops.max(affine, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "pieces": self.pieces,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
            }
        )
        return config

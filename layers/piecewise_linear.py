"""A piecewise-linear curve as a constant plus a sum of hard sigmoids.

Hung-yi Lee's ML 2021, lecture 1: `y = b + sum_i c_i * hard_sigmoid(b_i + sum_j w_ij
x_j)`, each hidden unit one ramp ("blue function"), `c_i` its height, `b` the
constant. Keras has no such layer; it is a two-layer network whose hidden
activation is a hard sigmoid, written out so the lecture's names map onto weights.
"""

import numbers

import keras
from keras import ops

from layers.hard_sigmoid import hard_sigmoid


@keras.saving.register_keras_serializable(package="recipes")
class PiecewiseLinear(keras.layers.Layer):
    """Piecewise-linear function: a constant plus a sum of `units` hard sigmoids.

    Computes `y = b + sum_i c_i * h(b_i + sum_j w_ij x_j)` over the last axis of
    the input. With `smooth=False`, `h(z) = clip(z, 0, 1)`: the ramp sits on
    `z` in [0, 1], as the lecture draws it (`hard_sigmoid(z, 0, 1)`), so in one
    input a ramp starts at `-b_i / w_i` and is `1 / |w_i|` wide. Off its ramp a
    unit has zero gradient, so the default initialisers start every ramp
    across the origin (`b_i` in [0, 1]): on centred inputs no unit starts dead.
    With `smooth=True`, `h(z) = sigmoid(4 * z - 2)`, the sigmoid with the same
    centre (`z = 0.5`) and slope as the ramp, so the weights mean the same in
    both variants.

    Weights: `kernel[j, i]` is `w_ij` (shape `(input_dim, units)`), `bias` is
    `b_i` (`(units,)`), `heights` is `c` (`(units, outputs)`) and `constant`
    is `b` (`(outputs,)`).

    Args:
        units: Positive integer, number of hard sigmoids (ramps). A curve with
            `k` kinks in one input can be drawn with `k` of them; a few times
            more make gradient descent find it reliably.
        outputs: Positive integer, number of curves computed from the same
            ramps (size of the last output axis). Defaults to `1`.
        smooth: Boolean, use a sigmoid instead of the hard sigmoid.
            Defaults to `False`.
        kernel_initializer: Initializer for `kernel`. Defaults to
            `"he_uniform"`: ramps about as wide as standardised inputs.
        bias_initializer: Initializer for `bias`. Defaults to `None`, which
            means `RandomUniform(0.0, 1.0)`: every ramp crosses the origin.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    ```python
    x = np.linspace(-1, 1, 256)[:, None]
    y = np.abs(x) - 2 * np.maximum(x - 0.5, 0)  # kinks at 0 and 0.5
    model = keras.Sequential([keras.Input((1,)), PiecewiseLinear(units=16)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit(x, y, epochs=300, batch_size=256, verbose=0)
    ```
    """

    def __init__(
        self,
        units,
        outputs=1,
        smooth=False,
        kernel_initializer="he_uniform",
        bias_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("outputs", outputs)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value}"
                )
        self.units = int(units)
        self.outputs = int(outputs)
        self.smooth = bool(smooth)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(
            bias_initializer or keras.initializers.RandomUniform(0.0, 1.0)
        )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.units,), initializer=self.bias_initializer, name="bias"
        )
        self.heights = self.add_weight(
            shape=(self.units, self.outputs),
            initializer="glorot_uniform",
            name="heights",
        )
        self.constant = self.add_weight(
            shape=(self.outputs,), initializer="zeros", name="constant"
        )

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel) + self.bias
        if self.smooth:
            ramps = ops.sigmoid(4.0 * z - 2.0)
        else:
            ramps = hard_sigmoid(z, lower=0.0, upper=1.0)
        return ops.matmul(ramps, self.heights) + self.constant

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.outputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "outputs": self.outputs,
                "smooth": self.smooth,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config

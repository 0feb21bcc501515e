"""Hard sigmoid with a chosen ramp: 0 below `lower`, a straight line, 1 above `upper`.

Keras ships a hard sigmoid with a fixed ramp over [-3, 3]; the lecture's
piecewise-linear curves need the ramp's ends to be chosen, so this module adds them.
With the defaults it matches `keras.activations.hard_sigmoid` bit for bit.
"""

import keras
from keras import ops


def _check_ramp(lower, upper):
    if not lower < upper:
        raise ValueError(
            "`lower` must be smaller than `upper`. "
            f"Received: lower={lower}, upper={upper}"
        )


@keras.saving.register_keras_serializable(package="recipes")
def hard_sigmoid(x, lower=-3.0, upper=3.0):
    """Hard sigmoid: 0 below `lower`, a linear ramp, 1 above `upper`.

    `hard_sigmoid(x) = clip((x - lower) / (upper - lower), 0, 1)`. It is the
    difference of two ReLUs:
    `relu((x - lower) / width) - relu((x - upper) / width)`, with
    `width = upper - lower`.

    Args:
        x: Input tensor.
        lower: Float, where the ramp leaves 0. Defaults to `-3.0`, as in
            `keras.activations.hard_sigmoid`.
        upper: Float, where the ramp reaches 1; must be larger than `lower`.
            Defaults to `3.0`.

    Returns:
        A tensor of the same shape and dtype as `x`.

    Example:

    ```python
    hard_sigmoid(np.array([-4.0, -1.5, 0.0, 1.5, 4.0]))
    # [0.0, 0.25, 0.5, 0.75, 1.0]
    hard_sigmoid(np.array([-1.0, 0.25, 2.0]), lower=0.0, upper=1.0)
    # [0.0, 0.25, 1.0]
    ```
    """
    _check_ramp(lower, upper)
    x = ops.convert_to_tensor(x)
    width = upper - lower
    # Clip before dividing, as Keras does (`relu6(x + 3) / 6`), so the defaults
    # give exactly the same floats as `keras.activations.hard_sigmoid`.
    return ops.clip(x - lower, 0.0, width) / width


@keras.saving.register_keras_serializable(package="recipes")
class HardSigmoid(keras.layers.Layer):
    """Hard sigmoid activation layer with a chosen ramp.

    Outputs 0 below `lower`, 1 above `upper` and a straight line in between
    (see `hard_sigmoid`).

    Args:
        lower: Float, where the ramp leaves 0. Defaults to `-3.0`.
        upper: Float, where the ramp reaches 1; must be larger than `lower`.
            Defaults to `3.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Example:

    ```python
    layer = HardSigmoid(lower=0.0, upper=2.0)
    result = layer(np.array([-1.0, 0.5, 1.0, 3.0]))
    # result = [0.0, 0.25, 0.5, 1.0]
    ```
    """

    def __init__(self, lower=-3.0, upper=3.0, **kwargs):
        super().__init__(**kwargs)
        _check_ramp(lower, upper)
        self.lower = float(lower)
        self.upper = float(upper)
        self.supports_masking = True

    def call(self, inputs):
        return hard_sigmoid(inputs, self.lower, self.upper)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"lower": self.lower, "upper": self.upper})
        return config

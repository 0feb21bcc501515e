"""Piecewise-linear encoding of a number, and filling its missing values.

`PiecewiseLinearEncoding` is the numeric encoding of Gorishniy et al. (2022), "On
Embeddings for Numerical Features in Tabular Deep Learning": with bin edges
`b_0 < b_1 < ... < b_T` (quantiles of the training values), component `t` of `x` is 0
below its bin, 1 above it and a straight line inside it. A dense layer over the components
is then any piecewise-linear curve of `x` with knots at the edges: the course's curve made
of pieces, placed where the data is. The first bin extends its line below `b_0` and the
last above `b_T`, so values outside the training range extrapolate linearly.
Where one value holds a bin's share of the rows or more (a number that is often exactly
0, or a round figure), quantile edges coincide and the encoding cannot tell that value
from its neighbours; `atoms` adds a 0/1 component for each such value, so that a model
can split on it as a tree does.

`FillMissing` replaces NaN by a value fixed in training (the training median) and can
return a 0/1 indicator beside it, as fastai's `FillMissing` does, so that a model serving
raw rows takes a missing number as it comes. Keras has no layer for either.
"""

import keras
from keras import ops


def _column(x):
    """`x` as a float tensor of shape `(batch, 1)`."""
    x = ops.convert_to_tensor(x)
    return ops.expand_dims(x, -1) if len(x.shape) == 1 else x


@keras.saving.register_keras_serializable(package="recipes")
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Encodes one number as `len(edges) - 1` piecewise-linear components.

    For bins `[b_{t-1}, b_t]`, component `t` is `(x - b_{t-1}) / (b_t - b_{t-1})`, clipped
    to at least 0 (except in the first bin) and at most 1 (except in the last). Then,
    for each of `atoms`, a component that is 1 where `x` equals it, else 0.

    Args:
        edges: increasing bin edges, at least two (e.g. quantiles of the training
            values).
        atoms: values that get their own 0/1 component (e.g. values that hold a
            bin's share of the training rows). Defaults to none.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape: `(batch,)` or `(batch, 1)`. Output shape:
    `(batch, len(edges) - 1 + len(atoms))`.

    Example:

    ```python
    layer = PiecewiseLinearEncoding(edges=[0.0, 1.0, 3.0])
    layer(np.array([-1.0, 0.5, 2.0, 5.0]))
    # [[-1.0, 0.0], [0.5, 0.0], [1.0, 0.5], [1.0, 2.0]]
    ```
    """

    def __init__(self, edges, atoms=(), **kwargs):
        super().__init__(**kwargs)
        edges = [float(e) for e in edges]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(
                f"edges must be at least two strictly increasing numbers. Received: edges={edges}"
            )
        self.edges = edges
        self.atoms = [float(a) for a in atoms]

    def call(self, inputs):
        x = ops.cast(_column(inputs), self.compute_dtype)
        left = ops.convert_to_tensor(self.edges[:-1], self.compute_dtype)
        width = ops.convert_to_tensor(
            [b - a for a, b in zip(self.edges, self.edges[1:])], self.compute_dtype
        )
        ratio = (x - left) / width
        bins = len(self.edges) - 1
        inf = float("inf")
        low = ops.convert_to_tensor([-inf] + [0.0] * (bins - 1), self.compute_dtype)
        high = ops.convert_to_tensor([1.0] * (bins - 1) + [inf], self.compute_dtype)
        encoded = ops.minimum(ops.maximum(ratio, low), high)
        if not self.atoms:
            return encoded
        atoms = ops.convert_to_tensor(self.atoms, self.compute_dtype)
        flags = ops.cast(ops.equal(x, atoms), self.compute_dtype)
        return ops.concatenate([encoded, flags], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.edges) - 1 + len(self.atoms))

    def get_config(self):
        config = super().get_config()
        config.update({"edges": list(self.edges), "atoms": list(self.atoms)})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class FillMissing(keras.layers.Layer):
    """Replaces NaN by `value`; with `indicator=True` also returns where it did.

    Args:
        value: the number put in place of NaN (e.g. the training median).
        indicator: also return a 0/1 column, 1 where the input was NaN. Defaults to
            `False`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape: `(batch,)` or `(batch, 1)`. Output: the filled values, shape
    `(batch, 1)`; with `indicator`, a tuple `(filled, missing)` of that shape each.

    Example:

    ```python
    filled, missing = FillMissing(2.5, indicator=True)(np.array([1.0, np.nan]))
    # filled = [[1.0], [2.5]], missing = [[0.0], [1.0]]
    ```
    """

    def __init__(self, value, indicator=False, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)
        self.indicator = bool(indicator)

    def call(self, inputs):
        x = ops.cast(_column(inputs), self.compute_dtype)
        missing = ops.isnan(x)
        filled = ops.where(missing, ops.cast(self.value, x.dtype), x)
        if self.indicator:
            return filled, ops.cast(missing, self.compute_dtype)
        return filled

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], 1)
        return (shape, shape) if self.indicator else shape

    def get_config(self):
        config = super().get_config()
        config.update({"value": self.value, "indicator": self.indicator})
        return config


@keras.saving.register_keras_serializable(package="recipes")
class RobustScale(keras.layers.Layer):
    """`(x - center) / scale`, smoothly clipped: `z / sqrt(1 + (z / clip)^2)`.

    RealMLP's numeric preprocessing (Holzmueller et al., 2024): a robust scaling (the
    median and a spread that outliers do not set, such as the interquartile range),
    then a clip that keeps small values as they are and bends large ones towards
    `+-clip`, so that an outlier cannot dominate a layer that reads the number.

    Args:
        center: subtracted first (e.g. the training median).
        scale: divided by next; above 0 (e.g. the interquartile range / 1.349, which
            is the standard deviation of a normal distribution).
        clip: the bound the clipped values approach. Defaults to `3.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape: `(batch,)` or `(batch, 1)`. Output shape: `(batch, 1)`.

    Example:

    ```python
    RobustScale(center=10.0, scale=2.0)(np.array([10.0, 12.0, 1010.0]))
    # [[0.0], [0.9487], [2.9999]]
    ```
    """

    def __init__(self, center, scale, clip=3.0, **kwargs):
        super().__init__(**kwargs)
        if not scale > 0 or not clip > 0:
            raise ValueError(
                f"scale and clip must be above 0. Received: scale={scale}, clip={clip}")
        self.center, self.scale, self.clip = float(center), float(scale), float(clip)

    def call(self, inputs):
        z = (ops.cast(_column(inputs), self.compute_dtype) - self.center) / self.scale
        return z / ops.sqrt(1.0 + ops.square(z / self.clip))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"center": self.center, "scale": self.scale, "clip": self.clip})
        return config

"""Per-layer output size, receptive field and jump of a convolutional Keras model.

The CNN lecture's arithmetic, layer by layer along each spatial axis:

- output size: `N = floor((W - F + 2P) / S) + 1`, with input size `W`, effective kernel
  size `F = dilation * (kernel - 1) + 1`, stride `S` and padding `P` per side. `'valid'`
  means `P = 0`; `'same'` pads `max((ceil(W / S) - 1) * S + F - W, 0)` in total, so
  `P` may be a half-integer (Keras puts the odd pixel at the end); `'causal'` pads
  `F - 1` at the start.
- jump (the distance, in input pixels, between neighbouring outputs):
  `j_out = j_in * S`.
- receptive field (the input pixels one output sees): `r_out = r_in + (F - 1) * j_in`.

Pooling is the same arithmetic with `F` = pool size. Zero padding and cropping change
only the size. Activations, normalisation, dropout, rescaling, shape-preserving
augmentation and `Dense` (which acts on each position alone, like a 1x1 convolution)
pass through. `Flatten` and global pooling end the spatial part: the table stops there.
Nested models and `keras.layers.Pipeline`s (an augmentation block, say) are walked
through.

Only chains of layers are understood (a `Sequential` model, or a functional model
without branches), with `channels_last` data; anything else raises a `ValueError` naming
the layer. Each computed size is checked against the size Keras built the layer with,
and a mismatch raises a `ValueError` too.
"""

import dataclasses
import math

import keras

import layers

_L = keras.layers


def _classes(*names):
    """The `keras.layers` classes with these names that this Keras version has."""
    return tuple(getattr(_L, n) for n in names if hasattr(_L, n))


_CONVOLUTIONS = _classes(
    "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D",
    "DepthwiseConv1D", "DepthwiseConv2D",
)
_POOLING = _classes(
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
)
_RESIZING = _classes(
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D",
)
_ENDS = _classes(
    "Flatten",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
)
_CONTAINERS = (keras.Model, *_classes("Pipeline"))
_POINTWISE = _classes(
    "Dense", "EinsumDense", "Identity", "Activation", "ReLU", "LeakyReLU",
    "PReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization",
    "GroupNormalization", "UnitNormalization", "RMSNormalization", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
    "GaussianNoise", "AlphaDropout", "ActivityRegularization", "Rescaling",
    "Normalization", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomShear",
    "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomColorJitter",
    "RandomColorDegeneration", "RandomSharpness", "RandomInvert", "RandomPosterization",
    "RandomGaussianBlur", "RandomErasing", "RandomPerspective", "AutoContrast",
    "Equalization", "Solarization",
) + (layers.RandomAffine, layers.MirrorBatch, layers.MirrorMean)


@dataclasses.dataclass(frozen=True)
class FieldRow:
    """One layer of a `receptive_field` table; tuples have one entry per spatial axis.

    Attributes:
        name: the layer's name.
        layer_type: its class name.
        kernel: effective kernel size `F` (dilation included); `None` for the input.
        stride: stride `S`; `None` for the input.
        padding: padding per side `P` (half the total; negative for cropping);
            `None` for the input.
        output_size: output size `N`; `None` for an axis of unknown size, or for all
            of them once the layer is not spatial.
        receptive_field: input pixels seen by one output; `None` once not spatial.
        jump: input pixels between neighbouring outputs; `None` once not spatial.
    """

    name: str
    layer_type: str
    kernel: tuple | None
    stride: tuple | None
    padding: tuple | None
    output_size: tuple | None
    receptive_field: tuple | None
    jump: tuple | None

    @property
    def spatial(self):
        """Whether the layer's output still has spatial axes."""
        return self.receptive_field is not None


class FieldTable(list):
    """A list of `FieldRow`s that prints as a table."""

    def __str__(self):
        def fmt(values, collapse=True):
            if values is None:
                return "-"
            texts = ["?" if v is None else f"{v:g}" for v in values]
            return texts[0] if collapse and len(set(texts)) == 1 else "x".join(texts)

        header = ("layer", "type", "F", "S", "P", "output N", "receptive field", "jump")
        lines = [header] + [
            (
                r.name,
                r.layer_type,
                fmt(r.kernel),
                fmt(r.stride),
                fmt(r.padding),
                fmt(r.output_size, collapse=False) if r.spatial else "not spatial",
                fmt(r.receptive_field, collapse=False),
                fmt(r.jump),
            )
            for r in self
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in lines
        )


def _walk(layers):
    """Yields the layers in order, walking into nested models and pipelines."""
    for layer in layers:
        if isinstance(layer, _CONTAINERS):
            yield from _walk(layer.layers)
        else:
            yield layer


def _conv_arithmetic(layer, size, kernel, stride, dilation, padding):
    """Effective kernel, padding per side and output size along one axis."""
    kernel = dilation * (kernel - 1) + 1
    if padding == "valid":
        total = 0
    elif padding == "causal":
        total = kernel - 1
    elif padding == "same":
        if size is None:
            return kernel, None, None
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    else:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) has an unknown padding. "
            f"Received: padding={padding!r}"
        )
    out = None if size is None else (size - kernel + total) // stride + 1
    return kernel, total / 2, out


def _check_channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) uses channels_first data, "
            f"which receptive_field does not handle. Received: "
            f"data_format={layer.data_format!r}"
        )


def _keras_spatial_size(layer):
    """The spatial output size Keras built the layer with, or `None` if unknown."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    return tuple(shape[1:-1])


def receptive_field(model, passthrough=()):
    """Tabulates output size, receptive field and jump, layer by layer.

    Args:
        model: a built Keras model whose input is `(batch, *spatial, channels)`: a
            `Sequential` model or a functional chain.
        passthrough: extra layer classes that act on each position alone (a custom
            activation, say). Defaults to none.

    Returns:
        A `FieldTable`: a list of `FieldRow`s, starting with the input, that prints as
        a table.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((28, 28, 1)),
    ...     keras.layers.Conv2D(8, 3),
    ...     keras.layers.MaxPooling2D(),
    ...     keras.layers.Conv2D(8, 3, strides=2, padding="same"),
    ...     keras.layers.Flatten(),
    ...     keras.layers.Dense(10),
    ... ])
    >>> table = receptive_field(model)
    >>> table[3].output_size, table[3].receptive_field, table[3].jump
    ((7, 7), (8, 8), (4, 4))
    >>> print(table)
    """
    try:
        input_shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(
            f"The model {model.name!r} is not built: start it with "
            "`keras.Input(shape)`."
        ) from None
    if len(input_shape) < 3:
        raise ValueError(
            f"The model {model.name!r} has no spatial input axes: its input must be "
            f"(batch, *spatial, channels). Received: input shape {input_shape}"
        )
    size = input_shape[1:-1]
    ones = (1,) * len(size)
    field, jump = ones, ones
    table = FieldTable(
        [FieldRow("input", "Input", None, None, None, size, field, jump)]
    )
    for layer in _walk(model.layers):
        kind = type(layer).__name__
        if isinstance(layer, _L.InputLayer):
            continue
        if isinstance(layer, _ENDS):
            table.append(FieldRow(layer.name, kind, None, None, None, None, None, None))
            break
        if isinstance(layer, _CONVOLUTIONS + _POOLING):
            _check_channels_last(layer)
            conv = isinstance(layer, _CONVOLUTIONS)
            kernel = layer.kernel_size if conv else layer.pool_size
            dilation = layer.dilation_rate if conv else ones
            per_axis = [
                _conv_arithmetic(layer, w, f, s, d, layer.padding)
                for w, f, s, d in zip(size, kernel, layer.strides, dilation)
            ]
            kernel, padding, size = (tuple(column) for column in zip(*per_axis))
            stride = tuple(layer.strides)
        elif isinstance(layer, _RESIZING):
            _check_channels_last(layer)
            padding_layer = hasattr(layer, "padding")
            amounts = layer.padding if padding_layer else layer.cropping
            # As ((before, after), ...), one pair per axis.
            amounts = (amounts,) if len(size) == 1 else amounts
            sign = 1 if padding_layer else -1
            kernel, stride = ones, ones
            padding = tuple(sign * sum(a) / 2 for a in amounts)
            size = tuple(
                None if w is None else w + sign * sum(a) for w, a in zip(size, amounts)
            )
        elif isinstance(layer, _POINTWISE + tuple(passthrough)):
            kernel, stride, padding = ones, ones, (0,) * len(size)
        else:
            raise ValueError(
                f"receptive_field does not understand layer {layer.name!r} of class "
                f"{kind}. If it acts on each position alone, pass "
                f"passthrough=({kind},)."
            )
        field = tuple(r + (f - 1) * j for r, f, j in zip(field, kernel, jump))
        jump = tuple(j * s for j, s in zip(jump, stride))
        built = _keras_spatial_size(layer)
        if built is not None and any(
            b is not None and b != n for b, n in zip(built, size)
        ):
            raise ValueError(
                f"Layer {layer.name!r} ({kind}): computed output size {size} but Keras "
                f"built {tuple(built)}. Is the model a chain of layers?"
            )
        table.append(
            FieldRow(layer.name, kind, kernel, stride, padding, size, field, jump)
        )
    return table

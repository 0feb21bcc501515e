"""Model pieces the recipes share: a convolutional body and a dense body, tunable by `hp`."""

import keras

import layers as recipe_layers

ACTIVATIONS = ("relu", "sigmoid", "leaky_relu", "maxout")


def conv_body(x, hp, filters=32, depth=1, stages=3, batch_norm=True, dropout=0.3, dense=0):
    """`stages` stages of convolutions with 2x2 max pooling between them, then a
    flattened feature map, optionally through a hidden dense layer, under dropout.

    Each stage holds `depth` 3x3 convolutions (each with batch norm, by
    `layers.FusedBatchNormalization`, and ReLU); the last of a stage uses 'valid'
    padding, the others 'same', so a 28x28 input goes
    26 -> 13 -> 11 -> 5 -> 3 with three stages. The width doubles at every stage,
    and the final feature map is flattened; with `dense` units, a dense layer (with
    batch norm and ReLU) follows it, before the dropout. Tunables: `depth`
    (convolutions per stage), `filters` (log scale), `batch_norm`, `dropout`, `dense`
    (0: no hidden dense layer); their defaults are the arguments.
    """
    depth = hp.Int("depth", 1, 3, default=depth)
    filters = hp.Int("filters", 16, 128, sampling="log", default=filters)
    batch_norm = hp.Boolean("batch_norm", default=batch_norm)
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.05, default=dropout)
    dense = hp.Choice("dense", [0, 128, 256, 512], default=dense)
    for stage in range(stages):
        if stage:
            x = keras.layers.MaxPooling2D()(x)
        for conv in range(depth):
            padding = "valid" if conv == depth - 1 else "same"
            x = keras.layers.Conv2D(
                filters * 2**stage, 3, padding=padding, use_bias=not batch_norm
            )(x)
            if batch_norm:
                x = recipe_layers.FusedBatchNormalization()(x)
            x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    if dense:
        x = keras.layers.Dense(dense, use_bias=not batch_norm)(x)
        if batch_norm:
            x = recipe_layers.FusedBatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    return keras.layers.Dropout(dropout)(x)


def regularizer(l1=0.0, l2=0.0):
    """The weight penalty `l1 * sum|w| + l2 * sum w^2`, or `None` when both are 0.

    The lecture's two penalties: under gradient descent L1 pulls every weight toward 0
    by the same step, so weights the data does not need reach exactly 0 (a sparse
    model), while L2 shrinks each weight in proportion to its size, so they get
    smaller but stay non-zero.

    Args:
        l1: the L1 factor. Defaults to `0.0`.
        l2: the L2 factor. Defaults to `0.0`.

    Returns:
        A `keras.regularizers.L1L2`, or `None`.

    Example:

    >>> layer = keras.layers.Dense(8, kernel_regularizer=regularizer(l1=1e-4))
    """
    for name, value in (("l1", l1), ("l2", l2)):
        if not value >= 0:
            raise ValueError(f"{name} must be 0 or more. Received: {name}={value!r}")
    if not (l1 or l2):
        return None
    return keras.regularizers.L1L2(l1=float(l1), l2=float(l2))


def dense_body(
    x, hp, units=512, depth=2, activation="relu", dropout=0.2, l2=0.0, l1=0.0,
    penalty_scale=1.0,
):
    """`depth` dense layers of `units` with a chosen activation, dropout, L1 and L2.

    `activation="maxout"` uses `layers.Maxout(units, pieces=2)`: a learned activation
    with ReLU as a special case. Tunables: `depth`, `units` (log scale), `activation`,
    `dropout`, `l2` and `l1` (each log scale, 0 disables it; see `regularizer`), on
    every layer's kernel, times `penalty_scale`: a loss in the target's own units (a
    regression's mean squared error) passes the target's variance, so that the same
    `l2` weighs the same against the loss whatever the units.
    """
    depth = hp.Int("depth", 1, 4, default=depth)
    units = hp.Int("units", 32, 1024, sampling="log", default=units)
    activation = hp.Choice("activation", list(ACTIVATIONS), default=activation)
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.05, default=dropout)
    l2 = hp.Choice("l2", [0.0, 1e-5, 1e-4, 1e-3, 1e-2], default=l2)
    l1 = hp.Choice("l1", [0.0, 1e-5, 1e-4, 1e-3], default=l1)
    penalty = regularizer(l1=l1 * penalty_scale, l2=l2 * penalty_scale)
    for _ in range(depth):
        if activation == "maxout":
            x = recipe_layers.Maxout(units, pieces=2, kernel_regularizer=penalty)(x)
        else:
            x = keras.layers.Dense(
                units, activation=activation, kernel_regularizer=penalty
            )(x)
        x = keras.layers.Dropout(dropout)(x)
    return x


def classifier_head(x, num_classes):
    """Softmax output kept in float32 so mixed precision stays stable."""
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32")(x)

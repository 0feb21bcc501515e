"""A trained model grown wider without changing what it computes (Net2WiderNet).

`widen(source, target)` sets the weights of `target`, the same stack of layers as
`source` with more channels (convolutions) or units (dense layers), so that it computes
what `source` computes (Chen, Goodfellow and Shlens, "Net2Net", 2016): channel `j` of a
widened layer copies channel `j mod n` of the `n` it had; the layer after it divides
the weights it reads from the copies of a channel by their number, so their sum is
the one weight it replaces; batch normalization copies each channel's scale, offset
and moving statistics. Copies of a channel have the same batch statistics as the
channel, so the model computes the same in training mode as in inference mode.

`--auto`'s "wider" move starts from the weights it grows from this way (see
`recipes.engine.auto`), with a little noise on the widened kernels so that the copies
of a channel learn apart.

Example:

    narrow.load_weights("step-0/model.weights.h5")
    widen(narrow, wide)      # wide(x) == narrow(x), up to the noise
"""

import keras
import numpy as np

import layers

# Layers with no weights that act on each channel alone: the channel map goes through.
_PER_CHANNEL = (
    keras.layers.InputLayer, keras.layers.Rescaling, keras.layers.ReLU,
    keras.layers.Activation, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D,
    keras.layers.Dropout, layers.MirrorBatch, layers.MirrorMean,
)


def widen(source, target, noise=1e-3, seed=0):
    """Sets `target`'s weights from `source`'s so that `target` computes what `source`
    does (see the module docstring).

    Args:
        source: a built `keras.Model`: a chain of `Conv2D`, `Dense`, batch
            normalization, `Flatten` and layers that act on each channel alone (ReLU,
            pooling, dropout, rescaling, test-time mirror images).
        target: the same chain with at least as many channels or units in each layer
            and the same input and output shapes.
        noise: the standard deviation of the Gaussian noise added to each widened
            kernel, relative to the standard deviation of the kernel it copies; `0`
            keeps the function exactly. Defaults to `1e-3`.
        seed: seeds the noise. Defaults to 0.

    Raises:
        ValueError: the two models are not the same chain of layers (one input of
            known channels, as an image or a vector; not a table's one input per
            column), or a layer is of a kind `widen` cannot map, or `target` is
            narrower somewhere; nothing of `target` is changed then.
    """
    shapes = [tuple(x.shape) for m in (source, target) for x in m.inputs]
    if len(shapes) != 2 or len(shapes[0]) < 2 or shapes[0][-1] is None:
        raise ValueError("widen: the models are not a chain of layers from one input of "
                         f"known channels. Received inputs of shapes {shapes}")
    pairs = list(zip(source.layers, target.layers))
    if len(source.layers) != len(target.layers) or any(
            type(s) is not type(t) for s, t in pairs):
        raise ValueError("widen: the two models are not the same chain of layers.")
    rng = np.random.default_rng(seed)
    mapping = np.arange(source.inputs[0].shape[-1])  # source channel of each channel
    weights = []
    for s, t in pairs:
        if isinstance(s, (keras.layers.Conv2D, keras.layers.Dense)):
            mapping, new = _kernel(s, t, mapping, noise, rng)
        elif isinstance(s, keras.layers.BatchNormalization):
            if s.axis not in (-1, len(s.input.shape) - 1):
                raise ValueError(f"widen: {s.name} normalizes axis {s.axis}, not the channels.")
            new = [w.numpy()[mapping] for w in s.weights]
        elif isinstance(s, keras.layers.Flatten):
            positions = int(np.prod(s.input.shape[1:-1]))
            channels = s.input.shape[-1]
            mapping = (np.arange(positions)[:, None] * channels + mapping[None, :]).ravel()
            new = []
        elif isinstance(s, _PER_CHANNEL):
            new = []
        else:
            raise ValueError(f"widen: no rule for layer {s.name} ({type(s).__name__}).")
        if [w.shape for w in new] != [tuple(w.shape) for w in t.weights]:
            raise ValueError(f"widen: {t.name}'s weights do not match {s.name}'s widened.")
        weights.append((t, new))
    if len(mapping) != target.outputs[0].shape[-1] or np.any(mapping != np.arange(len(mapping))):
        raise ValueError("widen: the two models' outputs differ.")
    for layer, new in weights:
        for variable, value in zip(layer.weights, new):
            variable.assign(value.astype(variable.dtype))


def _kernel(s, t, mapping, noise, rng):
    """`(the output channel map, the target layer's weights)` of a `Conv2D` or
    `Dense` whose inputs come through `mapping`."""
    kernel = s.kernel.numpy()
    if kernel.shape[-2] != mapping.max(initial=-1) + 1 or t.kernel.shape[-2] != len(mapping):
        raise ValueError(f"widen: {t.name}'s inputs do not match.")
    outputs, wanted = kernel.shape[-1], t.kernel.shape[-1]
    if wanted < outputs:
        raise ValueError(f"widen: {t.name} is narrower than {s.name}.")
    out = np.arange(wanted) % outputs
    copies = np.bincount(mapping, minlength=kernel.shape[-2])
    new = kernel[..., mapping, :][..., out] / copies[mapping][:, None]
    if noise and (wanted > outputs or len(mapping) > kernel.shape[-2]):
        new = new + rng.normal(0.0, noise * kernel.std(), new.shape)
    weights = [new] + ([s.bias.numpy()[out]] if s.use_bias else [])
    return out, weights

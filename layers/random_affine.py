"""Random rotation, shift and zoom of images as one affine transform.

Keras has the three as separate layers (`RandomRotation`, `RandomTranslation`,
`RandomZoom`); chained, each resamples the whole batch, so an image is interpolated
three times. Composed into one matrix per image, the batch is resampled once
(`keras.ops.image.affine_transform`): half the input pipeline's time on MNIST
(benchmarks/pipeline.py) and one bilinear blur instead of three.
"""

import math

import keras
from keras import ops

_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


@keras.saving.register_keras_serializable(package="recipes")
class RandomAffine(keras.layers.Layer):
    """Turns, shifts and zooms each image of a batch at random, in training only.

    Each image gets its own draws, uniform in `[-limit, limit]`: an angle of at most
    `rotation` degrees about the image's centre, a shift of at most `translation` of
    its height (vertically) and of its width (horizontally), and a zoom by a factor
    `1 + z` with `|z| <= zoom`, the same along both axes (values above 0 zoom out).
    The output pixel at `p` is read, bilinearly, at `c + (1 + z) R (p - c) - t` of the
    input (`c` the centre, `R` the rotation, `t` the shift). At inference
    (`training=False`) the layer returns its input.

    Args:
        rotation: largest angle, in degrees either way. Defaults to `0.0`.
        translation: largest shift, as a fraction of the height and width.
            Defaults to `0.0`.
        zoom: largest zoom in or out, as a fraction. Defaults to `0.0`.
        fill_mode: how pixels from outside the image are filled: `"constant"`,
            `"nearest"`, `"wrap"`, `"mirror"` or `"reflect"`. Defaults to
            `"constant"`.
        fill_value: the value of `"constant"` filling. Defaults to `0.0`.
        seed: seed of the random draws. Defaults to `None`.
        **kwargs: base layer keyword arguments, such as `name`.

    Call arguments:
        images: a batch of shape `(batch, height, width, channels)`.
        training: transform (`True`) or return `images` (`False`). Defaults to
            `False`.

    Example:

    ```python
    augment = RandomAffine(rotation=5, translation=0.05, zoom=0.05, seed=0)
    images = np.random.uniform(0, 255, size=(8, 28, 28, 1)).astype("float32")
    augment(images, training=True).shape  # (8, 28, 28, 1)
    ```
    """

    def __init__(self, rotation=0.0, translation=0.0, zoom=0.0, fill_mode="constant",
                 fill_value=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value, top in (("rotation", rotation, 180.0), ("translation", translation, 1.0),
                                 ("zoom", zoom, 1.0)):
            if not 0.0 <= float(value) < top:
                raise ValueError(
                    f"{name} must be at least 0 and below {top:g}. Received: {name}={value}"
                )
        if fill_mode not in _FILL_MODES:
            raise ValueError(
                f"fill_mode must be one of {_FILL_MODES}. Received: fill_mode={fill_mode!r}"
            )
        self.rotation, self.translation, self.zoom = float(rotation), float(translation), float(zoom)
        self.fill_mode, self.fill_value, self.seed = fill_mode, float(fill_value), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        batch = ops.shape(images)[0]

        def draw(limit):
            return keras.random.uniform((batch,), -limit, limit, seed=self.seed_generator)

        angle = draw(math.radians(self.rotation))
        scale = 1.0 + draw(self.zoom)
        shift = ops.stack([draw(self.translation), draw(self.translation)], axis=1)
        return self.transform(images, angle, scale, shift)

    def transform(self, images, angle, scale, shift):
        """Applies given draws: `angle` in radians, `scale` (`1 + z`) and `shift` as
        `(vertical, horizontal)` fractions of the size, one row per image."""
        images = ops.convert_to_tensor(images)
        dtype = images.dtype if "float" in str(images.dtype) else "float32"
        height, width = (ops.cast(ops.shape(images)[i], dtype) for i in (1, 2))
        angle, scale, shift = (ops.cast(v, dtype) for v in (angle, scale, shift))
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        cy, cx = (height - 1) / 2, (width - 1) / 2
        ty, tx = shift[:, 0] * height, shift[:, 1] * width
        zero = ops.zeros_like(cos)
        # The projective transform [a0 a1 a2 b0 b1 b2 c0 c1] maps an output pixel (x, y)
        # to the input pixel (a0 x + a1 y + a2, b0 x + b1 y + b2).
        matrix = ops.stack(
            [cos, -sin, cx - cos * cx + sin * cy - tx,
             sin, cos, cy - sin * cx - cos * cy - ty, zero, zero],
            axis=1,
        )
        return ops.image.affine_transform(
            images, matrix, interpolation="bilinear", fill_mode=self.fill_mode,
            fill_value=self.fill_value,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "translation": self.translation,
            "zoom": self.zoom,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "seed": self.seed,
        }

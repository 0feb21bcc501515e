"""cnn: image classification with a small convnet, on your own images.

    from recipes import cnn
    result = cnn.train(images="photos/")              # one subfolder per class
    result = cnn.train(dataset="fashion_mnist")       # any TFDS image-classification name
    result = cnn.train(x=x, y=y)                      # numpy arrays
    result.export("out/model")                        # raw pixels in, class names out

Input shape, channels, classes and the pixel range come from the data; rescaling is
inside the model, so exports take raw pixels. Augmentation follows the kind of images:
`digits` (small turns, shifts and zooms, never a flip) for digits, characters and other
grayscale images, `photos` (left-right flips, shifts, zooms, never upside down) for photos
and clothing; `augment="none"` (or another preset) overrides it.

The model: three stages of 3x3 convolutions with 2x2 max pooling between them (widths
`filters`, x2, x4; more stages for images larger than 40 pixels), batch normalization,
dropout and a softmax head. Tunables: depth (convolutions per stage), filters (log
scale), batch_norm, dropout, optimizer and learning rate (log scale).

How the model follows the data: the image size sets the number of stages (3 up to 40
pixels, one more per doubling of the side, at most 6; fewer for images too small for
3), the channels the input, the classes the head. The number of examples sets the
number of training steps, and with it batch normalization's momentum (shorter
trainings average their statistics over fewer steps, see
`recipes.engine.recipe.batch_norm_momentum`); width and depth stay the defaults, which
were chosen on three kinds of 10,000 images (`benchmarks/cnn_defaults.py`): `--auto` grows or
shrinks them on the diagnosis of the run.
"""

import math

import keras

from recipes.engine import blocks, hyperparameters
from recipes.engine.recipe import Recipe
from recipes.engine.tasks import ImageTask


class Cnn(ImageTask):
    name = "cnn"
    defaults = dict(
        Recipe.defaults, epochs=12, batch_size=128, learning_rate=2e-3, warmup_epochs=0.2
    )
    # Light augmentation: within 12 epochs, stronger augmentation costs more than it
    # gives, on MNIST and on harder, distorted digits alike (benchmarks/cnn_tasks.py).
    augment_options = {
        "digits": dict(rotation=5.0, translation=0.05, zoom=0.05),
        "photos": dict(translation=0.05, zoom=0.05),
    }
    filters = 32
    depth = 1
    # On: chosen on the validation accuracy of three kinds of images (digits,
    # Kuzushiji characters, distorted digits) against wider, longer and plain models
    # of similar cost (benchmarks/README.md, "cnn task defaults"). `cnn_mnist` keeps
    # its own measured setting (off).
    batch_norm = True
    dropout = 0.3

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs, x = self.image_inputs(data)
        stages = self.stages(min(inputs.shape[1:3]))
        x = blocks.conv_body(
            x, hp, filters=self.filters, depth=self.depth, stages=stages,
            batch_norm=self.batch_norm, dropout=self.dropout,
        )
        outputs = blocks.classifier_head(x, self.classes(data))
        return keras.Model(inputs, outputs, name=self.name)

    @staticmethod
    def stages(side):
        """Stages for images of `side` pixels: 3 up to 40 pixels, one more per doubling
        (at most 6), fewer where the image is too small for 3 (each stage pools by 2
        and its last convolution takes 2 pixels)."""
        wanted = 3 if side <= 40 else min(6, 3 + math.ceil(math.log2(side / 40)))
        for stages in range(wanted, 0, -1):
            size = side
            for stage in range(stages):
                size = (size // 2 if stage else size) - 2
            if size >= 1:
                return stages
        raise ValueError(f"Images of {side} pixels are too small for a convnet: at least 3.")


recipe = Cnn()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

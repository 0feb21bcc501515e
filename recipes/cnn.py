"""cnn: image classification with a small convnet, on your own images.

    from recipes import cnn
    result = cnn.train(images="photos/")              # one subfolder per class
    result = cnn.train(dataset="fashion_mnist")       # any TFDS image-classification name
    result = cnn.train(x=x, y=y)                      # numpy arrays
    result = cnn.train(images="photos/", hp={"backbone": "mobilenet_v3_small"})  # pretrained
    result.export("out/model")                        # raw pixels in, class names out

Input shape, channels, classes and the pixel range come from the data; rescaling is
inside the model, so exports take raw pixels. Augmentation follows the kind of images:
`digits` (small turns, shifts and zooms, never a flip) for digits, characters and other
grayscale images, `photos` (left-right flips, shifts, zooms, never upside down) for photos
and clothing; `augment="none"` (or another preset) overrides it.

The model: three stages of 3x3 convolutions with 2x2 max pooling between them (widths
`filters`, x2, x4; more stages for images larger than 40 pixels), batch normalization,
a hidden dense layer of `dense` units, dropout and a softmax head. Where training flips
the images (the `photos` augmentation), the model predicts the mean of its predictions
for each image and its mirror image (test-time augmentation, `tta`, inside the model
and so in its exports: `layers.MirrorBatch`). Tunables: depth (convolutions per stage),
filters (log scale), batch_norm, dense (0: none), dropout, label_smoothing, tta,
optimizer and learning rate (log scale).

How the model follows the data: the image size sets the number of stages (3 up to 40
pixels, one more per doubling of the side, at most 6; fewer for images too small for
3), the channels the input, the classes the head. The number of examples sets the
number of training steps, and with it batch normalization's momentum (shorter
trainings average their statistics over fewer steps, see
`recipes.engine.recipe.batch_norm_momentum`); width and depth stay the defaults, which
were chosen on four kinds of images, digits, Kuzushiji characters, distorted digits and
Fashion-MNIST's clothing (`benchmarks/cnn_defaults.py`): `--auto` grows or shrinks them
on the diagnosis of the run.

From a pretrained backbone: the hyperparameter `backbone` (`hp={"backbone": NAME}`, CLI
`--hp backbone=NAME`, one of the four names of `recipes.engine.backbone.BACKBONES`:
`mobilenet_v3_small`, `mobilenet_v3_large`, `efficientnet_v2_b0`, `resnet50`; `tune`
chooses among `none` and those whose weights are in Keras's cache) puts a Keras application, ImageNet weights from
Keras's cache or the file `weights=PATH` (`--weights PATH`), under a dropout and softmax
head, its preprocessing inside the model, and trains it as fastai's
`fine_tune` does: the head alone, then the whole network at a tenth of the rate (see
`recipes.engine.backbone`). `--auto` moves a from-scratch run on photos to a backbone
when weights are at hand (`weights=`, whose backbone it tells from the file, or Keras's
cache): see `recipes.engine.backbone.at_hand`.
"""

import math

import keras

import layers as recipe_layers
from recipes.engine import backbone as backbones
from recipes.engine import blocks, hyperparameters
from recipes.engine.recipe import DataOption, Recipe
from recipes.engine.tasks import ImageTask


class Cnn(ImageTask):
    name = "cnn"
    # 14 epochs: with the dense layer, two more than before, chosen on validation on the
    # four kinds within Fashion-MNIST's five minutes (benchmarks/README.md, "With
    # Fashion-MNIST among the kinds").
    defaults = dict(
        Recipe.defaults, epochs=14, batch_size=128, learning_rate=2e-3, warmup_epochs=0.2
    )
    # Light augmentation: within 12-14 epochs, stronger augmentation costs more than it
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
    # A hidden dense layer: chosen with Fashion-MNIST among the kinds, on which the
    # convnet underfits (its training accuracy, augmented and under dropout, barely
    # above its validation accuracy). It adds capacity for a small part of the
    # convolutions' cost; more convolutions per stage or wider ones cost several times
    # the time (benchmarks/README.md, cnn_defaults.py, "With Fashion-MNIST among the
    # kinds"). Label smoothing and random erasing regularize, and lost accuracy there:
    # both stay off.
    dense = 256
    dropout = 0.3
    data_options = {
        **ImageTask.data_options,
        "weights": DataOption(
            "the weights file (.weights.h5, .h5 or .keras) of the backbone chosen with "
            "--hp backbone=NAME; default: Keras's cache (~/.keras/models/), downloaded "
            "there with a network", metavar="PATH",
        ),
    }

    def load_data(self, data_dir=None, limit=None, seed=42, *, weights=None, **image_options):
        """The images (see `ImageTask.load_data`) with the backbone's weights file, if
        given (checked before any image is read)."""
        if weights is not None:
            backbones.check_file(weights)
        splits = super().load_data(data_dir, limit, seed, **image_options)
        return backbones.with_weights(splits, weights)

    def auto_data(self, data, hp):
        """`Recipe.auto_data`: with a weights file and no backbone named, the backbone
        the file holds, told before any step (`recipes.engine.backbone.auto_data`)."""
        return backbones.auto_data(data, hp)

    def hyperparameters(self, hp=None):
        """`Recipe.hyperparameters`, with `backbone` checked against every backbone
        the recipe knows (`recipes.engine.backbone.CHOICES`), not only those a search
        would try."""
        if isinstance(hp, dict) and "backbone" in hp:
            values = dict(hp)
            name = values.pop("backbone")
            backbones.check_name(name)
            hp = super().hyperparameters(values)
            hp.values["backbone"] = name
            return hp
        return super().hyperparameters(hp)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        name = hp.Choice("backbone", backbones.choices(hp.values.get("backbone")), default="none")
        # Registered for every model, so that the space is the same whatever the images.
        mirror = hp.Boolean("tta", default=True) and self.flips(data)
        if name == "none" and getattr(data, "weights", None) is not None and \
                getattr(data, "weights_backbone", None) is None:
            raise ValueError(
                "weights= is the file of a pretrained backbone: choose the backbone with "
                f"hp={{'backbone': NAME}} (--hp backbone=NAME). Received: weights={data.weights!r}"
            )
        inputs, x = self.image_inputs(data)
        if mirror:
            x = recipe_layers.MirrorBatch()(x)
        if name != "none":
            x = self.pretrained(hp, data, name, x)
        else:
            x = blocks.conv_body(
                x, hp, filters=self.filters, depth=self.depth,
                stages=self.stages(min(inputs.shape[1:3])), batch_norm=self.batch_norm,
                dropout=self.dropout, dense=self.dense,
            )
        outputs = blocks.classifier_head(x, self.classes(data))
        if mirror:
            # In float32, as the head it averages (mixed precision stays stable).
            outputs = recipe_layers.MirrorMean(dtype="float32")(outputs)
        return keras.Model(inputs, outputs, name=self.name)

    def flips(self, data):
        """Whether training on `data` flips images left-right (its augmentation holds a
        horizontal `RandomFlip`): then the model also predicts from each image's mirror
        image (`tta`, see `layers.MirrorBatch`)."""
        augmentation = self.augmentation(data) if data is not None else None
        return augmentation is not None and any(
            isinstance(layer, keras.layers.RandomFlip) and "horizontal" in layer.mode
            for layer in augmentation.layers
        )

    def pretrained(self, hp, data, name, x):
        """Backbone `name`'s features of images `x`, under dropout. Without data (a
        probe of the search space) the backbone gets random weights; with data, the
        file given with it (`weights=`) or Keras's cached ImageNet weights."""
        if data is None:
            weights = None
        else:
            weights = getattr(data, "weights", None) or "imagenet"
        x = backbones.features(x, name, weights)
        rate = hp.Float("dropout", 0.0, 0.5, step=0.05, default=self.dropout)
        return keras.layers.Dropout(rate)(x)

    def compile(self, model, hp=None, steps_per_epoch=None, epochs=None, replicas=1,
                warmup_epochs=None, clipnorm=None):
        """`Recipe.compile`; a model with a backbone, given `steps_per_epoch`, then
        trains in two phases (`recipes.engine.backbone.two_phases`)."""
        super().compile(model, hp, steps_per_epoch, epochs, replicas, warmup_epochs, clipnorm)
        if steps_per_epoch and backbones.has_backbone(model):
            backbones.two_phases(model, steps_per_epoch, epochs or self.defaults["epochs"])
        return model

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

"""mlp: image classification with a multilayer perceptron, on your own images.

    from recipes import mlp
    result = mlp.train(dataset="fashion_mnist", hp={"activation": "maxout"})

The same data as `cnn` (a TFDS name, a folder of class subfolders, arrays or a
`tf.data.Dataset`; shapes, classes and pixel range read from it), flattened: an MLP sees
pixels, not shapes, so there is no augmentation (`augment=` is an error; no `--augment`).
Softmax + cross-entropy. Tunables: depth, units (log scale), activation (`relu`,
`sigmoid`, `leaky_relu` or `maxout`), dropout, input_dropout (of the pixels, before the
first layer), L1, L2, optimizer (`sgd`, `momentum`, `adagrad`, `rmsprop`, `adam`) and
learning rate.
"""

import keras

from recipes.engine import blocks, hyperparameters
from recipes.engine.recipe import Recipe
from recipes.engine.tasks import ImageTask


class Mlp(ImageTask):
    name = "mlp"
    defaults = dict(Recipe.defaults, epochs=20, batch_size=128, learning_rate=1e-3)
    # The image options but `augment` (no --augment flag): there is none to choose.
    data_options = {k: v for k, v in ImageTask.data_options.items() if k != "augment"}
    units = 512
    depth = 2
    dropout = 0.2
    input_dropout = 0.2

    def augmentation(self, data=None, scale=1.0):
        return None  # pixels, not shapes: nothing to keep natural

    def check_data_options(self, data_options):
        """Refuses `augment` with its reason, then checks as every recipe does."""
        if "augment" in data_options:
            raise ValueError(
                f"Recipe {self.name!r} trains without augmentation (an MLP sees pixels, "
                "not shapes): leave augment out, or use cnn, which augments. "
                f"Received: augment={data_options['augment']!r}"
            )
        return super().check_data_options(data_options)

    def load_data(self, data_dir=None, limit=None, seed=42, **data_options):
        """The images of the one source given (see `ImageTask.load_data`); no
        `augment`."""
        self.check_data_options(data_options)
        return super().load_data(data_dir, limit, seed, **data_options)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs, x = self.image_inputs(data)
        x = keras.layers.Flatten()(x)
        input_dropout = hp.Float("input_dropout", 0.0, 0.5, step=0.05,
                                 default=self.input_dropout)
        if input_dropout:
            x = keras.layers.Dropout(input_dropout)(x)
        x = blocks.dense_body(x, hp, units=self.units, depth=self.depth, dropout=self.dropout)
        outputs = blocks.classifier_head(x, self.classes(data))
        return keras.Model(inputs, outputs, name=self.name)


recipe = Mlp()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

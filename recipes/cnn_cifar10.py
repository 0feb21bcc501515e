"""cnn_cifar10: a convnet for CIFAR-10 through tensorflow-datasets, with photo augmentation.

    from recipes import cnn_cifar10
    result = cnn_cifar10.train(epochs=30)

Augmentation (`photos`: horizontal flip and zoom, never a vertical flip: an upside-down
truck is not a natural photo) runs on the fly in training only.
"""

import keras

from recipes.engine import Recipe, blocks, hyperparameters


class CnnCifar10(Recipe):
    name = "cnn_cifar10"
    dataset = "cifar10"
    augment = "photos"
    defaults = dict(Recipe.defaults, epochs=30, batch_size=128, learning_rate=3e-3)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs = keras.Input((32, 32, 3), name="image")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = blocks.conv_body(x, hp, filters=64, depth=2, dropout=0.3)
        return keras.Model(inputs, blocks.classifier_head(x, 10), name=self.name)


recipe = CnnCifar10()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

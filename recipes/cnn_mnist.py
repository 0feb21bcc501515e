"""cnn_mnist: a small convnet for MNIST with batch norm, digit augmentation, warm-up + cosine.

    from recipes import cnn_mnist
    result = cnn_mnist.train(epochs=5)

Pixels go in raw (0-255); rescaling is inside the model, so an exported SavedModel takes
raw images. Augmentation (`digits`: small rotation, shift and zoom, never a flip) runs on
the fly in the input pipeline, in training only.
"""

import keras

from recipes import blocks
from recipes.engine import Recipe, hyperparameters


class CnnMnist(Recipe):
    name = "cnn_mnist"
    description = "CNN on MNIST: batch norm, digit augmentation, warm-up + cosine"
    dataset = "mnist"
    augment = "digits"
    defaults = dict(Recipe.defaults, epochs=8, batch_size=128, learning_rate=3e-3)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs = keras.Input((28, 28, 1), name="image")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = blocks.conv_body(x, hp, filters=32, depth=1, dropout=0.3)
        return keras.Model(inputs, blocks.classifier_head(x, 10), name=self.name)


recipe = CnnMnist()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

"""cnn_mnist: a small convnet for MNIST with digit augmentation, warm-up + cosine, optional batch norm.

    from recipes import cnn_mnist
    result = cnn_mnist.train(epochs=5)

Pixels go in raw (0-255); rescaling is inside the model, so an exported SavedModel takes
raw images. Augmentation (`digits`: small rotation, shift and zoom, never a flip) runs on
the fly in the input pipeline, in training only.
"""

import keras

from recipes.engine import Recipe, blocks, hyperparameters


class CnnMnist(Recipe):
    name = "cnn_mnist"
    dataset = "mnist"
    augment = "digits"
    # Light: with a 12-epoch budget, stronger augmentation costs more than it gives.
    augment_options = dict(rotation=5.0, translation=0.05, zoom=0.05)
    defaults = dict(
        Recipe.defaults, epochs=12, batch_size=128, learning_rate=2e-3, warmup_epochs=0.2
    )

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs = keras.Input((28, 28, 1), name="image")
        x = keras.layers.Rescaling(1 / 255)(inputs)
        # Batch norm is a tunable, off by default: on a CPU it costs 65% more time per
        # epoch than it saves in epochs (benchmarks/cnn_mnist.py).
        x = blocks.conv_body(x, hp, filters=32, depth=1, batch_norm=False, dropout=0.3)
        return keras.Model(inputs, blocks.classifier_head(x, 10), name=self.name)


recipe = CnnMnist()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

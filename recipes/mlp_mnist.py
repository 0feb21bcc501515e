"""mlp_mnist: a multilayer perceptron for MNIST, softmax + cross-entropy.

    from recipes import mlp_mnist
    result = mlp_mnist.train(hp={"activation": "maxout"})

Tunables: depth, units, activation (`relu`, `sigmoid`, `leaky_relu` or `maxout`),
dropout, L2, optimizer (`sgd` with momentum, `adagrad`, `rmsprop`, `adam`) and learning
rate. No augmentation: an MLP sees pixels, not shapes.
"""

import keras

from recipes.engine import Recipe, blocks, hyperparameters


class MlpMnist(Recipe):
    name = "mlp_mnist"
    dataset = "mnist"
    defaults = dict(Recipe.defaults, epochs=20, batch_size=128, learning_rate=1e-3)

    def build_model(self, hp=None, data=None):
        hp = hyperparameters(hp)
        inputs = keras.Input((28, 28, 1), name="image")
        x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
        x = blocks.dense_body(x, hp, units=512, depth=2, dropout=0.2)
        return keras.Model(inputs, blocks.classifier_head(x, 10), name=self.name)


recipe = MlpMnist()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

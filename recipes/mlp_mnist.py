"""mlp_mnist: the mlp task on MNIST, softmax + cross-entropy.

    from recipes import mlp_mnist
    result = mlp_mnist.train(hp={"activation": "maxout"})

A preset of `mlp`: the data is MNIST (through tensorflow-datasets), the defaults the
ones measured on it (benchmarks/mlp_mnist.py). Tunables: depth, units, activation
(`relu`, `sigmoid`, `leaky_relu` or `maxout`), dropout, input_dropout, L1, L2, optimizer
(`sgd`, `momentum`, `adagrad`, `rmsprop`, `adam`) and learning rate. No augmentation: an MLP sees
pixels, not shapes.
"""

from recipes.mlp import Mlp


class MlpMnist(Mlp):
    name = "mlp_mnist"
    dataset = "mnist"


recipe = MlpMnist()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

"""cnn_mnist: the cnn task on MNIST, with light digit augmentation and measured defaults.

    from recipes import cnn_mnist
    result = cnn_mnist.train(epochs=5)

A preset of `cnn`: the data is MNIST (through tensorflow-datasets), the defaults are
the ones measured on it (benchmarks/cnn_mnist.py). Pixels go in raw (0-255); rescaling
is inside the model, so an exported SavedModel takes raw uint8 images. Augmentation
(`digits`: small rotation, shift and zoom, never a flip) runs on the fly in the input
pipeline, in training only.
"""

from recipes.cnn import Cnn


class CnnMnist(Cnn):
    name = "cnn_mnist"
    dataset = "mnist"
    augment = "digits"
    # Batch norm is a tunable, off: on a CPU it costs more time per epoch than it saves
    # in epochs on MNIST (benchmarks/README.md, cnn_mnist.py).
    batch_norm = False
    # The preset keeps the model it was measured with, whatever the task's defaults.
    dense = 0


recipe = CnnMnist()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

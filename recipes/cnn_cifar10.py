"""cnn_cifar10: the cnn task on CIFAR-10 through TFDS, with photo augmentation.

    from recipes import cnn_cifar10
    result = cnn_cifar10.train(epochs=30)

A preset of `cnn`: the data is CIFAR-10 (downloaded by tensorflow-datasets), with two
convolutions per stage and 64 filters. Augmentation (`photos`: horizontal flip and zoom,
never a vertical flip: an upside-down truck is not a natural photo) runs on the fly in
training only; predictions average each photo's and its mirror image's (`cnn`'s `tta`).
"""

from recipes.cnn import Cnn


class CnnCifar10(Cnn):
    name = "cnn_cifar10"
    dataset = "cifar10"
    augment = "photos"
    input_shape = (32, 32, 3)
    defaults = dict(Cnn.defaults, epochs=30, batch_size=128, learning_rate=3e-3, warmup_epochs=1)
    filters = 64
    depth = 2
    dense = 0  # the model the preset was set up with, whatever the task's defaults


recipe = CnnCifar10()
train, search, build_model = recipe.train, recipe.search, recipe.build_model

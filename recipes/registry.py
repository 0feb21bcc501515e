"""The registry of named recipes (as timm's model registry): name -> module."""

import importlib

# name: (module, one-line description). Kept static so that `list_recipes()` and
# `python -m recipes list` need no TensorFlow import.
RECIPES = {
    "regression": ("recipes.regression", "Next-step forecasting: linear, lags, piecewise linear, deep ReLU"),
    "mlp_mnist": ("recipes.mlp_mnist", "MLP on MNIST: softmax + cross-entropy, relu/sigmoid/maxout, dropout, L2"),
    "cnn_mnist": ("recipes.cnn_mnist", "CNN on MNIST: digit augmentation, warm-up + cosine, optional batch norm"),
    "cnn_cifar10": ("recipes.cnn_cifar10", "CNN on CIFAR-10 through TFDS: photo augmentation"),
}


def list_recipes():
    """Returns the names of all registered recipes, sorted."""
    return sorted(RECIPES)


def describe(name):
    """Returns the one-line description of a recipe."""
    return RECIPES[_check(name)][1]


def get(name):
    """Returns the `Recipe` registered under `name`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    return importlib.import_module(RECIPES[_check(name)][0]).recipe


def _check(name):
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}. Known recipes: {', '.join(list_recipes())}."
        )
    return name

"""recipes: Keras training recipes, searches and diagnostics from two deep-learning courses.

    from recipes import cnn_mnist
    result = cnn_mnist.train(epochs=5)

`list_recipes()` names every recipe; `get(name)` returns one. Importing this package or a
recipe module does no TensorFlow work: data, devices and models are touched only when a
recipe trains, searches or builds.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from recipes.registry import get, list_recipes  # noqa: E402

__all__ = ["get", "list_recipes"]
__version__ = "0.1.0"

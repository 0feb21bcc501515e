"""
Title: A strong MNIST convnet in one call
Description: Train the `cnn_mnist` recipe, read its diagnosis, export a SavedModel.

Run: `python examples/cnn_mnist.py` (set RECIPES_DATA_DIR if MNIST is not downloadable).
"""

from recipes import cnn_mnist

# Digit augmentation (no flips), warm-up + cosine, batch norm off (a tunable): defaults.
result = cnn_mnist.train(epochs=8)
print("test accuracy:", result.test_metrics["accuracy"])

# The lecture's flowchart, applied to this run's losses.
print(result.diagnosis)

# A SavedModel that takes raw uint8 pixels, names its outputs, and needs only TensorFlow.
print("exported to", result.export("out/cnn_mnist"))

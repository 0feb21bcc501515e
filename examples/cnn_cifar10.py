"""
Title: CIFAR-10 with photo augmentation
Description: The `cnn_cifar10` recipe: horizontal flips and zoom, never a vertical flip.

Run: `python examples/cnn_cifar10.py` (downloads CIFAR-10 through tensorflow-datasets).
"""

from recipes import cnn_cifar10

result = cnn_cifar10.train(epochs=30)
print("test accuracy:", result.test_metrics["accuracy"])
print(result.diagnosis)

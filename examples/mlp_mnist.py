"""
Title: Maxout vs ReLU in an MNIST MLP
Description: The `mlp_mnist` recipe with two activations, side by side.

Run: `python examples/mlp_mnist.py`
"""

from recipes import mlp_mnist

for activation in ("relu", "maxout"):
    result = mlp_mnist.train(hp={"activation": activation}, verbose=0)
    print(f"{activation:>7}: test accuracy {result.test_metrics['accuracy']:.4f}")

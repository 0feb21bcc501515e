"""cnn_mnist against the keras.io "Simple MNIST convnet", side by side in one run.

    python benchmarks/cnn_mnist.py [--epochs N] [--reference-epochs 15]

The reference is keras.io's example as published: conv 32 / conv 64 (3x3, ReLU) with
2x2 max pooling, dropout 0.5, Adam, batch 128, 15 epochs, 10% of the training set held
out for validation. Both read MNIST through `recipes.data` and are timed the same way:
training wall time (validation included), not counting the test evaluation this
benchmark adds after every epoch to find the time to reach a test accuracy.
Prints one table: final test accuracy, training time, time to 99.0% and to 99.5%.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

from recipes import cnn_mnist, data  # noqa: E402


class TestCurve(keras.callbacks.Callback):
    """After every epoch: training seconds so far (test evaluation excluded), test acc."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.points = []

    def on_train_begin(self, logs=None):
        self.start, self.excluded = time.perf_counter(), 0.0

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        _, acc = self.model.evaluate(self.x, self.y, batch_size=1000, verbose=0)
        self.points.append((now - self.start - self.excluded, acc))
        self.excluded += time.perf_counter() - now

    def seconds_to(self, target):
        return next((t for t, acc in self.points if acc >= target), float("nan"))


def reference_model():
    """keras.io/examples/vision/mnist_convnet, unchanged."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="recipe epochs")
    parser.add_argument("--reference-epochs", type=int, default=15)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    splits = data.load("mnist", validation_split=0.0)
    x_train, y_train = splits.arrays("train")
    x_test, y_test = splits.arrays("test")
    rows = []

    if not args.skip_reference:
        keras.utils.set_random_seed(42)
        model = reference_model()
        model.compile(
            loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"]
        )
        curve = TestCurve(x_test / 255.0, y_test)
        model.fit(
            x_train / 255.0, y_train, batch_size=128, epochs=args.reference_epochs,
            validation_split=0.1, callbacks=[curve], verbose=2,
        )
        rows.append(("keras.io reference", args.reference_epochs, curve))

    curve = TestCurve(x_test, y_test)  # the recipe takes raw pixels
    result = cnn_mnist.train(epochs=args.epochs, callbacks=[curve], verbose=2,
                             run_dir="runs/bench-cnn_mnist")
    rows.append(("recipes cnn_mnist", result.settings["epochs"], curve))

    print(f"\n{'model':<20} {'epochs':>6} {'test acc':>9} {'train s':>8} "
          f"{'s to 99.0%':>10} {'s to 99.5%':>10}")
    for name, epochs, c in rows:
        t, acc = c.points[-1]
        print(f"{name:<20} {epochs:>6} {acc:>9.4f} {t:>8.1f} "
              f"{c.seconds_to(0.99):>10.1f} {c.seconds_to(0.995):>10.1f}")
    print(f"recipe test accuracy (restored best weights): {result.test_metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()

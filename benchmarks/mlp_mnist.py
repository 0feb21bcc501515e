"""mlp_mnist (ReLU and maxout) against the classic Keras MNIST MLP, side by side in one run.

    python benchmarks/mlp_mnist.py [--epochs 20]

The reference is the classic Keras example `mnist_mlp.py` (two Dense(512, relu) layers with
dropout 0.2, RMSprop, batch 128, 20 epochs), which reports about 98.4% test accuracy.
Prints one table: test accuracy and training time of each.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

from recipes import data, mlp_mnist  # noqa: E402


def reference_model():
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    splits = data.load("mnist", validation_split=0.0)
    (x, y), (xt, yt) = splits.arrays("train"), splits.arrays("test")
    rows = []

    keras.utils.set_random_seed(42)
    model = reference_model()
    model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x.reshape(-1, 784) / 255, y, batch_size=128, epochs=args.epochs,
              validation_split=0.1, verbose=0)
    seconds = time.perf_counter() - start
    _, acc = model.evaluate(xt.reshape(-1, 784) / 255, yt, verbose=0)
    rows.append(("keras mnist_mlp", acc, seconds))

    for activation in ("relu", "maxout"):
        result = mlp_mnist.train(epochs=args.epochs, hp={"activation": activation}, verbose=0,
                                 diagnose=False, run_dir=f"runs/bench-mlp-{activation}")
        rows.append((f"recipes mlp_mnist {activation}", result.test_metrics["accuracy"],
                     result.timings["fit_seconds"]))

    print(f"\n{'model':<26} {'epochs':>6} {'test acc':>9} {'train s':>8}")
    for name, acc, seconds in rows:
        print(f"{name:<26} {args.epochs:>6} {acc:>9.4f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()

"""cnn_mnist against the keras.io "Simple MNIST convnet", side by side in one run.

    python benchmarks/cnn_mnist.py [--seeds 3] [--epochs N] [--reference-epochs 15] [--out FILE]

The reference is keras.io's example as published: conv 32 / conv 64 (3x3, ReLU) with
2x2 max pooling, dropout 0.5, Adam, batch 128, 15 epochs, 10% of the training set held
out for validation. Both read MNIST through `recipes.data` and are timed the same way:
training wall time (validation included), not counting the test evaluation this
benchmark adds after every epoch to find the time to reach a test accuracy.
Each seed trains both, the two alternating (reference first on even seeds), because this
machine's speed drifts by about 20% between runs. Prints one table of medians (min-max)
over the seeds: the test accuracy of the model each returns (keras.io's after its last
epoch; the recipe's from the epoch it restores, the latest within 5% of its best
validation loss, with the best-loss epoch's accuracy printed beside it), training time,
time to 99.0% and to 99.5% (runs that never reach a mark count as infinitely slow in the
median), and ends with
`summary: recipe_acc=... reference_acc=... ratio_to_99=...`, the recipe's median seconds
to 99.0% over the reference's; `--out FILE` writes the same as JSON.
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
from recipes import cnn_mnist, data  # noqa: E402
from recipes.engine.auto import best_epoch  # noqa: E402


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


def run_reference(splits, seed, epochs):
    x_train, y_train = splits.arrays("train")
    x_test, y_test = splits.arrays("test")
    keras.utils.set_random_seed(seed)
    model = reference_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    curve = TestCurve(x_test / 255.0, y_test)
    model.fit(x_train / 255.0, y_train, batch_size=128, epochs=epochs,
              validation_split=0.1, callbacks=[curve], verbose=0)
    return curve, curve.points[-1][1], {}  # the model after its last epoch, as keras.io has it


def run_recipe(splits, seed, epochs):
    x_test, y_test = splits.arrays("test")
    curve = TestCurve(x_test, y_test)  # the recipe takes raw pixels
    result = cnn_mnist.train(epochs=epochs, callbacks=[curve], verbose=0, diagnose=False,
                             seed=seed, run_dir=f"runs/bench-cnn_mnist-{seed}")
    # The model the recipe returns: the weights of its latest epoch within
    # `restore_tolerance` of the best validation loss. Also recorded: the epoch of the
    # best validation loss itself and its test accuracy, the model kept before.
    best = best_epoch(result.history, "val_loss")
    extra = dict(kept_epoch=result.kept_epoch, best_loss_epoch=best + 1,
                 acc_at_best_loss=curve.points[best][1])
    return curve, result.test_metrics["accuracy"], extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="recipe epochs")
    parser.add_argument("--reference-epochs", type=int, default=15)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    splits = data.load("mnist", validation_split=0.0)
    runs = {"reference": [], "recipe": []}
    for seed in range(args.seeds):
        order = ("reference", "recipe") if seed % 2 == 0 else ("recipe", "reference")
        for who in order:
            if who == "reference":
                curve, acc, extra = run_reference(splits, seed, args.reference_epochs)
            else:
                curve, acc, extra = run_recipe(splits, seed, args.epochs)
            t = curve.points[-1][0]
            row = dict(acc=acc, seconds=t, to_99=curve.seconds_to(0.99),
                       to_995=curve.seconds_to(0.995), epochs=len(curve.points), **extra,
                       test_by_epoch=[round(a, 4) for _, a in curve.points])
            runs[who].append(row)
            print(f"seed {seed} {who}: {json.dumps(row)}", flush=True)

    def never_as_inf(values):  # a mark never reached counts as infinitely slow
        return [math.inf if math.isnan(v) else v for v in values]

    def cell(values, fmt):
        return spread(never_as_inf(values), fmt)

    pct = "{:.2%}"  # 99.12%
    sec = lambda v: "never" if math.isinf(v) else f"{v:.0f}"  # noqa: E731
    print(f"\nMNIST, {args.seeds} seeds, median (min-max):")
    print(f"{'model':<20} {'epochs':>6} {'test accuracy':>24} {'train s':>16} "
          f"{'s to 99.0%':>18} {'s to 99.5%':>18}")
    names = {"reference": "keras.io reference", "recipe": "recipes cnn_mnist"}
    for who, rows in runs.items():
        print(f"{names[who]:<20} {rows[0]['epochs']:>6} {cell([r['acc'] for r in rows], pct):>24} "
              f"{cell([r['seconds'] for r in rows], sec):>16} "
              f"{cell([r['to_99'] for r in rows], sec):>18} {cell([r['to_995'] for r in rows], sec):>18}")

    def middle(who, key):
        return median(never_as_inf(r[key] for r in runs[who]))

    kept = [f"{r['kept_epoch']}" for r in runs["recipe"]]
    print(f"recipe: epochs kept {', '.join(kept)}; the best validation loss's epochs "
          f"{', '.join(str(r['best_loss_epoch']) for r in runs['recipe'])} would have given "
          f"{cell([r['acc_at_best_loss'] for r in runs['recipe']], pct)}")
    summary = dict(
        recipe_acc=middle("recipe", "acc"), reference_acc=middle("reference", "acc"),
        ratio_to_99=middle("recipe", "to_99") / middle("reference", "to_99"),
        recipe_s=middle("recipe", "seconds"), reference_s=middle("reference", "seconds"),
        recipe_to_995=middle("recipe", "to_995"), seeds=args.seeds,
    )
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

"""mlp_mnist (ReLU and maxout) against the classic Keras MNIST MLP, side by side in one run.

    python benchmarks/mlp_mnist.py [--seeds 3] [--epochs 20] [--out FILE]

The reference is the classic Keras example `mnist_mlp.py` (two Dense(512, relu) layers with
dropout 0.2, RMSprop, batch 128, 20 epochs), which reports about 98.4% test accuracy.
Each seed trains the three, in an order that rotates with the seed. Prints one table of
medians (min-max) over the seeds, test accuracy and training seconds, and ends with
`summary: reference_acc=... relu_acc=... maxout_acc=...`; `--out FILE` writes JSON.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
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


def run(who, splits, seed, epochs):
    if who == "reference":
        (x, y), (xt, yt) = splits.arrays("train"), splits.arrays("test")
        keras.utils.set_random_seed(seed)
        model = reference_model()
        model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        model.fit(x.reshape(-1, 784) / 255, y, batch_size=128, epochs=epochs,
                  validation_split=0.1, verbose=0)
        seconds = time.perf_counter() - start
        _, acc = model.evaluate(xt.reshape(-1, 784) / 255, yt, verbose=0)
        return acc, seconds
    result = mlp_mnist.train(epochs=epochs, hp={"activation": who}, verbose=0, seed=seed,
                             diagnose=False, run_dir=f"runs/bench-mlp-{who}-{seed}")
    return result.test_metrics["accuracy"], result.timings["fit_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    splits = data.load("mnist", validation_split=0.0)
    order = ["reference", "relu", "maxout"]
    runs = {who: {"acc": [], "seconds": []} for who in order}
    for seed in range(args.seeds):
        for who in order[seed % 3:] + order[: seed % 3]:
            acc, seconds = run(who, splits, seed, args.epochs)
            runs[who]["acc"].append(acc)
            runs[who]["seconds"].append(seconds)
            print(f"seed {seed} {who}: {acc:.4f} in {seconds:.0f} s", flush=True)

    pct, sec = "{:.2%}", "{:.0f}"  # 99.12%, 137 (seconds)
    names = {"reference": "keras mnist_mlp", "relu": "recipes mlp_mnist relu",
             "maxout": "recipes mlp_mnist maxout"}
    print(f"\nMNIST, {args.epochs} epochs, {args.seeds} seeds, median (min-max):")
    print(f"{'model':<26} {'test accuracy':>24} {'train s':>16}")
    for who in order:
        print(f"{names[who]:<26} {spread(runs[who]['acc'], pct):>24} "
              f"{spread(runs[who]['seconds'], sec):>16}")
    summary = {f"{who}_acc": median(runs[who]["acc"]) for who in order}
    summary.update({f"{who}_s": median(runs[who]["seconds"]) for who in order})
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

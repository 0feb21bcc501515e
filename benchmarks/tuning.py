"""Does a Hyperband search beat cnn_mnist's defaults, and at what cost?

    python benchmarks/tuning.py [--limit 6000] [--epochs 4] [--max-trials 12] [--quick]

In one run, on the same MNIST subset (the first `--limit` training images, 10% of them
held out for validation; the full 10,000 test images):
- cnn_mnist trained once with its default hyperparameters for `--epochs` epochs;
- a Hyperband search over cnn_mnist's space (depth, filters, batch norm, dropout,
  batch size, optimizer, learning rate), `--max-trials` trials of at most `--epochs`
  epochs each, with early stopping; the best trial (by validation loss) is evaluated
  once on the test split.
Prints one table: test accuracy, trials, epochs trained and wall time of each. The
defaults take about 20 minutes on 2 CPU cores; `--quick` is a smoke run of under a
minute whose numbers mean nothing.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import recipes  # noqa: E402
from recipes.diagnostics import format_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6000, help="MNIST training images")
    parser.add_argument("--epochs", type=int, default=4, help="most epochs per trial")
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budget")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.epochs, args.max_trials = 512, 1, 2

    recipe = recipes.get("cnn_mnist")
    data = recipe.load_data(limit=args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        default = recipe.train(
            args.epochs, data=data, run_dir=Path(tmp) / "default", verbose=0, diagnose=False
        )
        default_seconds = time.perf_counter() - start

        start = time.perf_counter()
        search = recipe.search(
            tuner="hyperband",
            max_trials=args.max_trials,
            epochs=args.epochs,
            data=data,
            directory=tmp,
            overwrite=True,
            verbose=0,
        )
        search_seconds = time.perf_counter() - start

    rows = [
        [
            "defaults, trained once",
            default.test_metrics["accuracy"],
            min(default.history["val_loss"]),
            1,
            len(default.history["loss"]),
            default_seconds / 60,
        ],
        [
            f"hyperband, best of {len(search.trials)}",
            search.test_metrics["accuracy"],
            min(row["score"] for row in search.trials if row["score"] is not None),
            len(search.trials),
            sum(row["epochs"] or 0 for row in search.trials),
            search_seconds / 60,
        ],
    ]
    device = ", ".join(d.name for d in tf.config.list_logical_devices("GPU")) or (
        f"CPU ({os.cpu_count()} cores)"
    )
    print(
        f"cnn_mnist: defaults vs a Hyperband search; {data.train_size:,} training images, "
        f"at most {args.epochs} epochs per trial, {device}"
    )
    columns = ["", "test accuracy", "val_loss", "trials", "epochs trained", "minutes"]
    print(format_table(columns, rows))
    print(f"best hyperparameters: {search.best_hyperparameters}")
    print(f"summary: defaults_acc={rows[0][1]:.4g} search_acc={rows[1][1]:.4g} "
          f"defaults_minutes={rows[0][5]:.3g} search_minutes={rows[1][5]:.3g} "
          f"trials={rows[1][3]}")


if __name__ == "__main__":
    main()

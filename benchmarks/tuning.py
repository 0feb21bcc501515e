"""Does a Hyperband search beat cnn_mnist's defaults, and at what cost? Does a search's
memory grow trial after trial?

    python benchmarks/tuning.py [--limit 6000] [--epochs 4] [--max-trials 12] [--quick]
    python benchmarks/tuning.py --memory [--trials 20] [--seeds 2]

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

`--memory`: the resident memory of the process after each of `--trials` one-epoch
trials of a random search over mlp_mnist (2,048 MNIST images, the model's shape fixed,
the optimizer and learning rate tuned), through `recipes` and through plain KerasTuner
(`keras_tuner.RandomSearch` over a Keras model of the same shape, `model.fit` on the
same arrays), each search in a fresh process, the two alternating over `--seeds`.
Reports the growth from trial 2 to the last, median (min-max) over the seeds.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import recipes  # noqa: E402
from common import median, print_summary, spread  # noqa: E402
from recipes.diagnostics import format_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6000, help="MNIST training images")
    parser.add_argument("--epochs", type=int, default=4, help="most epochs per trial")
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny budget")
    parser.add_argument("--memory", action="store_true", help="memory per trial instead")
    parser.add_argument("--trials", type=int, default=20, help="trials of --memory")
    parser.add_argument("--seeds", type=int, default=2, help="repeats of --memory")
    parser.add_argument("--memory-run", choices=("recipes", "keras_tuner"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_run:
        return memory_run(args.memory_run, args.trials, args.seed)
    if args.memory:
        return memory(args.trials, args.seeds)
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
    print_summary(dict(defaults_acc=f"{rows[0][1]:.4g}", search_acc=f"{rows[1][1]:.4g}",
                       defaults_minutes=rows[0][5], search_minutes=rows[1][5],
                       trials=rows[1][3]), "{:.3g}")


def resident_mb():
    """This process's resident memory now (not its peak), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Resident(keras.callbacks.Callback):
    """Appends the resident memory at the end of each training (class-level:
    KerasTuner deep-copies callbacks)."""

    seen = []

    def on_train_end(self, logs=None):
        Resident.seen.append(resident_mb())


def memory_run(kind, trials, seed):
    """One search of `trials` one-epoch trials; prints the memory after each as JSON."""
    import keras_tuner

    recipe = recipes.get("mlp_mnist")
    data = recipe.load_data(limit=2048, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "recipes":
            recipe.search(tuner="random", max_trials=trials, epochs=1, data=data,
                          hp={"depth": 2, "units": 128}, batch_size=64, directory=tmp,
                          callbacks=[Resident()], seed=seed, verbose=0)
        else:
            x, y = data.arrays("train")
            vx, vy = data.arrays("validation")

            def build(hp):
                model = keras.Sequential([
                    keras.Input(x.shape[1:]), keras.layers.Rescaling(1 / 255),
                    keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                    keras.layers.Dense(128, activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ])
                optimizer = hp.Choice("optimizer", ["adam", "sgd", "rmsprop"])
                lr = hp.Float("learning_rate", 1e-4, 3e-2, sampling="log")
                model.compile(keras.optimizers.get({"class_name": optimizer,
                                                    "config": {"learning_rate": lr}}),
                              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
                return model

            tuner = keras_tuner.RandomSearch(build, "val_loss", max_trials=trials, seed=seed,
                                             directory=tmp, project_name="plain")
            tuner.search(x, y, validation_data=(vx, vy), epochs=1, batch_size=64,
                         callbacks=[Resident()], verbose=0)
    print(json.dumps(Resident.seen))


def memory(trials, seeds):
    """Runs `memory_run` for both kinds in fresh processes, alternating; prints the table."""
    growth = {"recipes": [], "keras_tuner": []}
    last = {"recipes": [], "keras_tuner": []}
    for seed in range(seeds):
        for kind in ("recipes", "keras_tuner") if seed % 2 == 0 else ("keras_tuner", "recipes"):
            out = subprocess.run(
                [sys.executable, __file__, "--memory-run", kind, "--trials", str(trials),
                 "--seed", str(seed)],
                capture_output=True, text=True, check=True,
            )
            seen = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{kind} seed {seed}: MB after each trial: {[round(m) for m in seen]}")
            growth[kind].append(100 * (seen[-1] / seen[1] - 1))
            last[kind].append(seen[-1])

    print(f"Resident memory over {trials} one-epoch trials, median (min-max) of {seeds} "
          f"searches each, fresh processes, CPU ({os.cpu_count()} cores)")
    rows = [[kind, spread(growth[kind], "{:.1f}"), spread(last[kind], "{:.0f}")]
            for kind in growth]
    print(format_table(["search", f"growth trial 2 to {trials} (%)",
                        f"MB after trial {trials}"], rows))
    print_summary(dict(recipes_growth_pct=median(growth["recipes"]),
                       keras_tuner_growth_pct=median(growth["keras_tuner"]),
                       recipes_mb=f"{median(last['recipes']):.0f}",
                       keras_tuner_mb=f"{median(last['keras_tuner']):.0f}",
                       trials=trials), "{:.2f}")


if __name__ == "__main__":
    main()

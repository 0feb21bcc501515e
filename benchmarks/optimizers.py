"""The lecture's optimizers (SGD, momentum, Adagrad, RMSProp, Adam) on mlp_mnist, over seeds.

    python benchmarks/optimizers.py [--limit 6000] [--epochs 5] [--seeds 3] [--out FILE]

Each seed runs `recipes.diagnostics.experiments.optimizers`: the same recipe, data
subset, epochs and seed for every optimizer, each with its own learning rate
(`experiments.LEARNING_RATES`). Prints one table, the median and (min-max) over seeds of
each column, and a last line `summary: key=value ...`; `--out FILE` writes the same as
JSON, with every seed's rows.
"""

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from common import median, print_summary, spread  # noqa: E402
from recipes import mlp_mnist  # noqa: E402
from recipes.diagnostics import experiments, format_table  # noqa: E402

NAMES = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
COLUMNS = ("train_loss", "val_loss", "train_error", "val_error", "seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=6000, help="training examples")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--plot", default=None,
                        help="write the first seed's training curves to this PNG")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1. Received: --seeds {args.seeds}")

    runs = []
    with tempfile.TemporaryDirectory() as run_dir:
        for seed in range(args.seeds):
            rows = experiments.optimizers(
                mlp_mnist.recipe, NAMES, args.epochs, limit=args.limit,
                run_dir=run_dir, plot=args.plot if seed == 0 else None, seed=seed,
                verbose=0,
            )
            runs.append(dict(seed=seed, rows=rows))
            print(f"seed {seed}: " + ", ".join(
                f"{r['optimizer']} val_error={r['val_error']:.4f}" for r in rows))

    medians, table = {}, []
    for i, name in enumerate(NAMES):
        per_seed = [run["rows"][i] for run in runs]
        columns = {c: [row[c] for row in per_seed] for c in COLUMNS}
        epochs = sorted({row["epochs"] for row in per_seed})  # early stopping may differ
        medians[name] = dict(
            learning_rate=per_seed[0]["learning_rate"],
            epochs="-".join(str(e) for e in sorted({epochs[0], epochs[-1]})),
            **{c: dict(median=median(v), min=min(v), max=max(v)) for c, v in columns.items()},
        )
        table.append([name, medians[name]["learning_rate"], medians[name]["epochs"],
                      *(spread(v, "{:.4g}") for v in columns.values())])

    print(f"\nmlp_mnist, {args.limit} training examples, {args.epochs} epochs, "
          f"median (min-max) over {args.seeds} seeds:")
    print(format_table(["optimizer", "learning_rate", "epochs", *COLUMNS], table))
    summary = {f"{name}_val_error": round(m["val_error"]["median"], 4)
               for name, m in medians.items()}
    summary.update(limit=args.limit, epochs=args.epochs, seeds=args.seeds)
    print_summary(summary, "{}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(settings=vars(args), median=medians, summary=summary, runs=runs),
                      f, indent=1)


if __name__ == "__main__":
    main()

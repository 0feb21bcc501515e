"""Which epoch an image classifier should end with: the best validation loss, or later.

    python benchmarks/restore.py [--seeds 3] [--sets cnn-small cnn-medium ...]
                                 [--judge test|selection] [--out FILE]

Trains the `cnn` and `mlp` tasks with their defaults on data they were not tuned on, made
from MNIST (`benchmarks/cnn_tasks.py`: `small`, the first 5,000 training images; `medium`,
the first 15,000; `hard`, the first 15,000 distorted: turned, scaled, shifted, noised and
patched; the recipe splits off 10% for validation and 10% of test of its own, unused
here), and evaluates every epoch's model on MNIST's 10,000 test images (distorted the same
way for `hard`). From the same runs, side by side, it reads the test accuracy of the epoch
each rule keeps:
- `best loss`: Keras's `restore_best_weights`, the epoch of the lowest validation loss;
- `within 2%` / `within 5%`: the latest epoch whose validation loss is within 2% / 5% of
  the lowest (`callbacks.EarlyStopping(restore_tolerance=...)`; 5% is what image
  classifiers use);
- `best accuracy`: the highest validation accuracy, the latest of ties;
- `last`: the last epoch trained.
Stopping is the recipes' own (validation loss, patience 5) in every run, so the rules
differ only in the epoch they keep. Prints one table of medians (min-max) over the seeds
and ends with `summary: ...` (each rule's mean gain over `best loss`, in accuracy points,
averaged over the sets); `--out FILE` writes the runs as JSON.

`--judge selection` chooses among the rules without looking at the test split: every
epoch's model is evaluated instead on a selection set, MNIST's last 10,000 training images
(50,000-59,999, which no run trains or validates on; distorted for `hard` as the others
are, with a seed of its own), and the table and summary read that set's accuracy.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402

import cnn_tasks  # noqa: E402
from common import print_summary, spread  # noqa: E402
from recipes import cnn, mlp  # noqa: E402
from recipes.engine.auto import best_epoch  # noqa: E402

SETS = ("cnn-small", "cnn-medium", "cnn-hard", "mlp-small", "mlp-hard")
RULES = {
    "best loss": lambda h: best_epoch(h, "val_loss"),
    "within 2%": lambda h: best_epoch(h, "val_loss", 0.02),
    "within 5%": lambda h: best_epoch(h, "val_loss", 0.05),
    "best accuracy": lambda h: max(i for i, a in enumerate(h["val_accuracy"])
                                   if a == max(h["val_accuracy"])),
    "last": lambda h: len(h["val_loss"]) - 1,
}


class AccuracyByEpoch(keras.callbacks.Callback):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.accuracy = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        _, acc = self.model.evaluate(self.x, self.y, batch_size=1000, verbose=0)
        self.accuracy.append(float(acc))


def dataset(name, arrays, judge="test"):
    """`(task, x, y, xj, yj)`: the training images and those that judge each epoch."""
    (x, y), (xt, yt) = arrays
    if judge == "selection":  # training images no run uses (they use the first 15,000)
        xt, yt, seed = x[50000:], y[50000:], 3
    else:
        seed = 2
    size = 5000 if name.endswith("small") else 15000
    x, y = x[:size], y[:size]
    if name.endswith("hard"):
        x, xt = cnn_tasks.harder(x, 1), cnn_tasks.harder(xt, seed)
    return (cnn if name.startswith("cnn") else mlp), x, y, xt, yt


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--judge", choices=["test", "selection"], default="test",
                        help="the images every epoch is evaluated on: MNIST's test images, "
                             "or 10,000 training images no run uses (training images "
                             "50,000-59,999)")
    parser.add_argument("--out", help="also write the runs as JSON here")
    args = parser.parse_args()

    arrays = cnn_tasks.mnist_arrays()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            recipe, x, y, xt, yt = dataset(name, arrays, args.judge)
            for seed in range(args.seeds):
                curve = AccuracyByEpoch(xt, yt)
                result = recipe.train(x=x, y=y, seed=seed, callbacks=[curve], verbose=0,
                                      diagnose=False, run_dir=Path(tmp) / f"{name}-{seed}")
                kept = {rule: pick(result.history) for rule, pick in RULES.items()}
                row = dict(set=name, seed=seed, epochs=len(curve.accuracy),
                           kept={rule: e + 1 for rule, e in kept.items()},
                           accuracy={rule: curve.accuracy[e] for rule, e in kept.items()},
                           val_loss=result.history["val_loss"])
                row[f"{args.judge}_by_epoch"] = curve.accuracy
                runs.append(row)
                print(f"{name} seed {seed}: epochs kept "
                      + ", ".join(f"{r} {e}" for r, e in row["kept"].items())
                      + f" of {row['epochs']}", flush=True)

    def cell(values):  # accuracies, in percent
        return spread(values, lambda v: f"{100 * v:.2f}")

    judged = ("Test accuracy" if args.judge == "test" else
              "Selection-set accuracy (training images 50,000-59,999)")
    print(f"\n{judged} (%) of the epoch each rule keeps, {args.seeds} seeds, "
          "median (min-max):")
    print(f"{'set':<12}" + "".join(f"{rule:>22}" for rule in RULES))
    gains = {rule: [] for rule in RULES}
    for name in args.sets:
        rows = [r for r in runs if r["set"] == name]
        print(f"{name:<12}" + "".join(f"{cell([r['accuracy'][rule] for r in rows]):>22}"
                                      for rule in RULES))
        for rule in RULES:
            gains[rule].append(statistics.mean(
                r["accuracy"][rule] - r["accuracy"]["best loss"] for r in rows))
    summary = {rule.replace(" ", "_").replace("%", "pct"): 100 * statistics.mean(g)
               for rule, g in gains.items() if rule != "best loss"}
    summary["seeds"] = args.seeds
    print_summary(summary, "{:.3g}")
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

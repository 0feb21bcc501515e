"""Does the engine add overhead? Training-step throughput through `Recipe.train` against the
same model trained with plain `model.fit` on in-memory arrays, side by side in one run.

    python benchmarks/engine_overhead.py [--recipe mlp_mnist] [--epochs 3]

Both train the same architecture, compiled the same way, with the same batch size, no
augmentation, for the same epochs. Timed: the training steps of each epoch (from the
epoch's start to its last batch), so the per-epoch validation and the checkpoints the
engine writes at epoch end are not counted; the first epoch (tracing) is left out.
The two alternate `--repeats` times (this machine's speed drifts between runs by more
than the difference measured), and the table gives each one's median.
Prints examples per second of each and the ratio of the medians (target: at least 0.95).

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402

import recipes  # noqa: E402
from common import median, print_summary  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    """Seconds from each epoch's start to its last training batch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self.last - self.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mlp_mnist")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    recipe = recipes.get(args.recipe)
    recipe.augment = None  # compare the training step, not the augmentation
    splits = recipe.load_data()
    x, y = splits.arrays("train")
    xv, yv = splits.arrays("validation")
    batch = recipe.defaults["batch_size"]

    def plain_fit():
        keras.utils.set_random_seed(42)
        model = recipe.compile(recipe.build_model(data=splits))
        timer = StepTimer()
        model.fit(x.astype("float32"), y, batch_size=batch, epochs=args.epochs,
                  validation_data=(xv.astype("float32"), yv), callbacks=[timer], verbose=0)
        return splits.train_size / statistics.mean(timer.seconds[1:])

    def engine_fit():
        timer = StepTimer()
        recipe.train(epochs=args.epochs, verbose=0, diagnose=False, data=splits,
                     callbacks=[timer], run_dir=f"runs/bench-overhead-{recipe.name}")
        return splits.train_size / statistics.mean(timer.seconds[1:])

    runs = [(plain_fit(), engine_fit()) for _ in range(args.repeats)]
    plain = median(p for p, _ in runs)
    engine = median(e for _, e in runs)
    print("runs (plain, engine):", ", ".join(f"({p:.0f}, {e:.0f})" for p, e in runs))
    print(f"\n{'training':<22} {'examples/s':>11}")
    print(f"{'plain keras fit':<22} {plain:>11.0f}")
    print(f"{'recipes ' + recipe.name:<22} {engine:>11.0f}")
    print(f"ratio engine / plain: {engine / plain:.2f} (target >= 0.95)")
    print_summary(dict(recipe=recipe.name, plain_examples_per_s=f"{plain:.0f}",
                       engine_examples_per_s=f"{engine:.0f}", ratio=engine / plain,
                       repeats=args.repeats), "{:.3g}")


if __name__ == "__main__":
    main()

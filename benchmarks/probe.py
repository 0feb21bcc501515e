"""`--auto`'s probe against the epochs it predicts: the deeper move's cost on Fashion-MNIST.

    python benchmarks/probe.py [--repeats 3] [--dataset fashion_mnist] [--limit N]

`--auto` estimates a move that changes the model (here the `cnn` defaults one layer
deeper) from a probe: both models train up to `PROBE_STEPS` steps on the same pipeline,
and the ratio of their seconds per step scales the parent's measured epochs
(`recipes.engine.auto.loop.AutoLoop.step_seconds`). Side by side, in an order that
alternates repeat by repeat:

- `median`: the probe as it is, the median of the timed steps' own times (`_timed`);
- `mean`: the probe before it, a second `fit` of all the timed steps divided by their
  number (a pause of the machine, or the new iterator's start, counted in);
- `epochs`: what the ratio should predict: each model trains two epochs with its
  validation pass, as a step of `--auto` does, and the second epoch is timed.

The table gives each method's ratio (deeper / defaults) as the median (min-max) over
repeats. Ends with one `summary: key=value ...` line (`common.print_summary`): the
medians, and each probe's error against the timed epochs.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import print_summary, spread  # noqa: E402
from recipes import cnn  # noqa: E402
from recipes.engine.auto import loop as loop_module  # noqa: E402
from recipes.engine.auto.loop import PROBE_WARMUP, AutoLoop, clock  # noqa: E402
from recipes.engine.fit import EpochTimer  # noqa: E402

MODELS = {"defaults": {}, "deeper": {"depth": 2}}


def mean_timed(model, train, steps):
    """The probe before the median: an untimed warm-up `fit`, then one timed `fit`."""
    model.fit(train.repeat(), steps_per_epoch=PROBE_WARMUP, epochs=1, verbose=0, shuffle=False)
    start = clock()
    model.fit(train.repeat(), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return (clock() - start) / steps


def epoch_seconds(loop, step):
    """Seconds of the second of two epochs (training and validation) of `step`'s model."""
    recipe, settings = loop.recipe, loop.recipe.settings(**step["settings"])
    batch = settings["batch_size"]
    keras.utils.set_random_seed(0)
    model = recipe.build(loop_module._hp(step["hyperparameters"]), loop.data, loop.strategy,
                         settings["epochs"], batch)
    train, validation, _ = recipe.pipelines(loop.data, batch, seed=0)
    timer = EpochTimer()  # what a step of `--auto` records as its epochs' seconds
    model.fit(train, validation_data=validation, epochs=2, verbose=0, callbacks=[timer],
              shuffle=False)
    return timer.epoch_seconds[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--limit", type=int, help="the first N training examples only")
    args = parser.parse_args()

    recipe = cnn.recipe
    data = recipe.load_data(dataset=args.dataset, limit=args.limit, seed=0)
    settings = recipe.settings()
    ratios = {"median": [], "mean": [], "epochs": []}
    with tempfile.TemporaryDirectory() as tmp:
        loop = AutoLoop(recipe, 3600, recipe.hyperparameters(None), data, settings,
                        tf.distribute.get_strategy(), Path(tmp), [], 0, 0)
        steps = {name: dict(hyperparameters=hp, settings=settings, augment_scale=1.0)
                 for name, hp in MODELS.items()}
        median_timed = loop_module._timed
        for repeat in range(args.repeats):
            order = ("median", "mean", "epochs") if repeat % 2 == 0 else ("epochs", "mean",
                                                                         "median")
            line = []
            for method in order:
                if method == "epochs":
                    seconds = {name: epoch_seconds(loop, s) for name, s in steps.items()}
                else:
                    loop_module._timed = median_timed if method == "median" else mean_timed
                    seconds = {name: loop.step_seconds(s) for name, s in steps.items()}
                ratios[method].append(seconds["deeper"] / seconds["defaults"])
                line.append(f"{method} {ratios[method][-1]:.2f}x "
                            f"({seconds['defaults']:.4g} / {seconds['deeper']:.4g} s)")
            print(f"repeat {repeat}: " + ", ".join(line), flush=True)
        loop_module._timed = median_timed

    print(f"\n{args.dataset}: the deeper move's cost relative to the defaults, median "
          f"(min-max) over {args.repeats} repeats")
    for method, values in ratios.items():
        print(f"{method:8} {spread(values, '{:.2f}x')}")
    error = {m: statistics.median(ratios[m]) / statistics.median(ratios["epochs"]) - 1
             for m in ("median", "mean")}
    print_summary(dict(dataset=args.dataset, repeats=args.repeats,
                       epochs_ratio=statistics.median(ratios["epochs"]),
                       median_ratio=statistics.median(ratios["median"]),
                       mean_ratio=statistics.median(ratios["mean"]),
                       median_error=error["median"], mean_error=error["mean"]))


if __name__ == "__main__":
    main()

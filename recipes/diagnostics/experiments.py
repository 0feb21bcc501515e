"""Experiments from the lectures, each a few trainings of a recipe side by side.

    from recipes import cnn_mnist
    from recipes.diagnostics import experiments
    rows = experiments.batch_size(cnn_mnist.recipe, sizes=[32, 256, 2048], epochs=5)
    rows = experiments.optimizers(cnn_mnist.recipe, epochs=5)

`batch_size`: small vs large batches for the same number of epochs. A large batch makes
fewer updates per epoch, each cheaper per example on parallel hardware; a small batch
makes many noisy updates, which often generalize better (Hung-yi Lee, ML 2021).

`optimizers`: the lecture's walk from plain SGD to momentum, Adagrad, RMSProp and Adam,
each training the same recipe for the same epochs on the same data from the same seed.
Each optimizer gets its own learning rate (`LEARNING_RATES`): one shared value would
favour one of them, since their steps scale differently with the gradient.
"""

import numbers
import statistics
from pathlib import Path

from recipes.diagnostics import plots
from recipes.diagnostics.history import error
from recipes.diagnostics.tables import format_table

# The peak learning rate of each optimizer in `optimizers` (the recipe's warm-up and
# schedule apply to it as usual). Adam and RMSProp divide each step by a running root
# mean square of the gradient, so a weight moves about `learning_rate` per step whatever
# the gradient's scale: 1e-3, the value of Kingma & Ba (2015) and of Hinton's RMSProp
# lecture. Plain SGD moves `learning_rate * gradient` and needs a larger rate: 0.1.
# Momentum 0.9 adds up past steps to about 1 / (1 - 0.9) = 10 times one step, so 0.01
# gives it the same effective step as SGD at 0.1. Adagrad divides by the root of the
# *sum* of all past squared gradients, so its step only shrinks, and Keras starts that
# sum at 0.1, which outweighs the squared gradients of a model like mlp_mnist's for
# hundreds of steps: its first steps are about `learning_rate * gradient / 0.32`. At
# 0.1 it starts like SGD at 0.3 and slows down; at the usual 0.01 (Duchi et al., 2011)
# it is SGD at 0.03, too slow for a short study (see `benchmarks/optimizers.py`).
LEARNING_RATES = {
    "sgd": 0.1,
    "momentum": 0.01,
    "adagrad": 0.1,
    "rmsprop": 1e-3,
    "adam": 1e-3,
}


def batch_size(
    recipe,
    sizes=(32, 128, 512),
    epochs=None,
    *,
    limit=None,
    data=None,
    data_dir=None,
    learning_rate=None,
    run_dir="runs",
    plot="batch_size.png",
    strategy="auto",
    seed=42,
    verbose=1,
):
    """Trains a recipe once per batch size for the same epochs; one row per size.

    Each training goes through `recipe.train` (same data, seed and learning rate, its
    own run directory `run_dir/<recipe>-batch<size>`), then is evaluated once on the
    test split.

    Args:
        recipe: a `recipes.engine.Recipe` (anything with its `train` and `load_data`).
        sizes: batch sizes (per replica) to compare. Defaults to `(32, 128, 512)`.
        epochs: epochs for every size. Defaults to the recipe's.
        limit: train on the first `limit` examples only. Defaults to all.
        data: a `recipes.data.Splits`. Defaults to the recipe's data, loaded once.
        data_dir: where the dataset lives. Defaults to `RECIPES_DATA_DIR`.
        learning_rate: peak learning rate for every size. Defaults to the recipe's.
        run_dir: parent of the runs' directories. Defaults to `"runs"`.
        plot: where to write the PNG (test accuracy and seconds per epoch against
            batch size; only for recipes with an accuracy metric), or `None`.
            Defaults to `"batch_size.png"`.
        strategy: see `recipes.engine.get_strategy`. Defaults to `"auto"`.
        seed: seed of the split, shuffling and initial weights. Defaults to 42.
        verbose: print the table when not 0. Defaults to 1.

    Returns:
        A list of dicts, one per size: `batch_size`, `updates_per_epoch`, `epochs`
        (trained, after early stopping), `seconds_per_epoch` (mean over the epochs
        after the first, which includes tracing, when there are several),
        `test_accuracy` (`None` for a recipe without accuracy) and `test_loss`.

    Example:

    ```python
    from recipes import mlp_mnist
    from recipes.diagnostics import experiments
    rows = experiments.batch_size(mlp_mnist.recipe, sizes=[16, 256], epochs=2,
                                  limit=4096, plot="batch_size.png")
    ```
    """
    if not sizes:
        raise ValueError(f"sizes must name at least one batch size. Received: sizes={sizes!r}")
    if data is None:
        data = recipe.load_data(data_dir, limit, seed)
    rows = []
    for size in sizes:
        result = recipe.train(
            epochs,
            size,
            learning_rate,
            data=data,
            run_dir=Path(run_dir) / f"{recipe.name}-batch{size}",
            strategy=strategy,
            verbose=0,
            diagnose=False,
            seed=seed,
        )
        seconds = result.timings["epoch_seconds"]
        rows.append(
            dict(
                batch_size=size,
                updates_per_epoch=result.settings["steps_per_epoch"],
                epochs=len(seconds),
                seconds_per_epoch=statistics.mean(seconds[1:] or seconds),
                test_accuracy=result.test_metrics.get("accuracy"),
                test_loss=result.test_metrics["loss"],
            )
        )
    if verbose:
        print(f"Batch size on {recipe.name} (same epochs, same learning rate):")
        print(format_table(list(rows[0]), [list(row.values()) for row in rows]))
    if plot is not None and all(row["test_accuracy"] is not None for row in rows):
        plots.batch_size_study(
            [row["batch_size"] for row in rows],
            [row["test_accuracy"] for row in rows],
            [row["seconds_per_epoch"] for row in rows],
            plot,
        )
    return rows


def optimizers(
    recipe,
    names=("sgd", "momentum", "adagrad", "rmsprop", "adam"),
    epochs=None,
    *,
    limit=None,
    data=None,
    data_dir=None,
    learning_rates=None,
    run_dir="runs",
    plot="optimizers.png",
    strategy="auto",
    seed=42,
    verbose=1,
):
    """Trains a recipe once per optimizer under the same budget; one row per optimizer.

    Each training goes through `recipe.train` with `hp={"optimizer": name}` and that
    optimizer's learning rate, on the same data, for the same epochs, from the same
    seed, in its own run directory `run_dir/<recipe>-<name>`. Early stopping still
    applies: the `epochs` column says how many each trained.

    Args:
        recipe: a `recipes.engine.Recipe` (anything with its `train` and `load_data`)
            whose `optimizer` hyperparameter takes these names.
        names: the optimizers, in the lecture's order. Defaults to
            `("sgd", "momentum", "adagrad", "rmsprop", "adam")`.
        epochs: epochs for every optimizer. Defaults to the recipe's.
        limit: train on the first `limit` examples only. Defaults to all.
        data: a `recipes.data.Splits`. Defaults to the recipe's data, loaded once.
        data_dir: where the dataset lives. Defaults to `RECIPES_DATA_DIR`.
        learning_rates: a dict from optimizer name to its peak learning rate, over
            `LEARNING_RATES`. Defaults to `LEARNING_RATES` (see there why each).
        run_dir: parent of the runs' directories. Defaults to `"runs"`.
        plot: where to write the PNG of the training curves (training loss per epoch,
            one line per optimizer), or `None`. Defaults to `"optimizers.png"`.
        strategy: see `recipes.engine.get_strategy`. Defaults to `"auto"`.
        seed: seed of the split, shuffling and initial weights. Defaults to 42.
        verbose: print the table when not 0. Defaults to 1.

    Returns:
        A list of dicts, one per optimizer: `optimizer`, `learning_rate`, `epochs`
        (trained), the last epoch's `train_loss` and `val_loss`, `train_error` and
        `val_error` (1 - accuracy; `None` for a recipe without accuracy), and
        `seconds` (of training).

    Example:

    ```python
    from recipes import mlp_mnist
    from recipes.diagnostics import experiments
    rows = experiments.optimizers(mlp_mnist.recipe, epochs=3, limit=6000,
                                  plot="optimizers.png")
    ```
    """
    names = list(names)
    unknown = [name for name in names if name not in LEARNING_RATES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            "names must list distinct optimizers, each one of "
            f"{sorted(LEARNING_RATES)}. Received: names={names!r}"
        )
    rates = dict(learning_rates or {})
    for name, rate in rates.items():
        if name not in names or not (isinstance(rate, numbers.Real) and rate > 0):
            raise ValueError(
                "learning_rates must map optimizers in names to positive numbers. "
                f"Received: learning_rates={learning_rates!r}"
            )
    rates = {name: rates.get(name, LEARNING_RATES[name]) for name in names}
    if data is None:
        data = recipe.load_data(data_dir, limit, seed)
    rows, losses = [], {}
    for name in names:
        result = recipe.train(
            epochs,
            learning_rate=rates[name],
            hp={"optimizer": name},
            data=data,
            run_dir=Path(run_dir) / f"{recipe.name}-{name}",
            strategy=strategy,
            verbose=0,
            diagnose=False,
            seed=seed,
        )
        history = result.history
        losses[name] = history["loss"]
        rows.append(
            dict(
                optimizer=name,
                learning_rate=rates[name],
                epochs=len(history["loss"]),
                train_loss=history["loss"][-1],
                val_loss=_last(history, "val_loss"),
                train_error=error(_last(history, "accuracy")),
                val_error=error(_last(history, "val_accuracy")),
                seconds=result.timings["fit_seconds"],
            )
        )
    if verbose:
        print(f"Optimizers on {recipe.name} (same epochs, data and seed; "
              "each its own learning rate):")
        print(format_table(list(rows[0]), [list(row.values()) for row in rows]))
    if plot is not None:
        plots.optimizer_study(losses, plot, title=f"Optimizers on {recipe.name}")
    return rows


def _last(history, key):
    values = history.get(key)
    return float(values[-1]) if values else None


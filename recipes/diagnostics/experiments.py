"""Experiments from the lectures, each a few trainings of a recipe side by side.

    from recipes import cnn_mnist
    from recipes.diagnostics import experiments
    rows = experiments.batch_size(cnn_mnist.recipe, sizes=[32, 256, 2048], epochs=5)

`batch_size`: small vs large batches for the same number of epochs. A large batch makes
fewer updates per epoch, each cheaper per example on parallel hardware; a small batch
makes many noisy updates, which often generalize better (Hung-yi Lee, ML 2021).
"""

import statistics
from pathlib import Path

from recipes.diagnostics import plots
from recipes.diagnostics.tables import format_table


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

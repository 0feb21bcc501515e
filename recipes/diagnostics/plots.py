"""PNG figures for training runs, Hessian spectra, batch-size and optimizer studies.

Matplotlib is imported only when a figure is drawn, and each figure is drawn on its own
Agg canvas (no `pyplot`), so these functions work without a display, from threads, and
without changing the backend of a notebook that imports them.
"""

from pathlib import Path

from recipes.diagnostics.history import accuracy_key


def _figure(ncols=1, panels=None):
    """A figure of `panels` axes (default `ncols`), `ncols` to a row."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = panels or ncols
    nrows = -(-panels // ncols)
    fig = Figure(figsize=(5.5 * ncols, 4 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(nrows, ncols, i + 1) for i in range(panels)]


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return str(path)


def _epoch_axis(ax):
    """Labels the x axis "epoch", with ticks on whole epochs only."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves(history, path, title=None, kept_epoch=None):
    """Plots training and validation loss per epoch, the accuracy and the learning
    rate if recorded, and the epoch whose weights were kept.

    Args:
        history: a dict of per-epoch lists (`"loss"`, `"val_loss"`, `"accuracy"`,
            `"learning_rate"` ...) or a `keras.callbacks.History`.
        path: where to write the PNG.
        title: a title over the figure. Defaults to none.
        kept_epoch: the epoch (from 1) whose weights the model holds, marked with a
            vertical line. Defaults to `None`.

    Returns:
        The path written, as a string.

    Example:

    >>> history = model.fit(x, y, validation_split=0.2, epochs=10)
    >>> learning_curves(history, "runs/mlp/learning_curves.png", title="mlp")
    """
    history = getattr(history, "history", history)
    if "loss" not in history:
        raise ValueError(
            f"The history has no 'loss'. Received: keys={sorted(history)}"
        )
    panels = ["loss"] + [name for name in [accuracy_key(history, validated=False)] if name]
    if history.get("learning_rate"):
        panels.append("learning_rate")
    fig, axes = _figure(len(panels))
    for ax, name in zip(axes, panels):
        pairs = ((name, "training"), ("val_" + name, "validation"))
        if name == "learning_rate":
            pairs = ((name, "at the end of the epoch"),)
        for key, label in pairs:
            if key in history:
                values = history[key]
                ax.plot(range(1, len(values) + 1), values, marker=".", label=label)
        if kept_epoch:
            ax.axvline(kept_epoch, color="gray", linestyle="--", label=f"kept: epoch {kept_epoch}")
        _epoch_axis(ax)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def hessian_spectrum(analysis, path, title=None):
    """Plots the Hessian's spectral density, marking the extreme eigenvalues.

    Args:
        analysis: a `recipes.diagnostics.CriticalPoint` (anything with `density()`,
            `top_eigenvalues`, `bottom_eigenvalues` and `verdict`).
        path: where to write the PNG.
        title: a title over the figure. Defaults to "Hessian spectrum: <verdict>".

    Returns:
        The path written, as a string.

    Example:

    >>> result = recipes.diagnostics.critical_point(model, x, y)
    >>> hessian_spectrum(result, "spectrum.png")
    """
    grid, density = analysis.density()
    fig, (ax,) = _figure()
    floor = density.max() * 1e-6
    ax.semilogy(grid, density + floor, label="density (Lanczos quadrature)")
    for values, color, label in (
        (analysis.top_eigenvalues, "tab:red", "top eigenvalues"),
        (analysis.bottom_eigenvalues, "tab:green", "bottom eigenvalues"),
    ):
        for i, value in enumerate(values):
            ax.axvline(value, color=color, alpha=0.5, lw=1, label=None if i else label)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or f"Hessian spectrum: {analysis.verdict}")
    return _save(fig, path)


def batch_size_study(sizes, test_accuracy, seconds_per_epoch, path, title=None):
    """Plots test accuracy and time per epoch against batch size, on twin axes.

    Args:
        sizes: the batch sizes (plotted on a log-2 axis).
        test_accuracy: test accuracy of each.
        seconds_per_epoch: seconds per training epoch of each.
        path: where to write the PNG.
        title: a title over the figure. Defaults to "Small vs large batches".

    Returns:
        The path written, as a string.

    Example:

    >>> batch_size_study([32, 256, 2048], [0.99, 0.985, 0.97], [9.0, 2.1, 1.2],
    ...                  "batch_size.png")
    """
    if not len(sizes) == len(test_accuracy) == len(seconds_per_epoch) > 0:
        raise ValueError(
            "sizes, test_accuracy and seconds_per_epoch must be non-empty and of equal "
            f"length. Received: lengths {len(sizes)}, {len(test_accuracy)}, "
            f"{len(seconds_per_epoch)}"
        )
    fig, (ax,) = _figure()
    ax.plot(sizes, test_accuracy, "o-", color="tab:blue")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("test accuracy", color="tab:blue")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(sizes, seconds_per_epoch, "s--", color="tab:orange")
    right.set_ylabel("seconds per epoch", color="tab:orange")
    right.set_ylim(bottom=0)
    ax.set_title(title or "Small vs large batches")
    return _save(fig, path)


def optimizer_study(losses, path, title=None):
    """Plots the training loss per epoch of each optimizer, one line each, on one axis.

    Args:
        losses: a dict from optimizer name to its training loss per epoch (lists may
            differ in length, e.g. after early stopping).
        path: where to write the PNG.
        title: a title over the figure. Defaults to "Optimizers, same budget".

    Returns:
        The path written, as a string.

    Example:

    >>> optimizer_study({"sgd": [2.3, 1.9, 1.6], "adam": [0.9, 0.4, 0.3]},
    ...                 "optimizers.png")
    """
    if not losses or not all(len(values) for values in losses.values()):
        raise ValueError(
            "losses must map at least one optimizer to a non-empty list of losses. "
            f"Received: losses={losses!r}"
        )
    fig, (ax,) = _figure()
    for name, values in losses.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", label=name)
    if all(v > 0 for values in losses.values() for v in values):
        ax.set_yscale("log")
    _epoch_axis(ax)
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or "Optimizers, same budget")
    return _save(fig, path)


def auto_steps(steps, path, title=None):
    """Plots the learning curves of `train(auto=...)`'s steps: validation (solid) and
    training (dotted) of the error where recorded, else of the loss, one colour per
    step; dropped steps are faint.

    Args:
        steps: the steps of `auto.json` (each with `step`, `change`, `kept` and a
            `history`).
        path: where to write the PNG.
        title: a title over the figure. Defaults to "--auto steps".

    Returns:
        The path written, as a string.
    """
    if not steps:
        raise ValueError("steps must hold at least one step. Received: steps=[]")
    fig, (ax,) = _figure()
    accuracy = accuracy_key(steps[0]["history"], validated=False)
    for step in steps:
        history = step["history"]
        name = accuracy if accuracy in history else "loss"

        def values(key):
            raw = history.get(key) or []
            return [1 - v for v in raw] if name == accuracy and accuracy else raw

        alpha = 1.0 if step["kept"] else 0.35
        val = values("val_" + name)
        line, = ax.plot(range(1, len(val) + 1), val, alpha=alpha,
                        label=f"{step['step']}: {step['change']}"[:48])
        train = values(name)
        ax.plot(range(1, len(train) + 1), train, ":", color=line.get_color(), alpha=alpha)
    measure = "error" if accuracy else "loss"
    ax.set_yscale("log")
    _epoch_axis(ax)
    ax.set_ylabel(f"{measure} (validation solid, training dotted)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(title or "--auto steps")
    return _save(fig, path)


def search_scores(trials, objective, names, path, best=None, title=None):
    """Plots a search's score against each tuned hyperparameter, one panel each.

    Numbers go on their own axis (a log axis when they span more than a factor of
    20, as learning rates do), other values (optimizers, booleans) one column each.
    Trial 0, the recipe's defaults, is drawn as a square, the best trial as a star.

    Args:
        trials: a `pandas.DataFrame`, one row per trial, with `trial`, `objective`
            and one column per hyperparameter (`SearchResult.table`).
        objective: the score's column, e.g. `"val_loss"`.
        names: the hyperparameters to plot (those that varied). With none, the score
            is plotted against the trial number.
        path: where to write the PNG.
        best: the best trial's id. Defaults to `None`.
        title: a title over the figure. Defaults to none.

    Returns:
        The path written, as a string.
    """
    names = list(names) or ["trial"]
    fig, axes = _figure(min(len(names), 4), len(names))
    ids = trials["trial"].astype(str).str.split().str[0]
    scores = trials[objective].astype(float)
    for ax, name in zip(axes, names):
        values = trials[name] if name != "trial" else ids.astype(int)
        numeric = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if numeric.all():
            x = values.astype(float)
            positive = x[x > 0]
            if len(positive) == len(x) and positive.max() > 20 * positive.min():
                ax.set_xscale("log")
        else:
            labels = sorted({str(v) for v in values})
            x = values.map(lambda v: labels.index(str(v)))
            ax.set_xticks(range(len(labels)), labels)
        kinds = (ids == "0", ids == str(best), (ids != "0") & (ids != str(best)))
        for mask, marker, label in zip(kinds, ("s", "*", "o"), ("defaults", "best", "trials")):
            if mask.any():
                ax.scatter(x[mask], scores[mask], marker=marker, s=80 if marker == "*" else 30,
                           label=label)
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    axes[0].legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def confusion_matrix(counts, names, path, title=None):
    """Plots a confusion matrix twice: counts, and each row divided by its total (the
    share of each true class given each prediction; the diagonal is the recall).

    Args:
        counts: a `(classes, classes)` array, `counts[true, predicted]`.
        names: the class names.
        path: where to write the PNG.
        title: a title over the figure. Defaults to none.
    """
    import numpy as np

    counts = np.asarray(counts)
    rows = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, axes = _figure(2)
    size = len(names)
    for ax, values, label in ((axes[0], counts, "count"), (axes[1], rows, "share of the row")):
        image = ax.imshow(values, cmap="Blues")
        fig.colorbar(image, ax=ax, shrink=0.8, label=label)
        ax.set_xticks(range(size), [str(n) for n in names], rotation=90 if size > 6 else 0)
        ax.set_yticks(range(size), [str(n) for n in names])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if size <= 12:
            for (i, j), v in np.ndenumerate(values):
                text = f"{v:.0f}" if label == "count" else f"{v:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if v > values.max() / 2 else "black")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def top_losses(images, true, predicted, probability, losses, path, pixel_max=255.0):
    """Shows images with their true and predicted class, the predicted class's
    probability and the example's loss, one panel each, six to a row.

    Args:
        images: `(n, height, width, channels)` pixels.
        true, predicted: the class names of each image.
        probability: the predicted class's probability.
        losses: each image's loss.
        path: where to write the PNG.
        pixel_max: the largest pixel value (255, or 1 for floats). Defaults to 255.
    """
    import numpy as np

    n = len(images)
    fig, axes = _figure(min(n, 6), n)
    fig.set_size_inches(2.2 * min(n, 6), 2.6 * -(-n // 6))
    for ax, image, t, p, prob, loss in zip(axes, images, true, predicted, probability, losses):
        image = np.asarray(image, "float32") / pixel_max
        if image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(np.clip(image[..., :3], 0, 1))
        ax.set_title(f"true {t}\npred {p} ({prob:.2f})\nloss {loss:.2f}", fontsize=8)
        ax.axis("off")
    return _save(fig, path)


def importance(names, drops, spreads, path, metric, title=None):
    """A horizontal bar per column: how much `metric` gets worse when the column is
    shuffled (permutation importance), largest first, with the spread of the repeats.

    Args:
        names: the columns.
        drops: the median worsening of each.
        spreads: `(low, high)` of the repeats of each.
        path: where to write the PNG.
        metric: what the worsening is of, e.g. `"accuracy"`.
        title: a title over the figure. Defaults to none.
    """
    import numpy as np

    order = np.argsort(drops)
    fig, (ax,) = _figure(1)
    fig.set_size_inches(7, 1.5 + 0.3 * len(names))
    low = [drops[i] - spreads[i][0] for i in order]
    high = [spreads[i][1] - drops[i] for i in order]
    ax.barh([str(names[i]) for i in order], [drops[i] for i in order],
            xerr=[low, high], color="tab:blue")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"worsening of the validation {metric} when the column is shuffled")
    ax.grid(alpha=0.3, axis="x")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def regression_fit(true, predicted, path, title=None):
    """Two panels: predicted against true values (the diagonal is perfect), and the
    residuals (true - predicted) against the prediction."""
    import numpy as np

    true, predicted = np.asarray(true, "float64"), np.asarray(predicted, "float64")
    fig, axes = _figure(2)
    axes[0].scatter(true, predicted, s=8, alpha=0.6)
    low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
    axes[0].plot([low, high], [low, high], color="gray", linestyle="--")
    axes[0].set_xlabel("true")
    axes[0].set_ylabel("predicted")
    axes[1].scatter(predicted, true - predicted, s=8, alpha=0.6)
    axes[1].axhline(0, color="gray", linestyle="--")
    axes[1].set_xlabel("predicted")
    axes[1].set_ylabel("residual (true - predicted)")
    for ax in axes:
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(fig, path)

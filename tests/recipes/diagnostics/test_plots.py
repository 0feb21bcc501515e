"""recipes.diagnostics.plots: each writer produces a valid, non-empty PNG."""

import numpy as np
import pytest
from matplotlib.image import imread

from recipes.diagnostics import plots


def check_png(path):
    image = imread(str(path))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not blank


def test_learning_curves(tmp_path):
    history = {
        "loss": [1.0, 0.5, 0.3],
        "val_loss": [1.1, 0.7, 0.6],
        "accuracy": [0.5, 0.8, 0.9],
        "val_accuracy": [0.4, 0.7, 0.75],
    }
    path = plots.learning_curves(history, tmp_path / "curves.png", title="toy: fine")
    assert path == str(tmp_path / "curves.png")
    check_png(path)
    wide = imread(path).shape[1]
    nan = float("nan")
    loss_only = plots.learning_curves({"loss": [1.0, nan]}, tmp_path / "a/b.png")
    check_png(loss_only)
    assert imread(loss_only).shape[1] < wide  # one panel instead of two


def test_learning_curves_accepts_a_keras_history(tmp_path):
    class History:
        history = {"loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}

    check_png(plots.learning_curves(History(), tmp_path / "h.png"))
    with pytest.raises(ValueError, match="no 'loss'"):
        plots.learning_curves({"accuracy": [0.5]}, tmp_path / "x.png")


def test_hessian_spectrum(tmp_path):
    from recipes.diagnostics.hessian import spectral_density

    class Analysis:
        verdict = "saddle point"
        top_eigenvalues = np.array([5.0, 2.0])
        bottom_eigenvalues = np.array([-1.0, -0.1])

        def density(self):
            return spectral_density(
                [-1.0, -0.1, 0.0, 2.0, 5.0], [0.1, 0.2, 0.5, 0.1, 0.1]
            )

    check_png(plots.hessian_spectrum(Analysis(), tmp_path / "spectrum.png"))


def test_batch_size_study(tmp_path):
    path = plots.batch_size_study(
        [16, 64, 256, 1024], [0.99, 0.985, 0.98, 0.96], [8.0, 3.0, 1.5, 1.0],
        tmp_path / "batch.png",
    )
    check_png(path)
    with pytest.raises(ValueError, match="equal length"):
        plots.batch_size_study([16, 64], [0.9], [1.0, 2.0], tmp_path / "bad.png")


def test_optimizer_study(tmp_path):
    path = plots.optimizer_study(
        {"sgd": [2.3, 1.9, 1.6], "adam": [0.9, 0.4, 0.3, 0.25]}, tmp_path / "opt.png"
    )
    check_png(path)
    with pytest.raises(ValueError, match="non-empty"):
        plots.optimizer_study({"sgd": []}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="non-empty"):
        plots.optimizer_study({}, tmp_path / "bad.png")

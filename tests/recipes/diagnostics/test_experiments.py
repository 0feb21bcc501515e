"""recipes.diagnostics.experiments: the batch-size and optimizer studies (rows, runs, table, plot)."""

import json
import math

import pytest

from recipes.diagnostics import experiments
from helpers import TinyRecipe, tiny_data


@pytest.mark.slow
def test_batch_size_study(tmp_path, capsys):
    data = tiny_data()
    plot = tmp_path / "batch_size.png"
    rows = experiments.batch_size(
        TinyRecipe(), sizes=[8, 48], epochs=2, data=data, run_dir=tmp_path, plot=plot
    )
    assert [row["batch_size"] for row in rows] == [8, 48]
    assert [row["updates_per_epoch"] for row in rows] == [12, 2]  # 96 examples
    for row in rows:
        assert row["epochs"] == 2 and row["seconds_per_epoch"] > 0
        assert 0 <= row["test_accuracy"] <= 1 and math.isfinite(row["test_loss"])
        # Each size trained in its own run directory, with that batch size.
        result = json.loads((tmp_path / f"tiny-batch{row['batch_size']}" / "result.json").read_text())
        assert result["settings"]["batch_size"] == row["batch_size"]
        assert result["test_metrics"]["accuracy"] == row["test_accuracy"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "updates_per_epoch" in printed and "seconds_per_epoch" in printed
    assert len(printed.strip().splitlines()) == 1 + 2 + len(rows)  # title, header, rule


def test_batch_size_needs_sizes():
    with pytest.raises(ValueError, match=r"Received: sizes=\[\]"):
        experiments.batch_size(TinyRecipe(), sizes=[], data=tiny_data())


@pytest.mark.slow
def test_optimizer_study(tmp_path, capsys):
    data = tiny_data()
    plot = tmp_path / "optimizers.png"
    names = ["sgd", "momentum", "adam"]
    rows = experiments.optimizers(
        TinyRecipe(), names=names, epochs=2, data=data, run_dir=tmp_path, plot=plot,
        learning_rates={"adam": 0.02},
    )
    assert [row["optimizer"] for row in rows] == names
    expected_rates = [experiments.LEARNING_RATES["sgd"],
                      experiments.LEARNING_RATES["momentum"], 0.02]
    assert [row["learning_rate"] for row in rows] == expected_rates
    for row in rows:
        # Each optimizer trained in its own run directory, with that optimizer and rate.
        run = tmp_path / f"tiny-{row['optimizer']}"
        result = json.loads((run / "result.json").read_text())
        assert result["hyperparameters"]["optimizer"] == row["optimizer"]
        assert result["settings"]["learning_rate"] == row["learning_rate"]
        assert result["settings"]["epochs"] == 2 and row["epochs"] == 2  # same budget
        history = json.loads((run / "history.json").read_text())
        assert row["train_loss"] == history["loss"][-1]
        assert row["val_loss"] == history["val_loss"][-1]
        assert row["train_error"] == pytest.approx(1 - history["accuracy"][-1])
        assert row["val_error"] == pytest.approx(1 - history["val_accuracy"][-1])
        assert 0 <= row["val_error"] <= 1 and row["seconds"] > 0
    # Same data and seed, different optimizers: different training curves.
    assert len({row["train_loss"] for row in rows}) == len(rows)
    assert plot.stat().st_size > 0 and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "train_error" in printed and "momentum" in printed
    assert len(printed.strip().splitlines()) == 1 + 2 + len(rows)  # title, header, rule


def test_optimizer_study_checks_names_before_training(tmp_path):
    class Untrainable(TinyRecipe):
        def train(self, *args, **kwargs):
            raise AssertionError("trained before checking the names")

    with pytest.raises(ValueError, match=r"Received: names=\['adam', 'nesterov'\]"):
        experiments.optimizers(Untrainable(), names=["adam", "nesterov"], data=tiny_data())
    with pytest.raises(ValueError, match=r"Received: names=\[\]"):
        experiments.optimizers(Untrainable(), names=[], data=tiny_data())
    with pytest.raises(ValueError, match="learning_rates"):
        experiments.optimizers(Untrainable(), names=["sgd"], data=tiny_data(),
                               learning_rates={"sgd": 0})
    with pytest.raises(ValueError, match="learning_rates"):
        experiments.optimizers(Untrainable(), names=["sgd"], data=tiny_data(),
                               learning_rates={"adam": 0.01})


def test_every_optimizer_of_the_engine_has_a_learning_rate():
    from recipes.engine import OPTIMIZERS, make_optimizer

    assert set(experiments.LEARNING_RATES) == set(OPTIMIZERS)
    # "sgd" is plain gradient descent, "momentum" the same with momentum 0.9.
    assert make_optimizer("sgd", 0.1).get_config()["momentum"] == 0.0
    assert make_optimizer("momentum", 0.01).get_config()["momentum"] == 0.9

"""recipes.diagnostics.experiments: the batch-size study (rows, runs, table, plot)."""

import json
import math

import pytest

from recipes.diagnostics import experiments
from helpers import TinyRecipe, tiny_data


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

"""`report.html`: a tiny image run, a tiny table run and a tiny search, each page's parts
checked against numbers computed here, and one page opened in a real headless browser."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import TinyRecipe
from recipes import cnn, data, tabular
from recipes.diagnostics import plots
from recipes.engine import tuning
from recipes.engine.report import EVALUATION_JSON, EVALUATION_NPZ, TOP

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image_run")
    x, y = data.load("mnist", limit=600, validation_split=0).arrays("train")
    result = cnn.train(epochs=2, x=x[..., 0], y=y, hp={"filters": 16}, run_dir=folder,
                       verbose=0, diagnose=False)
    return result, folder


@pytest.mark.slow
def test_an_image_runs_page_shows_its_confusions_and_highest_losses(image_run):
    result, folder = image_run
    page = (folder / "report.html").read_text()
    evaluation = json.loads((folder / EVALUATION_JSON).read_text())
    arrays = dict(np.load(folder / EVALUATION_NPZ))
    test_size = evaluation["sizes"]["test"]
    assert arrays["confusion"].sum() == test_size == len(arrays["y_true"])
    assert arrays["confusion"].shape == (10, 10)
    # The shown images are the test images of highest loss, computed here again.
    model = result.model  # the weights the run kept
    probabilities = arrays["probabilities"]
    losses = -np.log(np.clip(probabilities[np.arange(test_size), arrays["y_true"]], 1e-12, 1))
    assert set(arrays["top"]) == set(np.argsort(-losses)[:TOP])
    assert losses[arrays["top"]].min() >= np.delete(losses, arrays["top"]).max()
    assert arrays["top_images"].shape == (TOP, 28, 28, 1) and arrays["top_images"].dtype == np.uint8
    # The probabilities are the model's on those images.
    again = model.predict(arrays["top_images"].astype("float32"), verbose=0)
    np.testing.assert_allclose(again, probabilities[arrays["top"]], rtol=1e-4, atol=1e-5)
    accuracy = np.mean(probabilities.argmax(-1) == arrays["y_true"])
    assert accuracy == pytest.approx(result.test_metrics["accuracy"], abs=1e-6)
    for heading in ("Test metrics", "Data", "Learning curves", "Diagnosis",
                    "Confusion matrix", "Per class", "Most confused", "Test images of highest loss",
                    "Settings"):
        assert f">{heading}" in page, heading
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', page)) == 3
    assert "http" not in page.replace("http-equiv", "")  # nothing to fetch
    assert sum(evaluation["class_counts"]["test"]) == test_size


def signal_and_noise(n=600, seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    return pd.DataFrame(dict(
        noise=rng.normal(size=n), signal=signal, colour=rng.choice(["red", "blue"], n),
        label=np.where(signal + 0.1 * rng.normal(size=n) > 0, "yes", "no")))


@pytest.mark.slow
def test_a_tables_page_ranks_the_column_that_carries_the_target_first(tmp_path):
    result = tabular.train(epochs=15, frame=signal_and_noise(), target="label",
                           run_dir=tmp_path, verbose=0, diagnose=False)
    evaluation = json.loads((tmp_path / EVALUATION_JSON).read_text())
    importance = evaluation["importance"]["columns"]
    assert max(importance, key=lambda k: importance[k][0]) == "signal"
    assert importance["signal"][0] > 0.2 > max(importance["noise"][0], importance["colour"][0])
    assert [c["name"] for c in evaluation["columns"]] == ["noise", "signal", "colour"]
    page = (tmp_path / "report.html").read_text()
    assert "Permutation importance" in page and "Test rows of highest loss" in page
    arrays = dict(np.load(tmp_path / EVALUATION_NPZ))
    assert arrays["confusion"].sum() == evaluation["sizes"]["test"]
    assert len(evaluation["top_rows"]) == TOP and set(evaluation["top_rows"][0]) == {
        "noise", "signal", "colour"}
    assert result.test_metrics["accuracy"] > 0.85


@pytest.mark.slow
def test_a_regressions_page_plots_predictions_and_residuals(tmp_path):
    frame = signal_and_noise()
    frame["amount"] = 3 * frame.signal + 0.1 * frame.noise
    tabular.train(epochs=5, frame=frame.drop(columns="label"), target="amount",
                  run_dir=tmp_path, verbose=0, diagnose=False)
    arrays = dict(np.load(tmp_path / EVALUATION_NPZ))
    np.testing.assert_allclose(arrays["losses"], np.abs(arrays["prediction"] - arrays["y_true"]))
    assert (tmp_path / "report" / "regression.png").is_file()
    page = (tmp_path / "report.html").read_text()
    assert "Predictions on the test split" in page and "worsening of mae" in page


@pytest.mark.slow
def test_a_searchs_page_holds_its_leaderboard(tmp_path):
    result = tuning.search(TinyRecipe(), tuner="random", max_trials=3, epochs=1,
                           directory=tmp_path, verbose=0)
    page = (Path(result.project_dir) / "report.html").read_text()
    assert "Leaderboard" in page and "Score against each hyperparameter" in page
    rows = re.findall(r"<tr><td class=\"n\">(\d)</td><td>COMPLETED</td>", page)
    assert rows == ["0", "1", "2"]
    record = json.loads((Path(result.project_dir) / "search.json").read_text())
    assert record["best_hyperparameters"] == result.best_hyperparameters


def test_report_names_what_it_needs(tmp_path):
    from recipes.engine.report import write_report

    with pytest.raises(ValueError, match="neither a run .* nor a search"):
        write_report(tmp_path)


def test_epoch_axes_tick_whole_epochs_only(tmp_path, monkeypatch):
    # Four epochs: Matplotlib's default ticks would fall at 1.5, 2.5, ...
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or str(path))
    history = {"loss": [1.0, 0.7, 0.6, 0.55], "val_loss": [1.1, 0.8, 0.75, 0.74],
               "accuracy": [0.6, 0.7, 0.75, 0.8], "val_accuracy": [0.55, 0.65, 0.7, 0.72],
               "learning_rate": [1e-3, 8e-4, 5e-4, 2e-4]}
    plots.learning_curves(history, tmp_path / "curves.png", kept_epoch=3)
    plots.auto_steps([dict(step=0, change="defaults", kept=True, history=history)],
                     tmp_path / "auto.png")
    plots.optimizer_study({"sgd": history["loss"]}, tmp_path / "optimizers.png")
    axes = [ax for fig in figures for ax in fig.axes if ax.get_xlabel() == "epoch"]
    assert len(axes) == 5  # loss, accuracy, learning rate; --auto; optimizers
    for ax in axes:
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def _open_in_chromium(report, screenshot):
    """Opens `report` at 1280 px in headless Chromium: the natural width of each image,
    the page's width, the scroll and client width of each table's box, and the errors."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"no {CHROMIUM}: `apt-get install chromium` to run this test")
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(report).as_uri())
        shown = dict(
            images=page.eval_on_selector_all("img", "is => is.map(i => i.naturalWidth)"),
            page_width=page.evaluate("document.documentElement.scrollWidth"),
            boxes=page.eval_on_selector_all(
                "table", "ts => ts.map(t => [t.parentElement.scrollWidth, "
                "t.parentElement.clientWidth])"),
            errors=errors)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return shown


@pytest.mark.slow
def test_the_page_loads_every_image_in_a_real_browser(image_run, tmp_path):
    _, folder = image_run
    shown = _open_in_chromium(folder / "report.html", tmp_path / "report.png")
    assert len(shown["images"]) == 3 and all(w > 0 for w in shown["images"])
    assert shown["errors"] == []
    assert shown["page_width"] <= 1280  # reads at 1280 px without a sideways scroll
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_a_table_of_twenty_columns_scrolls_in_its_own_box_not_the_page(tmp_path):
    # A churn-like table: 19 inputs with long names and text values, and the target.
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({f"monthly_measurement_{i:02d}": rng.normal(100, 30, n).round(2)
                          for i in range(15)})
    for i in range(4):
        frame[f"contract_description_{i}"] = rng.choice(
            ["month-to-month with paperless billing", "two year, paid by bank transfer"], n)
    frame["churned"] = np.where(frame.monthly_measurement_00 > 100, "yes", "no")
    tabular.train(epochs=1, frame=frame, target="churned", run_dir=tmp_path / "run",
                  verbose=0, diagnose=False)
    shown = _open_in_chromium(tmp_path / "run" / "report.html", tmp_path / "report.png")
    assert shown["errors"] == []
    assert shown["page_width"] <= 1280
    # The rows of highest loss (4 + 19 columns) are wider than the page: their box
    # scrolls, and no box is wider than the page.
    assert max(scroll - client for scroll, client in shown["boxes"]) > 200
    assert max(client for _, client in shown["boxes"]) <= 1280


@pytest.mark.slow
def test_the_report_command_writes_the_page_again(image_run, capsys):
    from recipes.__main__ import main

    _, folder = image_run
    (folder / "report.html").unlink()
    assert main(["report", str(folder)]) == 0
    assert f"report written to {folder / 'report.html'}" in capsys.readouterr().out
    assert "Test images of highest loss" in (folder / "report.html").read_text()
    assert main(["report", str(folder / "report")]) == 2
    assert "neither a run" in capsys.readouterr().err


@pytest.mark.parametrize("batch_rows", [50_000, 70])  # one call; copies split over calls
def test_permutation_importance_equals_one_shuffle_at_a_time(monkeypatch, batch_rows):
    import keras

    from recipes.engine import report

    monkeypatch.setattr(report, "IMPORTANCE_BATCH_ROWS", batch_rows)
    rng = np.random.default_rng(1)
    x = {"a": rng.normal(size=40).astype("float32"), "b": rng.normal(size=40).astype("float32")}
    y = 3 * x["a"] + 0.1 * x["b"]
    inputs = {k: keras.Input((1,), name=k) for k in x}
    out = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant([[3.0], [0.1]]))(
        keras.layers.Concatenate()(list(inputs.values())))
    model = keras.Model(inputs, out)
    got = report.permutation_importance(model, x, y, classification=False, repeats=3, seed=0)

    def mae(columns):  # the model is y itself: its prediction is exact in numpy
        return np.mean(np.abs(3 * columns["a"] + 0.1 * columns["b"] - y))

    reference, shuffles = {}, np.random.default_rng(0)
    for name in x:
        worse = [mae(dict(x, **{name: x[name][shuffles.permutation(40)]})) - mae(x)
                 for _ in range(3)]
        reference[name] = (np.median(worse), min(worse), max(worse))
    assert got.keys() == reference.keys()
    for name in x:
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-4, atol=1e-5)
    assert got["a"][0] > 10 * got["b"][0] > 0

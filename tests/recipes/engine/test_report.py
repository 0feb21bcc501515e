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


@pytest.mark.slow
def test_the_page_loads_every_image_in_a_real_browser(image_run, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"no {CHROMIUM}: `apt-get install chromium` to run this test")
    from playwright.sync_api import sync_playwright

    _, folder = image_run
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((folder / "report.html").as_uri())
        widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert len(widths) == 3 and all(w > 0 for w in widths)
    assert errors == []
    assert overflow <= 1280  # reads at 1280 px without a sideways scroll
    assert (tmp_path / "report.png").stat().st_size > 10_000


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

"""A resume is keyed to its data: the fingerprint (`recipes.engine.fingerprint`) of a
run's backup, an `--auto` loop and a search, a mismatch as a one-line error before any
work, a match resumed, `overwrite` starting afresh."""

import json
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from helpers import TinyRecipe
from recipes.data import Splits
from recipes.engine import DataOption, fingerprint, tuning
from recipes.engine.auto import loop as loop_module


class ArrayTiny(TinyRecipe):
    """`TinyRecipe` on arrays given as data options, as a task takes the user's data."""

    data_options = {"x": DataOption("features", cli=False),
                    "y": DataOption("labels", cli=False)}

    def load_data(self, data_dir=None, limit=None, seed=42, x=None, y=None):
        a, b = int(0.6 * len(y)), int(0.8 * len(y))

        def ds(start, end):
            return tf.data.Dataset.from_tensor_slices((x[start:end], y[start:end]))

        return Splits("arrays", ds(0, a), ds(a, b), ds(b, len(y)), input_shape=(8,),
                      num_classes=3, train_size=a, validation_size=b - a,
                      test_size=len(y) - b)


def blobs(seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, 8))
    y = rng.integers(0, 3, 160)
    return dict(x=(centers[y] + rng.normal(0, 1, (160, 8))).astype("float32"), y=y)


class Interrupt(keras.callbacks.Callback):
    """Simulates a crash at the start of the second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed")


class Count(keras.callbacks.Callback):
    epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        Count.epochs += 1


OTHER_DATA = r"on other data \(x: an array of shape \(160, 8\) \(float32, sha256 \w+\) then, "


# -- the fingerprint itself --------------------------------------------------------------


def test_a_folder_is_known_by_its_files_sizes_and_times(tmp_path):
    folder = tmp_path / "photos"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "a.png").write_bytes(b"12345")
    first = fingerprint.describe(str(folder))
    assert first == fingerprint.describe(folder)  # str or Path, read twice: the same
    assert (first["path"], first["files"], first["bytes"]) == (str(folder.resolve()), 1, 5)
    assert first["modified"] == (folder / "cat" / "a.png").stat().st_mtime_ns
    (folder / "cat" / "b.png").write_bytes(b"12")
    second = fingerprint.describe(folder)
    assert (second["files"], second["bytes"]) == (2, 7)
    # The same sizes, one file renamed: the listing's hash tells them apart.
    (folder / "cat" / "b.png").rename(folder / "cat" / "c.png")
    third = fingerprint.describe(folder)
    assert (third["files"], third["bytes"]) == (2, 7) and third["listing"] != second["listing"]
    # A file touched to another time is another file.
    os.utime(folder / "cat" / "a.png", ns=(2 * 10**18, 2 * 10**18))
    assert fingerprint.describe(folder)["modified"] == 2 * 10**18


def test_arrays_frames_names_and_limits_each_have_their_fingerprint(tmp_path):
    x = np.arange(12, dtype="float32").reshape(3, 4)
    same = fingerprint.describe(x.copy())
    assert same == fingerprint.describe(x)
    assert same["array"] == [3, 4] and same["dtype"] == "float32"
    assert fingerprint.describe(x + 1)["sha256"] != same["sha256"]
    assert fingerprint.describe(x.astype("float64"))["sha256"] != same["sha256"]
    frame = pd.DataFrame({"a": [1.0, None], "b": ["x", "y"]})
    assert fingerprint.describe(frame) == fingerprint.describe(frame.copy())
    changed = frame.copy()
    changed.loc[1, "b"] = "z"
    assert fingerprint.describe(changed)["sha256"] != fingerprint.describe(frame)["sha256"]
    # A tf.data.Dataset by its element spec and length.
    assert fingerprint.describe(tf.data.Dataset.range(5)) == fingerprint.describe(
        tf.data.Dataset.range(5))
    assert fingerprint.describe(tf.data.Dataset.range(6))["cardinality"] == 6
    # A TFDS name (the recipe's own, or given) and the limit are part of it.
    recipe = TinyRecipe()
    recipe.dataset = "mnist"
    assert fingerprint.fingerprint(recipe) == {"dataset": "mnist"}
    assert fingerprint.fingerprint(recipe, data_options={"dataset": "fashion_mnist"},
                                   limit=500) == {"dataset": "fashion_mnist", "limit": 500}
    # What the run directory keeps round-trips through JSON unchanged.
    source = fingerprint.fingerprint(ArrayTiny(), data_options=blobs(0))
    fingerprint.write(tmp_path / fingerprint.FILE, source)
    assert json.loads((tmp_path / fingerprint.FILE).read_text()) == source
    fingerprint.check_same(tmp_path / fingerprint.FILE, source, "x", "y")  # no error


def test_a_mismatch_is_one_line_naming_the_difference_and_the_fix(tmp_path):
    kept = {"dataset": "mnist", "limit": 500}
    with pytest.raises(ValueError) as error:
        fingerprint.check_match(kept, {"dataset": "mnist", "limit": 600}, "runs/x holds a run",
                                fingerprint.TRAIN_FIX)
    message = str(error.value)
    assert "\n" not in message
    assert message == ("runs/x holds a run on other data (limit: 500 then, 600 now): train "
                       "with --overwrite (overwrite=True) to start afresh, or choose another "
                       "--run-dir (run_dir=).")
    with pytest.raises(ValueError, match=r"\(limit: 500 then, none now\)"):
        fingerprint.check_match(kept, {"dataset": "mnist"}, "a", "b")
    fingerprint.check_match(None, kept, "a", "b")  # kept by an older version: no check


# -- the three resume paths -----------------------------------------------------------------


@pytest.mark.slow
def test_a_backup_resumes_on_its_own_data_only(tmp_path, capsys):
    recipe = ArrayTiny()
    kwargs = dict(run_dir=tmp_path, verbose=0, diagnose=False, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        recipe.train(callbacks=[Interrupt()], **kwargs, **blobs(0))
    assert (tmp_path / "backup").is_dir()
    kept = (tmp_path / fingerprint.FILE).read_text()

    with pytest.raises(ValueError, match=f"{tmp_path} holds an interrupted run {OTHER_DATA}"
                                         r".*\): train with --overwrite \(overwrite=True\)"):
        recipe.train(**kwargs, **blobs(1))
    assert (tmp_path / "backup").is_dir()  # nothing lost
    assert (tmp_path / fingerprint.FILE).read_text() == kept
    # Another seed splits the rows another way: the weights have seen its validation rows.
    with pytest.raises(ValueError, match=r"interrupted run on other data \(seed: 42 then, 7 now\)"):
        recipe.train(**kwargs, seed=7, **blobs(0))

    capsys.readouterr()
    Count.epochs = 0
    recipe.train(callbacks=[Count()], **kwargs, **blobs(0))  # the same data resumes
    assert "Resuming at epoch 2 of 3" in capsys.readouterr().out
    assert Count.epochs == 2

    with pytest.raises(KeyboardInterrupt):
        recipe.train(callbacks=[Interrupt()], **kwargs, **blobs(0))
    Count.epochs = 0
    recipe.train(callbacks=[Count()], overwrite=True, **kwargs, **blobs(1))  # afresh
    assert Count.epochs == 3 and "Resuming" not in capsys.readouterr().out
    assert json.loads((tmp_path / fingerprint.FILE).read_text()) == fingerprint.fingerprint(
        recipe, data_options=blobs(1), seed=42)


@pytest.mark.slow
def test_an_auto_loop_resumes_on_its_own_data_only(tmp_path, monkeypatch, capsys):
    # Every reading of the clock is a second later: the loop stops within its budget.
    ticks = iter(range(10**6))
    monkeypatch.setattr(loop_module, "clock", lambda: float(next(ticks)))
    recipe = ArrayTiny()
    kwargs = dict(auto=60, run_dir=tmp_path, verbose=0, diagnose=False)
    first = recipe.train(**kwargs, **blobs(0))
    state = json.loads((tmp_path / "auto.json").read_text())
    assert state["stopped"] and state["data"] == fingerprint.fingerprint(
        recipe, data_options=blobs(0), seed=42)

    # Checked before the data is read, against RUN_DIR/data.json.
    with pytest.raises(ValueError, match=f"holds an --auto loop {OTHER_DATA}.*"
                                         r"choose another --run-dir \(run_dir=\)\.$"):
        recipe.train(**kwargs, **blobs(1))

    Count.epochs = 0
    again = recipe.train(callbacks=[Count()], **dict(kwargs, verbose=1), **blobs(0))
    assert "Resuming --auto" in capsys.readouterr().out
    assert Count.epochs == 0 and again.auto["chosen"] == first.auto["chosen"]

    Count.epochs = 0
    fresh = recipe.train(callbacks=[Count()], overwrite=True, **kwargs, **blobs(1))
    assert Count.epochs > 0 and fresh.auto["steps"][0]["move"] == "defaults"
    assert json.loads((tmp_path / "auto.json").read_text())["data"] == fingerprint.fingerprint(
        recipe, data_options=blobs(1), seed=42)


@pytest.mark.slow
def test_a_search_resumes_on_its_own_data_only(tmp_path):
    kwargs = dict(tuner="random", max_trials=1, epochs=1, directory=tmp_path, verbose=0)
    first = tuning.search(ArrayTiny(), **kwargs, **blobs(0))
    assert json.loads((tmp_path / "tiny" / fingerprint.FILE).read_text()) == (
        fingerprint.fingerprint(ArrayTiny(), data_options=blobs(0), seed=42))

    with pytest.raises(ValueError, match=f"{tmp_path / 'tiny'} holds a search {OTHER_DATA}.*"
                                         r"tune with --overwrite \(overwrite=True\) to start "
                                         r"afresh, or choose another --directory"):
        tuning.search(ArrayTiny(), **dict(kwargs, max_trials=2), **blobs(1))
    # Nothing of the search was touched: the same data resumes it.
    resumed = tuning.search(ArrayTiny(), **dict(kwargs, max_trials=2), **blobs(0))
    assert resumed.trials[0]["score"] == first.trials[0]["score"]
    assert len(resumed.trials) == 2
    fresh = tuning.search(ArrayTiny(), overwrite=True, **kwargs, **blobs(1))
    assert len(fresh.trials) == 1

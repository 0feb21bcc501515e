"""The engine on real MNIST (small subsets): train, evaluate, export, save, resume, errors."""

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import load_in_fresh_process
from recipes import cnn_mnist, mlp_mnist
from recipes.engine import Result, get_strategy

fit_module = importlib.import_module("recipes.engine.fit")  # the package exports `fit`


@pytest.fixture(scope="module")
def mnist_small():
    return cnn_mnist.recipe.load_data(limit=768)


@pytest.fixture(scope="module")
def trained(mnist_small, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return cnn_mnist.train(
        epochs=2, batch_size=64, data=mnist_small, run_dir=run_dir, verbose=0, hp={"filters": 16}
    )


@pytest.mark.slow
def test_train_returns_a_complete_result(trained, mnist_small):
    assert trained.recipe == "cnn_mnist"
    assert len(trained.history["loss"]) == 2
    assert set(trained.test_metrics) == {"loss", "accuracy"}
    # The test split is evaluated once, on the real 10,000 test images.
    assert trained.settings["train_size"] == mnist_small.train_size
    assert trained.hyperparameters["filters"] == 16
    assert trained.settings["steps_per_epoch"] == int(np.ceil(mnist_small.train_size / 64))
    assert len(trained.timings["epoch_seconds"]) == 2
    # The run directory holds what `recipes.engine.Result.load` reads.
    run_dir = Path(trained.run_dir)
    history = json.loads((run_dir / "history.json").read_text())
    assert history["val_loss"] == trained.history["val_loss"]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["test_metrics"] == trained.test_metrics
    assert trained.diagnosis is not None and trained.diagnosis.verdict


@pytest.mark.slow
def test_evaluate_matches_the_reported_test_metrics(trained, mnist_small):
    images, labels = zip(*mnist_small.test.batch(10_000).take(1))
    acc = np.mean(np.argmax(trained.model.predict(images[0], verbose=0), -1) == labels[0])
    assert acc == pytest.approx(trained.test_metrics["accuracy"], abs=1e-6)


@pytest.mark.slow
def test_savedmodel_loads_without_this_project(trained, tmp_path):
    path = trained.export(tmp_path / "saved")
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1)).astype("uint8")  # raw pixels
    expected = trained.model.predict(x.astype("float32"), verbose=0)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        served = tf.saved_model.load({str(path)!r})
        y = served.serve(tf.constant(np.load({str(tmp_path / 'x.npy')!r})))["probabilities"].numpy()
        np.save({str(tmp_path / 'y.npy')!r}, y)
        assert not any(m.split('.')[0] in ('recipes', 'layers', 'callbacks') for m in sys.modules)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_keras_file_with_a_custom_layer_loads_after_import_layers(mnist_small, tmp_path):
    result = mlp_mnist.train(
        epochs=1, data=mnist_small, run_dir=tmp_path / "run", verbose=0,
        diagnose=False, hp=dict(activation="maxout", units=32, depth=1),
    )
    path = result.save_model(tmp_path / "mlp.keras")
    x = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1)).astype("float32")
    got = load_in_fresh_process(path, x, imports=("layers",))
    np.testing.assert_allclose(got, result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="must end in '.keras'"):
        result.save_model(tmp_path / "mlp.h5")


class Interrupt(keras.callbacks.Callback):
    """Simulates a crash at the start of epoch `at` (0-based)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt(f"killed at epoch {epoch}")


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_last_epoch(mnist_small, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.setattr(fit_module, "BACKUP_RATIO", 0)  # a backup at every epoch's end
    kwargs = dict(data=mnist_small, run_dir=tmp_path, verbose=0, diagnose=False, hp={"filters": 16})
    with pytest.raises(KeyboardInterrupt):
        cnn_mnist.train(epochs=4, callbacks=[Interrupt(2)], **kwargs)
    assert (tmp_path / "backup").exists()
    first = json.loads((tmp_path / "backup" / "history.json").read_text())
    assert len(first["history"]["loss"]) == 2 and len(first["epoch_seconds"]) == 2
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    capsys.readouterr()
    result = cnn_mnist.train(epochs=4, callbacks=[Record()], **kwargs)
    assert seen == [2, 3]  # epochs 0 and 1 were not trained again
    assert f"Resuming at epoch 3 of 4 from {tmp_path / 'backup'}" in capsys.readouterr().out
    # The whole run's history and timings, the interrupted part first.
    assert len(result.history["loss"]) == 4 and len(result.timings["epoch_seconds"]) == 4
    assert result.history["loss"][:2] == first["history"]["loss"]
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["loss"] == result.history["loss"]
    assert not (tmp_path / "backup").exists()  # a finished run leaves no backup


@pytest.mark.slow
def test_backups_are_spaced_by_what_they_cost_and_a_run_resumes_from_the_last(
        tmp_path, monkeypatch, capsys):
    # A fake clock: each epoch takes 4 s, each save 1 s; with BACKUP_RATIO 20 a save
    # waits for 20 s of training since the last one, so epochs 0 and 5 are saved.
    now = [0.0]
    monkeypatch.setattr(fit_module, "clock", lambda: now[0])
    monkeypatch.setattr(fit_module, "BACKUP_RATIO", 20)
    save = fit_module.Backup._save_model

    def slow_save(self):
        now[0] += 1.0
        save(self)

    monkeypatch.setattr(fit_module.Backup, "_save_model", slow_save)
    seen = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            now[0] += 4.0
            seen.append(epoch)
            if epoch == stop_at:
                raise KeyboardInterrupt(f"killed at epoch {epoch}")

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
        m.compile("adam", "mse")
        return m

    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    backup = tmp_path / "backup"
    stop_at = 7
    with pytest.raises(KeyboardInterrupt):
        fit_module.fit(model(), data, data, epochs=8, backup_dir=backup, verbose=0,
                       callbacks=[Epochs()])
    meta = json.loads((backup / "training_metadata.json").read_text())
    assert meta["epoch"] == 6  # the last save, at epoch 5's end
    assert len(json.loads((backup / "history.json").read_text())["history"]["loss"]) == 7
    seen.clear()
    stop_at = None
    capsys.readouterr()
    fitted = fit_module.fit(model(), data, data, epochs=8, backup_dir=backup, verbose=0,
                            callbacks=[Epochs()])
    assert seen == [6, 7]  # epochs 0-5 were not trained again; epoch 6 was lost
    assert f"Resuming at epoch 7 of 8 from {backup}" in capsys.readouterr().out
    assert len(fitted.history["loss"]) == 8 and not backup.exists()


def test_unknown_hyperparameter_is_named(mnist_small, tmp_path):
    with pytest.raises(ValueError, match=r"no hyperparameter\(s\) \['filtres'\]. Known: .*'filters'"):
        cnn_mnist.train(epochs=1, data=mnist_small, run_dir=tmp_path, verbose=0,
                        hp={"filtres": 8})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs must be a positive integer. Received: epochs=0"),
        (dict(batch_size=-3), "Received: batch_size=-3"),
        (dict(learning_rate=0.0), "Received: learning_rate=0.0"),
        (dict(strategy="tpu"), "Unknown strategy"),
    ],
)
def test_bad_settings_fail_before_any_data_is_read(kwargs, message):
    # data_dir points nowhere: the settings error must come first.
    with pytest.raises(ValueError, match=message):
        cnn_mnist.train(data_dir="/nonexistent", verbose=0, **kwargs)


@pytest.mark.slow
def test_two_replicas_share_the_global_batch(mnist_small, tmp_path):
    strategy = get_strategy("mirrored")  # the two logical CPUs of conftest.py
    assert strategy.num_replicas_in_sync == 2
    result = cnn_mnist.train(
        epochs=1, batch_size=32, data=mnist_small, strategy=strategy,
        run_dir=tmp_path, verbose=0, diagnose=False, hp={"filters": 16},
    )
    assert result.settings["global_batch_size"] == 64
    assert result.settings["replicas"] == 2
    # The weights are mirrored over both devices.
    assert isinstance(result.model.trainable_variables[0].value, tf.distribute.DistributedValues)
    assert np.isfinite(result.test_metrics["loss"])


@pytest.mark.slow
def test_compare_depth_trains_a_shallower_and_a_deeper_variant(mnist_small, tmp_path):
    result = mlp_mnist.train(
        epochs=1, data=mnist_small, run_dir=tmp_path, verbose=0, hp=dict(units=32, depth=2),
        compare_depth=True,
    )
    assert result.comparisons["shallower"]["depth"] == 1
    assert result.comparisons["deeper"]["depth"] == 3
    assert len(result.comparisons["deeper"]["history"]["loss"]) == 1
    assert (tmp_path / "depth-3" / "result.json").exists()
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["comparisons"]["shallower"]["depth"] == 1
    # One epoch on 691 images leaves the training error high; with the variants to
    # compare with, the diagnosis can tell model bias from an optimization failure.
    from recipes.diagnostics import MODEL_BIAS, OPTIMIZATION

    assert result.diagnosis.verdict in (MODEL_BIAS, OPTIMIZATION)
    assert "deeper_train_error" in result.diagnosis.evidence


class EpochWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


@pytest.mark.slow
def test_an_image_classifier_ends_with_the_latest_epoch_near_its_best(mnist_small, tmp_path):
    from recipes.engine.auto import best_epoch

    seen = EpochWeights()
    # Small batches and no dropout on 691 images: the validation loss bottoms out and
    # wanders, so the latest epoch within 5% of the best is not the best.
    result = mlp_mnist.train(epochs=10, batch_size=16, data=mnist_small, run_dir=tmp_path,
                             verbose=0, callbacks=[seen], diagnose=False, seed=1,
                             hp={"units": 256, "dropout": 0.0, "input_dropout": 0.0})
    val_loss = result.history["val_loss"]
    kept = best_epoch(result.history, "val_loss", mlp_mnist.recipe.restore_tolerance)
    assert mlp_mnist.recipe.restore_tolerance == 0.05
    assert kept > int(np.argmin(val_loss)), val_loss  # the case this test is about
    assert val_loss[kept] <= 1.05 * min(val_loss)
    assert all(v > 1.05 * min(val_loss) for v in val_loss[kept + 1:])
    for got, want in zip(result.model.get_weights(), seen.weights[kept]):
        np.testing.assert_array_equal(got, want)
    assert result.kept_epoch == kept + 1
    assert Result.load(tmp_path).kept_epoch == kept + 1


@pytest.mark.slow
def test_the_same_seed_trains_the_same_model_twice(mnist_small, tmp_path):
    """cnn_mnist augments its training images: with the same seed, two runs see the same
    transforms and end with the same weights (the benchmarks' per-seed figures hold)."""
    def run(seed, name):
        return cnn_mnist.train(epochs=2, batch_size=64, data=mnist_small, seed=seed,
                               run_dir=tmp_path / name, verbose=0, diagnose=False,
                               hp={"filters": 16})

    first, again = run(5, "a"), run(5, "b")
    assert first.history == again.history
    for a, b in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_python_run_directory_serves_with_recipes_load(tmp_path):
    import pandas as pd

    import recipes
    from recipes import tabular

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rooms": rng.integers(1, 6, 200).astype(float),
                          "town": rng.choice(["Alton", "Corby"], 200)})
    frame["price"] = 50 * frame["rooms"] + 30 * (frame["town"] == "Corby") + rng.normal(0, 5, 200)
    result = tabular.train(frame=frame, target="price", epochs=2, run_dir=tmp_path,
                           verbose=0, diagnose=False)
    assert (tmp_path / "model" / "saved_model.pb").is_file()
    rows = frame.drop(columns="price").head(7)
    scored = recipes.load(tmp_path).predict(rows)  # the run directory, as README says
    expected = result.model({"rooms": tf.constant(rows["rooms"].to_numpy("float32")),
                             "town": tf.constant(rows["town"].to_numpy(str))},
                            training=False).numpy()[:, 0]
    np.testing.assert_allclose(scored["prediction"].to_numpy(), expected, rtol=1e-4, atol=1e-3)
    assert list(scored.columns[:2]) == ["rooms", "town"]

"""The task recipes on the user's own data: the image tasks train on every source and
export a SavedModel that scores raw inputs, alone, as the trained model does; the same
seed gives the same splits from every source; bad data fails before training."""

import json
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

import recipes
from recipes import cnn, data, mlp, tabular
from recipes.engine.recipe import momentum_unset

N = 400  # MNIST images per source: seconds per training


@pytest.fixture(scope="module")
def mnist_arrays():
    x, y = data.load("mnist", limit=N, validation_split=0).arrays("train")
    return x, y


@pytest.fixture(scope="module")
def mnist_folder(mnist_arrays, tmp_path_factory):
    """The same images as PNG files, one folder per class, in array order."""
    root = tmp_path_factory.mktemp("digits")
    x, y = mnist_arrays
    for i, (image, label) in enumerate(zip(x, y)):
        folder = root / f"digit{label}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(image[..., 0]).save(folder / f"{i:05d}.png")
    return root


def folder_order(mnist_arrays):
    """The arrays in the order a folder lists them: by class, then by file name."""
    x, y = mnist_arrays
    order = np.lexsort((np.arange(len(y)), y))
    return x[order], y[order]


def sources(name, mnist_arrays, mnist_folder):
    x, y = folder_order(mnist_arrays)
    return {
        "tfds": dict(dataset="mnist", limit=N),
        "folder": dict(images=mnist_folder),
        "arrays": dict(x=x[..., 0], y=y),
        "dataset": dict(dataset=tf.data.Dataset.from_tensor_slices((x, y))),
    }[name]


def serve_in_fresh_process(path, inputs, tmp_path):
    """Calls the SavedModel's `serve` in a process that imports only TensorFlow."""
    return serve_all_in_fresh_process({"model": path}, inputs, tmp_path)["model"]


def serve_all_in_fresh_process(paths, inputs, tmp_path):
    """`{name: outputs}`: each SavedModel of `paths` (`{name: path}`) served `inputs`,
    all in one process that imports only TensorFlow."""
    np.savez(tmp_path / "inputs.npz", **inputs)
    targets = {name: str(tmp_path / f"outputs-{name}.npz") for name in paths}
    code = textwrap.dedent(
        f"""
        import sys, numpy as np, tensorflow as tf
        raw = dict(np.load({str(tmp_path / 'inputs.npz')!r}, allow_pickle=True))
        raw = {{k: tf.constant(v.astype(str) if v.dtype == object else v) for k, v in raw.items()}}
        for name, path in {({k: str(v) for k, v in paths.items()})!r}.items():
            served = tf.saved_model.load(path)
            out = served.serve(raw["image"] if list(raw) == ["image"] else raw)
            np.savez({targets!r}[name], **{{k: v.numpy() for k, v in out.items()}})
        assert not any(m.split('.')[0] in ('recipes', 'layers', 'callbacks') for m in sys.modules)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return {name: dict(np.load(target, allow_pickle=True)) for name, target in targets.items()}


@pytest.mark.slow
@pytest.mark.parametrize("task, hp, from_sources", [
    (cnn, {"filters": 16}, ("tfds", "folder", "arrays", "dataset")),
    # The image tasks share their loading (`ImageTask`): the mlp on one source.
    (mlp, {"units": 32, "depth": 1}, ("folder",)),
])
def test_the_image_tasks_train_on_every_source_and_serve_raw_pixels(
    task, hp, from_sources, mnist_arrays, mnist_folder, tmp_path
):
    x, y = mnist_arrays
    pixels = x[:6]  # uint8, as the files and TFDS hold them
    exports, expected = {}, {}
    for source in from_sources:
        result = task.train(
            epochs=1, batch_size=64, hp=hp, run_dir=tmp_path / source, verbose=0,
            diagnose=False, **sources(source, mnist_arrays, mnist_folder),
        )
        assert json.loads((tmp_path / source / "result.json").read_text())["test_metrics"]
        expected[source] = result.model.predict(pixels.astype("float32"), verbose=0)
        exports[source] = result.export(tmp_path / f"saved-{source}")
    served = serve_all_in_fresh_process(exports, {"image": pixels}, tmp_path)
    for source, out in served.items():
        np.testing.assert_allclose(out["probabilities"], expected[source], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out["class_id"], expected[source].argmax(-1))
        names = [f"digit{i}" for i in range(10)] if source == "folder" else [
            str(i) for i in range(10)]
        assert [n.decode() for n in out["class_name"]] == [
            names[i] for i in expected[source].argmax(-1)], source


def _assert_forgets_initial_statistics(layer, updates):
    """Runs `layer` (a built BatchNormalization) in training mode `updates` times, as a
    training of that many steps does, on batches of mean 10 and variance 4: its moving
    statistics follow numpy's running average and keep less than 1% of the initial
    ones (mean 0, variance 1)."""
    batch = np.array([[8.0] * 4, [12.0] * 4] * 4, "float32")  # mean 10, variance 4
    mean, variance = np.zeros(4), np.ones(4)
    for _ in range(updates):
        layer(batch, training=True)
        mean = layer.momentum * mean + (1 - layer.momentum) * batch.mean(0)
        variance = layer.momentum * variance + (1 - layer.momentum) * batch.var(0)
    moving_mean = keras.ops.convert_to_numpy(layer.moving_mean)
    moving_variance = keras.ops.convert_to_numpy(layer.moving_variance)
    np.testing.assert_allclose(moving_mean, mean, rtol=1e-4)
    np.testing.assert_allclose(moving_variance, variance, rtol=1e-4)
    assert np.all(np.abs(moving_mean - 10) < 0.01 * 10), moving_mean
    assert np.all(np.abs(moving_variance - 4) < 0.01 * 3), moving_variance


@pytest.mark.slow
@pytest.mark.parametrize("task, margin", [(cnn, 0.10), (mlp, 0.05)])
def test_an_image_task_learns_a_few_hundred_images_beyond_a_linear_model(task, margin,
                                                                        tmp_path):
    # 1,000 MNIST digits, as a user's small folder: the task with its defaults against
    # softmax regression on the pixels, trained the same way (same splits, batches,
    # epochs, optimizer and schedule).
    x, y = data.load("mnist", limit=1000, validation_split=0).arrays("train")
    splits = task.recipe.load_data(x=x[..., 0], y=y)
    result = task.train(data=splits, run_dir=tmp_path / "run", verbose=0, diagnose=False)
    batch, epochs = result.settings["batch_size"], result.settings["epochs"]
    train, _, test = task.recipe.pipelines(splits, batch)
    keras.utils.set_random_seed(42)
    linear = keras.Sequential([keras.Input(splits.input_shape), keras.layers.Rescaling(1 / 255),
                               keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    task.recipe.compile(linear, None, -(-splits.train_size // batch), epochs)
    linear.fit(train, epochs=epochs, verbose=0, shuffle=False)  # the pipeline shuffles
    baseline = linear.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    assert baseline > 0.5  # the baseline itself learns: the comparison means something
    assert result.test_metrics["accuracy"] >= baseline + margin


def test_batch_norm_forgets_its_initial_statistics_within_a_short_training():
    def model(**momentum):
        inputs = keras.Input((4,))
        with momentum_unset():  # as `Recipe.build` builds a recipe's model
            x = keras.layers.BatchNormalization(**momentum)(inputs)
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))

    for steps, epochs, expected in [(5, 12, 0.9), (50, 10, 0.98), (100, 12, 0.99)]:
        short = model()
        cnn.recipe.compile(short, None, steps, epochs)
        assert short.layers[1].momentum == pytest.approx(expected)
        _assert_forgets_initial_statistics(short.layers[1], steps * epochs)
    for given in (0.95, 0.99):  # a model's own choice stays, Keras's default value too
        own = model(momentum=given)
        cnn.recipe.compile(own, None, 5, 12)
        assert own.layers[1].momentum == given
    plain = model()
    cnn.recipe.compile(plain, None)  # no schedule, no step count: Keras's default
    assert plain.layers[1].momentum == 0.99


@pytest.mark.parametrize("task", [cnn, mlp])
def test_label_smoothing_is_a_tunable_of_the_image_tasks(task):
    y = np.array([0, 1])
    confident = np.full((2, 10), 0.02 / 9)
    confident[[0, 1], y] = 0.98

    def loss(values):
        hp = task.recipe.hyperparameters(values)
        model = task.build_model(hp)
        task.recipe.compile(model, hp)
        compiled = keras.losses.get(model.loss)  # Keras's sparse loss is compiled by name
        return hp.get("label_smoothing"), float(np.mean(compiled(y, confident)))

    assert loss({})[0] == task.recipe.label_smoothing
    _, plain = loss({"label_smoothing": 0.0})
    smoothing, smoothed = loss({"label_smoothing": 0.1})
    assert smoothing == 0.1
    # Smoothed labels put a share on every class: a confident right answer costs more.
    assert smoothed > plain
    expected = keras.losses.categorical_crossentropy(
        np.eye(10)[y], confident, label_smoothing=0.1)
    assert smoothed == pytest.approx(float(np.mean(expected)), rel=1e-5)


def test_mlp_drops_pixels_before_its_first_layer():
    model = mlp.build_model(hp={"input_dropout": 0.3, "units": 16, "depth": 1})
    flat = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    after = model.layers[model.layers.index(flat) + 1]
    assert isinstance(after, keras.layers.Dropout)
    pixels = keras.Model(model.inputs[0], after.output)
    ones = np.full((64, 28, 28, 1), 255.0, "float32")
    dropped = np.mean(keras.ops.convert_to_numpy(pixels(ones, training=True)) == 0)
    assert dropped == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pixels(ones)), 1.0)
    plain = mlp.build_model(hp={"input_dropout": 0.0, "units": 16, "depth": 1})
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in plain.layers) == 1


def test_the_same_seed_gives_the_same_splits_from_every_source(mnist_arrays, mnist_folder):
    def fingerprint(splits):
        out = {}
        for split in ("train", "validation", "test"):
            x, y = splits.arrays(split)
            out[split] = (y.tolist(), x.reshape(len(x), -1).sum(1).tolist())
        return out

    x, y = folder_order(mnist_arrays)
    folder = data.load_images(images=mnist_folder, seed=3)
    arrays = data.load_images(x=x, y=y, seed=3)
    dataset = data.load_images(dataset=tf.data.Dataset.from_tensor_slices((x, y)), seed=3)
    assert fingerprint(folder) == fingerprint(arrays) == fingerprint(dataset)
    assert (folder.train_size, folder.validation_size, folder.test_size) == (324, 36, 40)
    assert folder.dtype == arrays.dtype == dataset.dtype == "uint8"
    assert fingerprint(data.load_images(x=x, y=y, seed=4)) != fingerprint(arrays)


def dataset_ops(ds):
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor).numpy())
    return {node.op for node in graph.node}


def test_arrays_are_cut_into_splits_not_filtered_example_by_example():
    x = np.arange(50 * 4, dtype="uint8").reshape(50, 2, 2)
    splits = data.load_images(x=x, y=np.arange(50) % 2, seed=1)
    dataset = data.load_images(dataset=tf.data.Dataset.from_tensor_slices((x[..., None], np.arange(50) % 2)), seed=1)
    assert "FilterDataset" in dataset_ops(dataset.train)  # the lazy source's filter
    for split in ("train", "validation", "test"):
        assert "FilterDataset" not in dataset_ops(getattr(splits, split))
        np.testing.assert_array_equal(splits.arrays(split)[0], dataset.arrays(split)[0])
    assert (splits.train_size, splits.validation_size, splits.test_size) == (41, 4, 5)  # round(0.1 * 45) = 4
    seen = np.concatenate([splits.arrays(s)[0] for s in ("train", "validation", "test")])
    np.testing.assert_array_equal(np.sort(seen.reshape(50, -1)[:, 0]), np.arange(0, 200, 4))


def test_augmentation_follows_the_kind_of_images():
    assert data.augment_for("mnist", 1) == "digits"
    assert data.augment_for("fashion_mnist", 1) == "photos"  # clothing flips
    assert data.augment_for("cifar10", 3) == "photos"
    assert data.augment_for("my_folder", 1) == "digits"
    x = np.zeros((40, 8, 8, 3), "uint8")
    splits = cnn.recipe.load_data(x=x, y=np.arange(40) % 2)
    assert splits.augment == "photos"
    assert cnn.recipe.augmentation(splits).name == "photos"
    assert cnn.recipe.augmentation(cnn.recipe.load_data(x=x, y=np.arange(40) % 2, augment="none")) is None


def test_zero_to_one_float_pixels_are_not_rescaled_again(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (60, 8, 8)).astype("float32")
    splits = cnn.recipe.load_data(x=x, y=np.arange(60) % 3)
    assert splits.pixel_max == 1.0 and splits.num_classes == 3 and splits.input_shape == (8, 8, 1)
    model = cnn.recipe.build_model(data=splits)
    rescale = next(layer for layer in model.layers if layer.name.startswith("rescaling"))
    assert rescale.scale == 1.0


def write_image(path, size, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(path)


@pytest.mark.parametrize(
    "layout, message",
    [
        ({"a/1.png": (8, 8)}, r"has one class folder \('a'\)"),
        ({"a/1.png": (8, 8), "b/": None}, r"class folder .*b is empty"),
        ({"a/1.png": (8, 8), "b/2.png": (8, 8), "b/notes.txt": "text"}, r"notes.txt is not an image"),
        ({"a/1.png": (8, 8), "b/2.png": "not png"}, r"2.png cannot be read as an image"),
    ],
)
def test_bad_folders_fail_before_training(tmp_path, layout, message):
    for name, what in layout.items():
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir(parents=True)
        elif isinstance(what, tuple):
            write_image(path, what)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(what)
    with pytest.raises(ValueError, match=message):
        cnn.train(images=tmp_path, run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_mixed_sizes_are_resized_to_their_median_or_to_image_size(tmp_path):
    widths = [8, 9, 10, 10, 12, 30, 10, 9, 10, 11, 10, 300]
    for i, width in enumerate(widths):  # PIL sizes are (width, height)
        write_image(tmp_path / "imgs" / f"c{i % 2}" / f"{i}.png", (width, 8 + i % 2))
    splits = cnn.recipe.load_data(images=tmp_path / "imgs", image_size=(6, 6))
    assert splits.input_shape == (6, 6, 1) and splits.class_names == ("c0", "c1")
    image, _ = next(iter(splits.train))
    assert image.dtype == tf.uint8 and image.shape == (6, 6, 1)
    assert splits.notes == ()
    median = cnn.recipe.load_data(images=tmp_path / "imgs")
    height, width = np.median([8 + i % 2 for i in range(12)]), np.median(widths)
    assert median.input_shape == (round(height), round(width), 1)
    distinct = len({(8 + i % 2, w) for i, w in enumerate(widths)})
    assert f"have {distinct} sizes (8x8 to 9x300): resized to {round(height)}x{round(width)}" in median.notes[0]
    # The longer side is capped: an epoch stays affordable.
    assert data.images.common_size({(900, 1200): ["a", "b"], (600, 800): ["c"]}) == (96, 128)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=np.zeros((20, 4, 4)), y=np.r_[np.arange(19) % 2, -1]), r"Label y\[19\] = -1 is out of range"),
        (dict(x=np.zeros((20, 4, 4)), y=np.arange(20) % 2, class_names=["a"]), r"y\[1\] = 1 is out of range: .* \[0, 1\)"),
        (dict(x=np.zeros((20, 4, 4)), y=np.zeros(20, int)), "one class only"),
        (dict(x=np.zeros((20, 4, 4)), y=np.arange(20) / 3), r"integer class ids: y\[1\]"),
        (dict(x=np.zeros((20, 4)), y=np.arange(20) % 2), r"x must hold images of shape"),
        (dict(), r"trains on your data: pass dataset="),
        (dict(images="x", x=np.zeros((4, 2, 2)), y=np.arange(4)), "exactly one image source"),
    ],
)
def test_bad_arrays_fail_before_training(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.train(run_dir=tmp_path / "run", verbose=0, **kwargs)
    assert not (tmp_path / "run").exists()


# -- tables ---------------------------------------------------------------------------


def houses(n=300, seed=0):
    """A table with a text column, a small-integer column and two numbers."""
    rng = np.random.default_rng(seed)
    town = rng.choice(["Alton", "Brent", "Corby"], n)
    rooms = rng.integers(1, 6, n)
    area = rng.uniform(30, 200, n).round(1)
    age = rng.uniform(0, 80, n).round(0)
    price = 2.0 * area + 15 * rooms + np.select([town == "Alton", town == "Brent"], [100, 40], 0)
    price = price - 0.5 * age + rng.normal(0, 5, n)
    return pd.DataFrame(dict(town=town, rooms=rooms, area=area, age=age, price=price.round(2)))


def test_tabular_chooses_the_task_and_encodes_each_column(tmp_path):
    frame = houses()
    frame.to_csv(tmp_path / "houses.csv", index=False)
    splits = data.load_table(csv=tmp_path / "houses.csv", target="price")
    assert splits.task == "regression"
    assert splits.columns == {"town": "text", "rooms": "integer_category", "area": "number", "age": "number"}
    # 15% of 300 rows for the test, then 15% of the other 255 for validation.
    assert (splits.train_size, splits.validation_size, splits.test_size) == (217, 38, 45)
    # Shuffled, not in file order: the test rows are spread over the whole file.
    frame["expensive"] = np.where(frame.price > frame.price.median(), "yes", "no")
    labels = data.load_table(frame=frame.drop(columns="price"), target="expensive")
    assert labels.task == "classification" and labels.class_names == ("no", "yes")
    assert data.load_table(frame=frame, target="rooms").task == "classification"
    assert data.load_table(frame=frame, target="rooms", task="regression").task == "regression"


def linear_baseline(splits):
    """Least squares on one-hot text, one-hot small integers and standardised numbers:
    the scikit-style linear baseline, computed here with numpy."""
    def rows(split):
        x, y = [], []
        for features, target in getattr(splits, split).as_numpy_iterator():
            x.append(features)
            y.append(target)
        return x, np.array(y)

    train_x, train_y = rows("train")
    test_x, test_y = rows("test")
    columns = []
    for name, kind in splits.columns.items():
        values = [r[name] for r in train_x]
        if kind == "number":
            columns.append(("n", name, np.mean(values), np.std(values) or 1.0))
        else:
            columns.append(("c", name, sorted(set(values)), None))

    def encode(x):
        out = [np.ones(len(x))]
        for kind, name, a, b in columns:
            v = np.array([r[name] for r in x])
            if kind == "n":
                out.append((v - a) / b)
            else:
                out += [(v == level).astype(float) for level in a]
        return np.stack(out, 1)

    w, *_ = np.linalg.lstsq(encode(train_x), train_y, rcond=None)
    return np.abs(encode(test_x) @ w - test_y).mean()


@pytest.mark.slow
def test_tabular_beats_least_squares_on_a_real_table_with_a_text_column(tmp_path):
    from statsmodels.datasets import grunfeld

    frame = grunfeld.load_pandas().data  # 220 rows; `firm` is text
    splits = data.load_table(frame=frame, target="invest")
    assert splits.columns["firm"] == "text"
    result = tabular.train(data=splits, run_dir=tmp_path / "run", verbose=0, diagnose=False)
    assert result.test_metrics["mae"] <= linear_baseline(splits)


@pytest.mark.slow
def test_tabular_trains_and_serves_raw_rows(tmp_path):
    frame = houses()
    frame.to_csv(tmp_path / "houses.csv", index=False)
    result = tabular.train(
        epochs=20, csv=tmp_path / "houses.csv", target="price", run_dir=tmp_path / "run",
        verbose=0, diagnose=False,
    )
    splits = data.load_table(csv=tmp_path / "houses.csv", target="price")
    mean = np.mean([y for _, y in splits.train.as_numpy_iterator()])
    trivial = np.mean([abs(y - mean) for _, y in splits.test.as_numpy_iterator()])
    assert result.test_metrics["mae"] < 0.5 * trivial
    raw = {"town": np.array(["Alton", "Corby", "Nowhere"], object),
           "rooms": np.array([1.0, 5.0, 3.0], "float32"),
           "area": np.array([50.0, 120.0, 80.0], "float32"),
           "age": np.array([10.0, 60.0, 0.0], "float32")}
    expected = result.model({k: tf.constant(v.astype(str) if v.dtype == object else v)
                             for k, v in raw.items()}, training=False).numpy()[:, 0]
    out = serve_in_fresh_process(result.export(tmp_path / "saved"), raw, tmp_path)
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-4, atol=1e-3)


def messy(n=300, seed=0):
    """`houses` as real exports come: a row-number column, odd names, gaps in numbers,
    texts and the target."""
    frame = houses(n, seed).rename(columns={"area": "area m²", "age": "Age/years"})
    frame.insert(0, "rownames", np.arange(1, n + 1))
    frame["country"] = "UK"
    frame.loc[::6, "area m²"] = np.nan
    frame.loc[::7, "town"] = None
    frame.loc[::13, "price"] = np.nan
    return frame


@pytest.mark.slow
def test_tabular_serves_rows_with_gaps_by_their_own_names(tmp_path):
    frame = messy()
    frame.to_csv(tmp_path / "houses.csv", index=False)
    result = tabular.train(epochs=3, csv=tmp_path / "houses.csv", target="price",
                           run_dir=tmp_path / "run", verbose=0, diagnose=False)
    notes = result.settings["data_notes"]
    assert any("rows without a target 'price'" in n for n in notes)
    assert any("'rownames'" in n and "--keep rownames" in n for n in notes)
    assert any("'country': the same value in every row" in n for n in notes)
    raw = {"town": np.array(["Alton", "", "Nowhere", ""], object),
           "rooms": np.array([1.0, 5.0, np.nan, 3.0], "float32"),
           "area_m2": np.array([np.nan, 120.0, 80.0, np.nan], "float32"),
           "Age_years": np.array([10.0, np.nan, 0.0, 30.0], "float32")}
    expected = result.model({k: tf.constant(v.astype(str) if v.dtype == object else v)
                             for k, v in raw.items()}, training=False).numpy()[:, 0]
    assert np.isfinite(expected).all()
    out = serve_in_fresh_process(result.export(tmp_path / "saved"), raw, tmp_path)
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-4, atol=1e-3)
    # A gap is filled with the training median and flagged: not the same as the median.
    filled = dict(raw, area_m2=np.array([np.nanmedian(frame["area m²"])] * 4, "float32"))
    median = result.model({k: tf.constant(v.astype(str) if v.dtype == object else v)
                           for k, v in filled.items()}, training=False).numpy()[:, 0]
    assert not np.allclose(median[[0, 3]], expected[[0, 3]])


@pytest.mark.slow
def test_predict_writes_the_rows_in_order_with_their_predictions(tmp_path, capsys):
    from recipes.__main__ import main

    frame = messy()
    frame.to_csv(tmp_path / "houses.csv", index=False)
    assert main(["train", "tabular", "--csv", str(tmp_path / "houses.csv"), "--target", "price",
                 "--epochs", "2", "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    new = frame.sample(frac=1, random_state=1).iloc[:25].drop(columns="rooms")
    new["note"] = "extra column"
    new.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(ValueError, match=r"lack the column 'rooms', which the model needs"):
        recipes.load(tmp_path / "run").predict_csv(tmp_path / "new.csv")
    assert main(["predict", str(tmp_path / "run"), "--csv", str(tmp_path / "new.csv")]) == 2
    assert "lack the column 'rooms'" in capsys.readouterr().err
    new = frame.sample(frac=1, random_state=1).iloc[:25].assign(note="extra column")
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(tmp_path / "run"), "--csv", str(tmp_path / "new.csv"),
                 "--out", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == list(new.columns) + ["prediction"]
    np.testing.assert_array_equal(out.rownames, new.rownames)  # the input's order
    served = recipes.load(tmp_path / "run" / "model")
    again = served.predict(new.drop(columns="price"))
    np.testing.assert_allclose(out.prediction, again.prediction, rtol=1e-5)
    assert re.search(r"\n +area_m2 +<- 'area m²' \(float32\)\n", served.describe())


@pytest.mark.slow
def test_predict_images_writes_one_row_per_file(tmp_path, mnist_arrays):
    x, y = mnist_arrays
    root = tmp_path / "digits"
    for i, (image, label) in enumerate(zip(x[:120], y[:120])):
        (root / f"d{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(root / f"d{label}" / f"{i:03d}.png")
    result = cnn.train(epochs=1, hp={"filters": 16}, images=root, run_dir=tmp_path / "run",
                       verbose=0, diagnose=False)
    export = result.export(tmp_path / "saved")
    new = tmp_path / "new"
    new.mkdir()
    for i in range(5):  # one of another size: resized to the model's
        picture = Image.fromarray(x[200 + i, ..., 0])
        (picture.resize((40, 40)) if i == 0 else picture).save(new / f"{i}.png")
    (new / "notes.txt").write_text("not an image")
    out = recipes.load(export).predict_images(new, tmp_path / "out.csv")
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns) == ["path", "class_name", "probability"]
    assert [p.rsplit("/", 1)[-1] for p in written.path] == [f"{i}.png" for i in range(5)]
    expected = result.model.predict(x[201:205].astype("float32"), verbose=0)
    np.testing.assert_allclose(written.probability[1:], expected.max(1), rtol=1e-4)
    assert list(written.class_name[1:]) == [f"d{i}" for i in expected.argmax(1)]
    assert set(out.columns) >= {f"probability_d{i}" for i in range(10)}
    # A folder of class subfolders is scored against them; one without is not.
    served = recipes.load(export)
    assert served.score(out, folder=new) is None
    scored = served.predict_images(root, tmp_path / "train.csv")
    predicted = result.model.predict(x[:120].astype("float32"), verbose=0).argmax(1)
    assert served.score(scored, folder=root) == {
        "target": None, "rows": 120, "accuracy": pytest.approx((predicted == y[:120]).mean())}


@pytest.mark.slow
def test_tabular_classifier_serves_class_names(tmp_path):
    frame = houses()
    frame["band"] = np.where(frame.price > frame.price.median(), "high", "low")
    result = tabular.train(
        epochs=20, frame=frame.drop(columns="price"), target="band",
        run_dir=tmp_path / "run", verbose=0, diagnose=False,
    )
    assert set(result.test_metrics) == {"loss", "accuracy"}
    raw = {"town": np.array(["Alton", "Brent"], object), "rooms": np.array([5.0, 1.0], "float32"),
           "area": np.array([190.0, 35.0], "float32"), "age": np.array([0.0, 70.0], "float32")}
    out = serve_in_fresh_process(result.export(tmp_path / "saved"), raw, tmp_path)
    assert out["probabilities"].shape == (2, 2)
    assert [n.decode() for n in out["class_name"]] == [["high", "low"][i] for i in out["class_id"]]


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("a,b\n1,x\n2,y\n3,x\n", "b2", r"Column 'b2' is not in .*Available columns: \['a', 'b'\]"),
        ("a,y\n1,5\n2,5\n3,5\n4,5\n5,5\n6,5\n7,5\n", "y", "one value only"),
        ("a,b,y\n1,u,1.5\ninf,v,2.5\n3,u,3.5\n4,v,4.5\n5,u,5.5\n6,u,6.5\n7,v,7.5\n8,u,8.5\n9,v,9.5\n10,u,10.5\n11,v,11.5\n", "y",
         r"line 3, column 'a': infinite value"),
        ("a,b,y\n" + "".join(f"{i},u,{i}.5\n" for i in range(1, 20)) + "1O,v,3.5\n", "y",
         r"line 21, column 'a': non-numeric value '1O'"),
    ],
)
def test_bad_tables_name_the_line(tmp_path, text, target, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        tabular.train(csv=tmp_path / "t.csv", target=target, run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


# -- a search on the user's data ships as a trained model does ------------------------


def signature(path):
    """The `serve` signature of a SavedModel: `({input: (dtype, shape)}, {output: ...})`."""
    sig = tf.saved_model.load(str(path)).signatures["serve"]

    def spec(tensors):
        return {k: (v.dtype.name, tuple(v.shape)) for k, v in tensors.items()}

    return spec(sig.structured_input_signature[1]), spec(sig.structured_outputs)


@pytest.mark.slow
def test_a_tuned_table_model_serves_raw_rows_as_a_trained_one(tmp_path):
    messy().to_csv(tmp_path / "houses.csv", index=False)
    table = dict(csv=tmp_path / "houses.csv", target="price")
    trained = tabular.train(epochs=3, run_dir=tmp_path / "run", verbose=0, diagnose=False,
                            **table)
    searched = tabular.search(tuner="random", max_trials=2, epochs=3, verbose=0,
                              directory=tmp_path / "tuning", export=tmp_path / "tuned",
                              **table)
    assert signature(trained.export(tmp_path / "trained")) == signature(tmp_path / "tuned")
    about = json.loads((tmp_path / "tuned" / "recipes.json").read_text())
    assert about == json.loads((tmp_path / "trained" / "recipes.json").read_text())
    best = json.loads((tmp_path / "tuned" / "best_hyperparameters.json").read_text())
    assert best == searched.best_hyperparameters
    raw = {"town": np.array(["Alton", "", "Nowhere"], object),
           "rooms": np.array([1.0, np.nan, 3.0], "float32"),
           "area_m2": np.array([50.0, 120.0, np.nan], "float32"),
           "Age_years": np.array([10.0, np.nan, 0.0], "float32")}
    expected = searched.best_model({k: tf.constant(v.astype(str) if v.dtype == object else v)
                                    for k, v in raw.items()}, training=False).numpy()[:, 0]
    out = serve_in_fresh_process(tmp_path / "tuned", raw, tmp_path)
    np.testing.assert_allclose(out["prediction"], expected, rtol=1e-4, atol=1e-3)
    # The best hyperparameters train again as they are.
    again = tabular.train(epochs=1, hp=best, run_dir=tmp_path / "again", verbose=0,
                          diagnose=False, **table)
    assert again.settings["batch_size"] == best["batch_size"]
    assert {k: again.hyperparameters[k] for k in best if k != "batch_size"} == {
        k: v for k, v in best.items() if k != "batch_size"}


@pytest.mark.slow
def test_a_tuned_image_model_takes_uint8_pixels_and_names_its_outputs(tmp_path, mnist_arrays):
    x, y = mnist_arrays
    images = dict(x=x[..., 0], y=y, hp={"filters": 16})
    trained = cnn.train(epochs=1, run_dir=tmp_path / "run", verbose=0, diagnose=False,
                        **images)
    searched = cnn.search(tuner="random", max_trials=2, epochs=1, verbose=0,
                          directory=tmp_path / "tuning", **images)
    path = searched.export(tmp_path / "tuned")
    inputs, outputs = signature(path)
    assert (inputs, outputs) == signature(trained.export(tmp_path / "trained"))
    assert inputs == {"image": ("uint8", (None, 28, 28, 1))}
    assert set(outputs) == {"probabilities", "class_id", "class_name"}
    out = serve_in_fresh_process(path, {"image": x[:6]}, tmp_path)
    expected = searched.best_model.predict(x[:6].astype("float32"), verbose=0)
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_tune_a_csv_from_the_command_line_under_a_budget_and_predict(tmp_path):
    messy().to_csv(tmp_path / "houses.csv", index=False)
    out = subprocess.run(
        [sys.executable, "-m", "recipes", "tune", "tabular", "--csv", str(tmp_path / "houses.csv"),
         "--target", "price", "--tuner", "random", "--max-trials", "2", "--epochs", "2",
         "--budget", "10m", "--directory", str(tmp_path / "tuning"),
         "--export", str(tmp_path / "tuned")],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"^0( \*)? +COMPLETED .* defaults ", out.stdout, re.M), out.stdout
    assert re.search(r"Budget: \d+ s of 600 s used", out.stdout)
    assert "Stopped: max_trials=2 trials have run." in out.stdout
    board = pd.read_csv(tmp_path / "tuning" / "tabular" / "trials.csv")
    assert len(board) == 2 and board.note[0] == "defaults"
    scored = recipes.load(tmp_path / "tuned").predict_csv(tmp_path / "houses.csv")
    assert scored.prediction.notna().all() and len(scored) == 300


@pytest.mark.slow
def test_tune_an_image_folder_from_the_command_line(tmp_path, mnist_folder):
    out = subprocess.run(
        [sys.executable, "-m", "recipes", "tune", "cnn", "--images", str(mnist_folder),
         "--tuner", "random", "--max-trials", "2", "--epochs", "1", "--hp", "filters=16",
         "--budget", "10m", "--directory", str(tmp_path / "tuning"),
         "--export", str(tmp_path / "tuned")],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    about = json.loads((tmp_path / "tuned" / "recipes.json").read_text())
    assert about["class_names"] == [f"digit{i}" for i in range(10)]
    assert (tmp_path / "tuning" / "cnn" / "report.html").is_file()
    scored = recipes.load(tmp_path / "tuned").predict_images(mnist_folder / "digit3")
    assert len(scored) == len(list((mnist_folder / "digit3").iterdir()))


def test_where_training_flips_the_cnn_also_predicts_from_mirror_images():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (40, 12, 12, 3)).astype("uint8"), np.arange(40) % 2
    photos = cnn.recipe.load_data(x=x, y=y)
    mirrored = cnn.recipe.build_model(data=photos)
    plain = cnn.recipe.build_model({"tta": False}, data=photos)
    assert [type(la).__name__ for la in mirrored.layers].count("MirrorBatch") == 1
    assert not any("Mirror" in type(la).__name__ for la in plain.layers)
    plain.set_weights(mirrored.get_weights())
    images = x[:5].astype("float32")
    want = (plain.predict(images, verbose=0) + plain.predict(images[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(mirrored.predict(images, verbose=0), want, rtol=1e-4, atol=1e-6)
    # Digits are never flipped in training, nor is anything under augment="none".
    for data in (cnn.recipe.load_data(x=x[..., 0], y=y),
                 cnn.recipe.load_data(x=x, y=y, augment="none")):
        model = cnn.recipe.build_model(data=data)
        assert not any("Mirror" in type(la).__name__ for la in model.layers)

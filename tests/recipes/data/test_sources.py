"""recipes.data: real MNIST through TFDS's manual-download directory, CIFAR-10 through
`tfds.testing.mock_data`, CSV tables, time-series windows, and the promised errors."""

import functools
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from recipes import data
from recipes.data import sources

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def examples(ds):
    """(images bytes, label) tuples, to compare splits exactly."""
    return [(x.tobytes(), int(y)) for x, y in ds.as_numpy_iterator()]


@pytest.fixture(scope="module")
def mnist():
    return data.load("mnist", limit=600, validation_split=0.1, seed=42)


# -- TFDS image classification --------------------------------------------------------


def test_recipes_data_dir_holds_mnist():
    # Fails (never skips) where the shared MNIST files are missing.
    root = os.environ.get("RECIPES_DATA_DIR")
    assert root, "set RECIPES_DATA_DIR to the folder holding mnist/ (see README)"
    for name in MNIST_FILES:
        assert (Path(root) / "mnist" / name).is_file(), f"missing {root}/mnist/{name}"


def test_load_mnist(mnist):
    assert mnist.name == "mnist"
    assert mnist.input_shape == (28, 28, 1)
    assert mnist.num_classes == 10
    assert mnist.class_names == tuple("0123456789")
    assert (mnist.train_size, mnist.validation_size, mnist.test_size) == (540, 60, 10_000)
    for ds, size in [(mnist.train, 540), (mnist.validation, 60), (mnist.test, 10_000)]:
        image, label = ds.element_spec
        assert image.shape == (28, 28, 1) and image.dtype == tf.uint8
        assert label.shape == () and label.dtype == tf.int64
        assert int(ds.cardinality()) == size
    x, y = mnist.arrays("validation")
    assert x.shape == (60, 28, 28, 1) and x.max() > 200 and set(y) <= set(range(10))


@pytest.mark.slow
def test_validation_is_a_seeded_disjoint_subset_of_the_first_examples(mnist):
    first = examples(data.load("mnist", validation_split=0).train.take(600))
    train, val = examples(mnist.train), examples(mnist.validation)
    assert sorted(train + val) == sorted(first)
    assert not set(train) & set(val)
    # Not simply the last 10%: a seeded random subset, the same for the same seed.
    assert val != first[-60:]
    assert examples(data.load("mnist", limit=600, seed=42).validation) == val
    assert examples(data.load("mnist", limit=600, seed=7).validation) != val


@pytest.mark.parametrize("in_memory, reads", [(True, (600, 0)), (False, (0, 1200))])
def test_a_small_source_is_read_once_at_load_not_by_each_split(monkeypatch, in_memory, reads):
    read = []
    as_dataset = tfds.core.DatasetBuilder.as_dataset

    def counted(self, *args, **kwargs):  # counts the labels TFDS parses
        def tap(image, label):
            counted_label = tf.numpy_function(
                lambda v: read.append(v.size) or v, [label], label.dtype, stateful=True
            )
            return image, tf.ensure_shape(counted_label, label.shape)

        return as_dataset(self, *args, **kwargs).map(tap)

    monkeypatch.setattr(tfds.core.DatasetBuilder, "as_dataset", counted)
    if not in_memory:
        monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 0)
    splits = data.load("mnist", limit=600, validation_split=0.1, seed=42)
    at_load = sum(read)
    pipelines = [data.make_pipeline(splits.train, 64, seed=0),
                 data.make_pipeline(splits.validation, 64, shuffle=False)]
    for _ in range(2):  # epochs: the second reads the pipelines' own caches
        assert [sum(len(y) for _, y in p) for p in pipelines] == [540, 60]
    assert (at_load, sum(read) - at_load) == reads
    monkeypatch.undo()
    assert examples(splits.validation) == examples(data.load("mnist", limit=600).validation)


def test_mnist_is_prepared_from_the_manual_dir_once(tmp_path, monkeypatch, capsys, caplog):
    # Prepare 100 examples per split only (TFDS's own option), to keep the test fast;
    # TFDS still reads and checksums the original files from RECIPES_DATA_DIR/mnist.
    monkeypatch.setattr(
        tfds.download,
        "DownloadConfig",
        functools.partial(tfds.download.DownloadConfig, max_examples_per_split=100),
    )
    cache = tmp_path / "cache"
    splits = data.load("mnist", cache_dir=cache, download=False)
    assert (splits.train_size, splits.validation_size, splits.test_size) == (90, 10, 100)
    # One line says what happened; TFDS's "Downloading ... Unknown size" and "downloaded"
    # (nothing was) and its warning about the folder it is filling are not shown.
    manual_dir = Path(os.environ["RECIPES_DATA_DIR"]) / "mnist"
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"data: preparing mnist from {manual_dir} into {cache / 'mnist' / '3.0.1'} "
        "(once: later runs read it from there)"
    ]
    assert "Downloading" not in out.err and "downloaded" not in out.err
    assert not [r.getMessage() for r in caplog.records if "Variant folder" in r.getMessage()]
    assert (cache / "mnist" / "3.0.1" / "dataset_info.json").is_file()
    assert not (cache / "downloads").exists()  # Extraction went to a scratch folder.

    def fail(*args, **kwargs):
        raise AssertionError("prepared again")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    monkeypatch.delenv("RECIPES_DATA_DIR")
    assert data.load("mnist", cache_dir=cache, download=False).train_size == 90


def test_cifar10_through_mock_data(monkeypatch):
    monkeypatch.setattr(sources, "_unresolvable", lambda hosts: None)  # Download is mocked.
    with tfds.testing.mock_data(num_examples=20):
        splits = data.load("cifar10", validation_split=0.25)
        assert splits.input_shape == (32, 32, 3)
        assert splits.num_classes == 10 and len(splits.class_names) == 10
        assert (splits.train_size, splits.validation_size, splits.test_size) == (15, 5, 20)
        x, y = splits.arrays("train")
    assert x.shape == (15, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64


def test_unavailable_data_names_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("RECIPES_DATA_DIR", raising=False)
    (tmp_path / "mnist").mkdir()
    with pytest.raises(data.DataUnavailableError) as info:
        data.load("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache", download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "cache" / "mnist") in message
    assert f"{tmp_path / 'mnist'} lacks" in message
    assert "RECIPES_DATA_DIR: not set" in message
    assert "download=False" in message
    assert "set RECIPES_DATA_DIR=DIR" in message
    assert all(name in message for name in MNIST_FILES)


def test_offline_download_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("RECIPES_DATA_DIR", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(proxy, raising=False)

    def no_network(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(sources.socket, "getaddrinfo", no_network)
    with pytest.raises(data.DataUnavailableError, match="cannot resolve storage.googleapis"):
        data.load("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="no_such_dataset"), "name='no_such_dataset'"),
        (dict(name="imdb_reviews"), "not an image-classification dataset"),
        (dict(name="mnist", validation_split=1.0), "Received: validation_split=1.0"),
        (dict(name="mnist", limit=0), "Received: limit=0"),
        (dict(name="mnist", limit=1), "leaves none to train on"),
    ],
)
def test_load_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


# -- check_dataset --------------------------------------------------------------------


def pairs(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels))


def test_check_dataset_accepts_mnist(mnist):
    data.check_dataset(mnist.train, 10, (28, 28, 1), dtype="uint8")
    data.check_dataset(mnist.train.batch(64), 10, (28, 28, 1), max_examples=None)


@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((6, 28, 28, 1), "uint8"), [0, 1, 2, 10, 3, 4], r"Label 10 \(example 3\)"),
        (np.zeros((6, 28, 28, 1), "uint8"), [0, -1, 2, 1, 3, 4], r"Label -1 \(example 1\)"),
        (np.zeros((6, 28, 28), "uint8"), [0] * 6, r"expected \(28, 28, 1\), got \(28, 28\)"),
        (np.zeros((6, 32, 32, 3), "uint8"), [0] * 6, r"expected \(28, 28, 1\), got \(32, 32, 3\)"),
        (np.zeros((0, 28, 28, 1), "uint8"), np.zeros(0, "int64"), "dataset is empty"),
        (np.zeros((6, 28, 28, 1), "uint8"), np.zeros(6, "float32"), "integer class ids"),
        (np.full((6, 28, 28, 1), "x"), [0] * 6, "expected numbers .* got string"),
    ],
)
def test_check_dataset_errors(images, labels, message, batch):
    ds = pairs(images, labels)
    with pytest.raises(ValueError, match=message):
        data.check_dataset(ds if batch is None else ds.batch(batch), 10, (28, 28, 1))


def test_check_dataset_names_expected_dtype():
    ds = pairs(np.zeros((2, 28, 28, 1), "float32"), [0, 1])
    with pytest.raises(ValueError, match="expected uint8, got float32"):
        data.check_dataset(ds, 10, (28, 28, 1), dtype="uint8")


# -- CSV --------------------------------------------------------------------------------


def write(tmp_path, text):
    path = tmp_path / "table.csv"
    path.write_text(text)
    return path


def test_from_csv(tmp_path):
    path = write(tmp_path, "a,b,price\n1,2,3.5\n4, 5e1 ,6\n")
    x, y, names = data.from_csv(path, "price")
    np.testing.assert_array_equal(x, [[1, 2], [4, 50]])
    np.testing.assert_array_equal(y, [3.5, 6])
    assert x.dtype == y.dtype == np.float32 and names == ["a", "b"]
    x, _, names = data.from_csv(path, "a", features=["price"])
    assert names == ["price"] and x.tolist() == [[3.5], [6.0]]


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("", "y", "is empty"),
        ("a,y\n", "y", "no data rows"),
        ("a,y\n1,2\n", "price", r"Column 'price' is not in .*Available columns: \['a', 'y'\]"),
        ("a,y\n1,2\n3,abc\n", "y", r"line 3, column 'y': non-numeric value 'abc'"),
        ("a,y\n1,2\n,4\n", "y", r"line 3, column 'a': missing \(NaN\)"),
        ("a,y\n1,2\nnan,4\n", "y", r"line 3, column 'a': NaN"),
        ("a,y\n1,2\n3,4\ninf,4\n", "y", r"line 4, column 'a': infinite value"),
        ("a,y\n1,2\n3\n", "y", r"line 3, column 'y': missing \(NaN\)"),  # a short row
        ("a,y\n1,2\n3,4,5\n", "y", r"not a well-formed CSV table"),
    ],
)
def test_from_csv_errors(tmp_path, text, target, message):
    with pytest.raises(ValueError, match=message):
        data.from_csv(write(tmp_path, text), target)


def test_from_csv_reports_every_bad_row(tmp_path):
    path = write(tmp_path, "a,y\n1,x\n2,2\n-inf,3\n4,\n")
    with pytest.raises(ValueError, match=r"\(3\): line 2.*line 4.*line 5"):
        data.from_csv(path, "y")


# -- time series ------------------------------------------------------------------------


def test_lag_features_are_lagged_and_time_ordered():
    series = np.arange(100, dtype="float32") ** 2
    lags = (1, 7, 28, 56)
    x, y = data.lag_features(series, lags)
    assert x.shape == (44, 4) and y.shape == (44,)  # every t with all its lags inside
    for i, t in enumerate(range(56, 100)):
        assert y[i] == series[t]
        assert x[i].tolist() == [series[t - l] for l in lags]
    assert x.dtype == y.dtype == np.float32


def test_lag_features_errors():
    with pytest.raises(ValueError, match=r"at least max\(lags\) \+ 2 = 58 values .* got 57"):
        data.lag_features(np.zeros(57))
    data.lag_features(np.zeros(58))  # One example to train on, one to validate.
    with pytest.raises(ValueError, match="lags must be positive integers"):
        data.lag_features(np.zeros(100), lags=(0, 1))
    with pytest.raises(ValueError, match="1 non-finite"):
        data.lag_features(np.array([1.0, np.nan] + [0.0] * 100))


def test_time_splits():
    x, y = np.arange(20.0)[:, None], np.arange(20.0)
    splits = data.time_splits(x, y, validation_split=0.2, test_split=0.1)
    assert (splits.train_size, splits.validation_size, splits.test_size) == (14, 4, 2)
    assert splits.arrays("validation")[1].tolist() == [14, 15, 16, 17]
    assert splits.arrays("test")[1].tolist() == [18, 19]
    assert splits.input_shape == (1,) and splits.num_classes is None


def test_demo_series_is_mauna_loa_co2():
    values, dates = data.demo_series(return_dates=True)
    assert values.shape == (2284,) and values.dtype == np.float32
    assert np.all(np.isfinite(values)) and values[0] == pytest.approx(316.1)
    assert 360 < values[-1] < 380  # ppm, December 2001.
    assert str(dates[0])[:10] == "1958-03-29" and np.all(np.diff(dates) > np.timedelta64(0))

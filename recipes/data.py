"""Data for the recipes: image classification through tensorflow-datasets, CSV tables,
time series, and checks that catch bad data before training starts.

Images. `load(name)` reads any tensorflow-datasets (TFDS) image-classification dataset
(`mnist`, `fashion_mnist`, `cifar10`, ...). The original files are looked for in order:
`data_dir`, then `$RECIPES_DATA_DIR`; a folder `<dir>/<name>/` holding them (e.g.
`<dir>/mnist/train-images-idx3-ubyte.gz`) is handed to TFDS as its manual-download
directory, so TFDS checks their checksums and parses them with its own code. Without
such a folder, TFDS downloads as usual. TFDS writes the prepared dataset to `cache_dir`,
`$RECIPES_CACHE_DIR` or its own data directory (`$TFDS_DATA_DIR`, else
`~/tensorflow_datasets`); later calls read it from there and touch nothing else.

Demo series. `demo_series()` is the weekly concentration of atmospheric CO2 measured at
Mauna Loa Observatory, Hawaii, from March 1958 to December 2001 (2,284 weeks, in parts
per million; Keeling and Whorf, public domain), as shipped with statsmodels
(`statsmodels.datasets.co2`). It is real measurement data that installs with a
well-kept PyPI package, so the regression recipe runs without a network, and it has
what next-step forecasting from lagged values should learn: a steady rising trend plus
a yearly cycle, which the default lags (1, 7, 28 and 56 weeks) reach across. The 59
missing weeks are filled by linear interpolation in time.

Written here by hand, because no well-kept library does them with these errors: the
seeded validation split, the CSV value checks and the lag windows.
"""

import csv
import dataclasses
import math
import os
import socket
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

LAGS = (1, 7, 28, 56)


class DataUnavailableError(FileNotFoundError):
    """Raised when a dataset is neither prepared, nor in a data directory, nor
    downloadable. The message names every place tried and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Splits:
    """Train, validation and test datasets of `(inputs, target)` pairs.

    Attributes:
        name: the dataset's name.
        train: the `tf.data.Dataset` to fit on.
        validation: the `tf.data.Dataset` to choose models and stop early on, or
            `None` when `validation_split=0`.
        test: the `tf.data.Dataset` for the final evaluation only, or `None` when the
            dataset has no test split.
        input_shape: shape of one input, e.g. `(28, 28, 1)`.
        num_classes: number of classes, or `None` for regression.
        class_names: the class names, if known.
        train_size, validation_size, test_size: number of examples in each split.
    """

    name: str
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset | None
    input_shape: tuple
    num_classes: int | None = None
    class_names: tuple = ()
    train_size: int = 0
    validation_size: int = 0
    test_size: int = 0

    def arrays(self, split="train"):
        """Returns one split as numpy `(inputs, targets)`; for data that fits in memory."""
        ds = getattr(self, split)
        size = getattr(self, f"{split}_size")
        x, y = ds.batch(max(size, 1)).get_single_element()
        return x.numpy(), y.numpy()


def load(
    name,
    data_dir=None,
    validation_split=0.1,
    seed=42,
    limit=None,
    cache_dir=None,
    download=True,
):
    """Loads a TFDS image-classification dataset as train, validation and test splits.

    Images come as `uint8` of shape `input_shape` and labels as `int64`; rescaling
    belongs in the model. The validation split is a seeded random subset of the
    (limited) training split: `round(validation_split * n)` examples chosen by a
    permutation from `numpy.random.default_rng(seed)` over TFDS's fixed file order, so
    the same seed gives the same split on every machine. The test split is left whole,
    for the final evaluation only.

    Args:
        name: a TFDS name, e.g. `"mnist"`, `"fashion_mnist"`, `"cifar10"`.
        data_dir: a folder holding the original downloaded files in `<data_dir>/<name>/`.
            Defaults to `None`: `$RECIPES_DATA_DIR`, then TFDS's download.
        validation_split: fraction of the training examples held out for validation,
            in `[0, 1)`. Defaults to `0.1`.
        seed: seed of the validation split. Defaults to `42`.
        limit: keep only the first `limit` training examples (before the validation
            split), for quick runs. Defaults to `None` (all).
        cache_dir: where TFDS writes and later reads the prepared dataset. Defaults to
            `None`: `$RECIPES_CACHE_DIR`, else TFDS's own data directory.
        download: whether TFDS may download the files when no data directory has them.
            Defaults to `True`.

    Returns:
        A `Splits`.

    Raises:
        DataUnavailableError: the data is in none of the places tried.

    Example:

    >>> splits = recipes.data.load("mnist", limit=1000)
    >>> splits.input_shape, splits.num_classes, splits.train_size
    ((28, 28, 1), 10, 900)
    """
    if not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be in [0, 1). Received: validation_split={validation_split}"
        )
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None. Received: limit={limit}")
    cache_dir = cache_dir or os.environ.get("RECIPES_CACHE_DIR") or None
    try:
        builder = tfds.builder(name, data_dir=cache_dir)
    except tfds.core.DatasetNotFoundError as e:
        raise ValueError(
            f"Unknown dataset: {name!r} is not a tensorflow-datasets name (see "
            f"`tfds.list_builders()`). Received: name={name!r}"
        ) from e
    image_key, label_key = _image_label_keys(builder)
    if not builder.is_prepared():
        _prepare(builder, data_dir, download)

    # No TFDS auto-cache: `make_pipeline` caches after `limit` and the split, and a
    # cache read only partly (by `take`) is discarded with a warning.
    read = dict(
        as_supervised=True,
        shuffle_files=False,
        read_config=tfds.ReadConfig(try_autocache=False),
    )
    train = builder.as_dataset(split="train", **read)
    size = _cardinality(train)
    if limit is not None and limit < size:
        train, size = train.take(limit), limit
    train, validation, val_size = _seeded_split(train, size, validation_split, seed)
    try:
        test = builder.as_dataset(split="test", **read)
    except ValueError:  # No test split (e.g. cats_vs_dogs).
        test = None
    label = builder.info.features[label_key]
    return Splits(
        name=name,
        train=train,
        validation=validation,
        test=test,
        input_shape=tuple(builder.info.features[image_key].shape),
        num_classes=label.num_classes,
        class_names=tuple(label.names),
        train_size=size - val_size,
        validation_size=val_size,
        test_size=0 if test is None else _cardinality(test),
    )


def _image_label_keys(builder):
    """The (image, label) feature names, or a ValueError if not image classification."""
    keys = builder.info.supervised_keys
    features = builder.info.features
    if (
        not keys
        or len(keys) != 2
        or not all(isinstance(k, str) for k in keys)
        or not isinstance(features[keys[0]], tfds.features.Image)
        or not isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"{builder.name!r} is not an image-classification dataset: load() needs "
            f"(image, class label) pairs. Received: supervised_keys={keys}"
        )
    return keys


def _prepare(builder, data_dir, download):
    """Prepares `builder` from a data directory or by download; else one clear error."""
    expected = sorted(
        {info.filename for info in (builder.url_infos or {}).values() if info.filename}
    )
    tried = [f"prepared data in {builder.data_dir}: not there"]
    roots = [("data_dir", data_dir), ("RECIPES_DATA_DIR", os.environ.get("RECIPES_DATA_DIR"))]
    error = None
    for label, root in roots:
        if not root:
            tried.append(f"{label}: not set")
            continue
        manual_dir = Path(root).expanduser() / builder.name
        missing = [f for f in expected if not (manual_dir / f).is_file()]
        if not manual_dir.is_dir():
            tried.append(f"{label}: {manual_dir} does not exist")
        elif missing or not any(manual_dir.iterdir()):
            tried.append(f"{label}: {manual_dir} lacks {', '.join(missing) or 'files'}")
        else:
            config = tfds.download.DownloadConfig(
                manual_dir=str(manual_dir), try_download_gcs=False
            )
            try:
                # TFDS extracts archives into download_dir: scratch, deleted afterwards.
                with tempfile.TemporaryDirectory() as scratch:
                    builder.download_and_prepare(download_dir=scratch, download_config=config)
                return
            except Exception as e:  # e.g. a checksum mismatch: report it with the rest.
                error = e
                tried.append(f"{label}: {manual_dir}: {type(e).__name__}: {e}")

    hosts = sorted({urllib.parse.urlparse(url).hostname for url in builder.url_infos or {}})
    unreachable = _unresolvable(hosts)
    if not download:
        tried.append("download by tensorflow-datasets: disabled (download=False)")
    elif unreachable:
        tried.append(f"download by tensorflow-datasets: cannot resolve {unreachable} (offline?)")
    else:
        try:
            builder.download_and_prepare()
            return
        except Exception as e:
            error = e
            tried.append(f"download by tensorflow-datasets: {type(e).__name__}: {e}")

    files = ", ".join(expected) if expected else "the files TFDS's instructions name"
    raise DataUnavailableError(
        f"Could not load dataset {builder.name!r}. Tried, in order:\n"
        + "".join(f"  {i}. {place}\n" for i, place in enumerate(tried, 1))
        + "To fix it, either:\n"
        f"  - put the original files ({files}) in DIR/{builder.name}/ and set "
        "RECIPES_DATA_DIR=DIR (or pass data_dir=DIR), or\n"
        f"  - allow the download (download=True) where {', '.join(hosts) or 'the host'} "
        "can be reached."
    ) from error


def _unresolvable(hosts):
    """The first host name that does not resolve, so offline runs fail in a second
    instead of retrying downloads for minutes. Skipped behind an HTTP(S) proxy."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")):
        return None
    for host in hosts:
        try:
            socket.getaddrinfo(host, 443)
        except OSError:
            return host
    return None


def _cardinality(ds):
    size = int(ds.cardinality())
    if size < 0:
        size = int(ds.reduce(0, lambda n, _: n + 1))
    return size


def _seeded_split(ds, size, fraction, seed):
    """Splits off a seeded random `fraction` of `ds`: (rest, held_out, held_out_size).

    Membership is a fixed boolean mask over example positions, so both parts are
    disjoint, identical every epoch, and streamed lazily from the same source.
    """
    if fraction == 0:
        return ds, None, 0
    held = max(1, round(size * fraction))
    if held >= size:
        raise ValueError(
            f"validation_split={fraction} of {size} examples leaves none to train on; "
            "use more examples (limit) or a smaller validation_split."
        )
    mask = np.zeros(size, bool)
    mask[np.random.default_rng(seed).permutation(size)[:held]] = True
    mask = tf.constant(mask)

    def part(keep, n):
        return (
            ds.enumerate()
            .filter(lambda i, example: tf.equal(tf.gather(mask, i), keep))
            .map(lambda i, example: example)
            .apply(tf.data.experimental.assert_cardinality(n))
        )

    return part(False, size - held), part(True, held), held


def check_dataset(ds, num_classes, input_shape, dtype=None, max_examples=10_000):
    """Checks `(image, label)` pairs before training; raises a `ValueError` naming the
    problem.

    Shapes and dtypes are checked from `ds.element_spec` (free); scalar labels mean an
    unbatched dataset, labels of shape `(batch,)` a batched one. Labels are read from
    the first `max_examples` examples only, to stay cheap: reading them reads the images
    too (about a second per 10,000 MNIST images from TFDS, far less once cached).

    Args:
        ds: a `tf.data.Dataset` of `(image, label)` pairs.
        num_classes: labels must lie in `[0, num_classes)`.
        input_shape: expected shape of one image, e.g. `(28, 28, 1)`; `None` dims match
            any size.
        dtype: expected image dtype, e.g. `"uint8"`. Defaults to `None`: any integer or
            floating-point dtype.
        max_examples: how many examples' labels to check, or `None` for all.
            Defaults to `10_000`.

    Example:

    >>> splits = recipes.data.load("mnist", limit=1000)
    >>> recipes.data.check_dataset(splits.train, 10, (28, 28, 1))
    """
    spec = ds.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            f"Expected a dataset of (image, label) pairs. Received: element_spec={spec}"
        )
    image, label = spec
    if not label.dtype.is_integer or label.shape.rank not in (0, 1):
        raise ValueError(
            "Labels must be integer class ids, one per image: expected shape () or "
            f"(batch,) of an integer dtype, got shape {tuple(label.shape)} of "
            f"{label.dtype.name}."
        )
    batched = label.shape.rank == 1
    input_shape = tuple(input_shape)
    got = tuple(image.shape[1:] if batched else image.shape)
    if len(got) != len(input_shape) or any(
        a is not None and b is not None and a != b for a, b in zip(got, input_shape)
    ):
        raise ValueError(f"Images have the wrong shape: expected {input_shape}, got {got}.")
    if dtype is not None and image.dtype != tf.as_dtype(dtype):
        raise ValueError(
            f"Images have the wrong dtype: expected {tf.as_dtype(dtype).name}, "
            f"got {image.dtype.name}."
        )
    if not (image.dtype.is_integer or image.dtype.is_floating):
        raise ValueError(
            f"Images have the wrong dtype: expected numbers (e.g. uint8 or float32), "
            f"got {image.dtype.name}. Decode images before training."
        )

    labels = ds.map(lambda x, y: y)
    labels = labels.unbatch() if batched else labels
    if max_examples is not None:
        labels = labels.take(max_examples)
    labels = labels.batch(8192)
    seen = 0
    for chunk in labels.as_numpy_iterator():
        bad = np.flatnonzero((chunk < 0) | (chunk >= num_classes))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"Label {chunk[i]} (example {seen + i}) is out of range: labels must be "
                f"in [0, {num_classes}) for num_classes={num_classes}."
            )
        seen += len(chunk)
    if seen == 0:
        raise ValueError("The dataset is empty: expected (image, label) pairs, got none.")


def from_csv(path, target, features=None):
    """Reads a numeric CSV table with a header row into arrays.

    Every value of the chosen columns must be a finite number. Problems are reported
    together, by file line number (the header is line 1).

    Args:
        path: path of the CSV file.
        target: name of the column to predict.
        features: names of the input columns. Defaults to `None`: every column but
            `target`, in file order.

    Returns:
        A tuple `(x, y, feature_names)`: `x` float32 of shape `(rows, features)`, `y`
        float32 of shape `(rows,)` (cast it for class ids), `feature_names` a list.

    Example:

    >>> x, y, names = recipes.data.from_csv("houses.csv", target="price")
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = [(reader.line_num, row) for row in reader if row]
    if not header:
        raise ValueError(f"{path} is empty: expected a header row of column names.")
    header = [h.strip() for h in header]
    if not rows:
        raise ValueError(f"{path} has a header but no data rows.")
    if features is None:
        features = [h for h in header if h != target]
    features = list(features)
    for column in [target, *features]:
        if column not in header:
            raise ValueError(
                f"Column {column!r} is not in {path}. Available columns: {header}. "
                f"Received: target={target!r}, features={features}"
            )
    if target in features:
        raise ValueError(
            f"The target {target!r} cannot also be a feature. Received: features={features}"
        )

    columns = [header.index(c) for c in [*features, target]]
    values = np.empty((len(rows), len(columns)), np.float64)
    problems = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(row)} values, but the header has {len(header)}."
            )
        for c, j in enumerate(columns):
            text = row[j].strip()
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is None:
                kind = "missing (NaN)" if text == "" else f"non-numeric value {text!r}"
            elif math.isnan(value):
                kind = "NaN"
            elif math.isinf(value):
                kind = "infinite value"
            else:
                values[r, c] = value
                continue
            problems.append(f"line {line}, column {header[j]!r}: {kind}")
    if problems:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(
            f"{path} has values that are not finite numbers ({len(problems)}): "
            + "; ".join(problems[:10]) + more + ". Fix or drop these rows."
        )
    return values[:, :-1].astype("float32"), values[:, -1].astype("float32"), features


def lag_features(series, lags=LAGS):
    """Turns a series into next-step examples: `x[t] = [series[t - l] for l in lags]`,
    `y[t] = series[t]`, for every `t` with all its lags inside the series.

    Args:
        series: a 1-D array of finite numbers, oldest first.
        lags: positive steps back to read. Defaults to `(1, 7, 28, 56)`.

    Returns:
        A tuple `(x, y)`: float32 arrays of shapes `(n, len(lags))` and `(n,)`, in time
        order, with `n = len(series) - max(lags)`.

    Example:

    >>> x, y = recipes.data.lag_features(np.arange(10.0), lags=(1, 3))
    >>> x[0], y[0]
    (array([2., 0.], dtype=float32), 3.0)
    """
    series = np.asarray(series, "float32")
    if series.ndim != 1 or not np.all(np.isfinite(series)):
        raise ValueError(
            f"series must be 1-D and finite. Received: shape {series.shape}, "
            f"{int(np.sum(~np.isfinite(series)))} non-finite values"
        )
    lags = tuple(lags)
    if not lags or not all(isinstance(l, (int, np.integer)) and l > 0 for l in lags):
        raise ValueError(f"lags must be positive integers. Received: lags={lags}")
    start = max(lags)
    if len(series) < start + 2:
        raise ValueError(
            f"The series is too short for lags={lags}: it needs at least max(lags) + 2 = "
            f"{start + 2} values (one example to train on, one to validate), got {len(series)}."
        )
    x = np.stack([series[start - l : len(series) - l] for l in lags], axis=1)
    return x, series[start:]


def windows(series, lags=LAGS, validation_fraction=0.2):
    """Next-step forecasting examples from a series, split in time order.

    `x[t] = [series[t - l] for l in lags]`, `y[t] = series[t]`; the last
    `validation_fraction` of the examples (the most recent ones, never shuffled) are
    for validation, so the model is judged on the future of what it trained on.

    Args:
        series: a 1-D array of finite numbers, oldest first; at least `max(lags) + 2`.
        lags: positive steps back to read. Defaults to `(1, 7, 28, 56)`.
        validation_fraction: fraction of the examples for validation, in `[0, 1)`.
            Defaults to `0.2`.

    Returns:
        `(x_train, y_train), (x_val, y_val)`: float32 numpy arrays.

    Example:

    >>> (x, y), (x_val, y_val) = recipes.data.windows(recipes.data.demo_series())
    >>> x.shape, x_val.shape
    ((1782, 4), (446, 4))
    """
    x, y = lag_features(series, lags)
    train, validation = _time_split(len(y), [validation_fraction])
    return (x[train], y[train]), (x[validation], y[validation])


def time_splits(x, y, validation_split=0.15, test_split=0.15, name="series"):
    """Splits time-ordered arrays into train, then validation, then test (no shuffle).

    Args:
        x: inputs, oldest first, e.g. from `lag_features`.
        y: targets, aligned with `x`.
        validation_split: fraction of the examples for validation. Defaults to `0.15`.
        test_split: fraction of the examples for the final test. Defaults to `0.15`.
        name: the `Splits` name. Defaults to `"series"`.

    Returns:
        A `Splits` of `(x, y)` datasets with `num_classes=None`.

    Example:

    >>> x, y = recipes.data.lag_features(recipes.data.demo_series())
    >>> splits = recipes.data.time_splits(x, y)
    >>> x_train, y_train = splits.arrays("train")
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length. Received: {len(x)} and {len(y)}")
    parts = _time_split(len(y), [validation_split, test_split])
    ds = [tf.data.Dataset.from_tensor_slices((x[p], y[p])) for p in parts]
    return Splits(
        name=name,
        train=ds[0],
        validation=ds[1],
        test=ds[2],
        input_shape=x.shape[1:],
        train_size=len(y[parts[0]]),
        validation_size=len(y[parts[1]]),
        test_size=len(y[parts[2]]),
    )


def _time_split(n, fractions):
    """Consecutive slices: the first for training, then one per fraction (at least one
    example each when the fraction is above zero)."""
    for f in fractions:
        if not 0 <= f < 1:
            raise ValueError(f"Split fractions must be in [0, 1). Received: {f}")
    sizes = [max(1, round(n * f)) if f > 0 else 0 for f in fractions]
    start = n - sum(sizes)
    if start < 1:
        raise ValueError(
            f"{n} examples are too few to split by {fractions} and keep one to train on."
        )
    slices = [slice(0, start)]
    for size in sizes:
        slices.append(slice(start, start + size))
        start += size
    return slices


def demo_series(return_dates=False):
    """Weekly atmospheric CO2 at Mauna Loa, 1958-2001, in ppm (see the module docstring).

    Args:
        return_dates: also return the week dates. Defaults to `False`.

    Returns:
        A float32 array of 2,284 values, oldest first; with `return_dates`, a tuple
        `(values, dates)` with `dates` a `numpy.datetime64` array.

    Example:

    >>> co2 = recipes.data.demo_series()
    >>> co2.shape, round(float(co2[0]), 1)
    ((2284,), 316.1)
    """
    from statsmodels.datasets import co2  # Imported here: statsmodels is slow to import.

    frame = co2.load_pandas().data
    values = frame["co2"].interpolate(method="time").to_numpy("float32")
    if return_dates:
        return values, frame.index.to_numpy()
    return values

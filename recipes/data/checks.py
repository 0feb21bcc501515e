"""Checks that catch bad data and bad arguments before any training starts."""

from pathlib import Path

import numpy as np
import tensorflow as tf


def check_positive_int(name, value):
    """Raises `ValueError("<name> must be a positive integer. Received: <name>=<value>")`
    unless `value` is an integer (Python or NumPy, not a bool) of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")


def check_data_dir(data_dir):
    """Raises a `ValueError` unless `data_dir` is `None` or an existing folder, so that
    a mistyped path does not train silently on whatever a cache holds."""
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise ValueError(
            f"The data directory {data_dir} does not exist: point data_dir (CLI: "
            f"--data-dir) at the folder holding the dataset. Received: data_dir={str(data_dir)!r}"
        )


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

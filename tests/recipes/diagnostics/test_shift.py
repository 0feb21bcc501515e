"""`split_shift`: no alarm on a random split, an alarm on each kind of shift."""

import numpy as np
import tensorflow as tf

from recipes.diagnostics import split_shift


def ds(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y))


def blobs(n, rng, offset=0.0, p=0.5, dims=5):
    y = (rng.random(n) < p).astype("int64")
    return rng.normal(offset, 1, (n, dims)).astype("float32") + y[:, None], y


def test_a_random_split_passes():
    rng = np.random.default_rng(0)
    x, y = blobs(1200, rng)
    shift = split_shift(ds(x[:900], y[:900]), ds(x[900:], y[900:]))
    assert not shift.shifted
    assert set(shift.p_values) == {"labels", *(f"feature {i}" for i in range(5))}


def test_moved_inputs_are_found():
    rng = np.random.default_rng(1)
    shift = split_shift(ds(*blobs(900, rng)), ds(*blobs(300, rng, offset=0.5)))
    assert shift.shifted and "feature" in shift.reason


def test_other_class_frequencies_are_found():
    rng = np.random.default_rng(2)
    shift = split_shift(ds(*blobs(900, rng, p=0.5)), ds(*blobs(300, rng, p=0.8)))
    assert shift.shifted and shift.p_values["labels"] < 1e-6


def test_images_are_compared_by_their_brightness():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 200, (600, 10, 10, 1)).astype("uint8")
    y = rng.integers(0, 3, 600)
    same = split_shift(ds(images[:400], y[:400]), ds(images[400:], y[400:]))
    brighter = split_shift(ds(images[:400], y[:400]), ds(images[400:] + 40, y[400:]))
    assert not same.shifted and brighter.shifted
    assert brighter.p_values["pixel mean"] < 1e-6


def test_table_columns_and_regression_targets():
    rng = np.random.default_rng(4)
    a = {"age": rng.normal(40, 10, 500), "city": np.array(["a", "b"] * 250)}
    b = {"age": rng.normal(40, 10, 200), "city": np.array(["a", "b"] * 100)}
    ya, yb = rng.normal(0, 1, 500), rng.normal(2, 1, 200)
    shift = split_shift(ds(a, ya), ds(b, yb), classification=False)
    assert shift.shifted and min(shift.p_values, key=shift.p_values.get) == "labels"
    assert "city" not in shift.p_values  # text columns are not compared


def test_gaps_in_a_column_are_compared_by_their_share():
    rng = np.random.default_rng(5)
    age = rng.normal(40, 10, 800)
    a, b = age[:500].copy(), age[500:].copy()
    a[rng.random(500) < 0.1] = np.nan  # 10% missing in training, 50% in validation
    b[rng.random(300) < 0.5] = np.nan
    y = rng.integers(0, 2, 800)
    shift = split_shift(ds({"age": a}, y[:500]), ds({"age": b}, y[500:]))
    assert shift.shifted and shift.p_values["age missing"] < 1e-6
    assert 0.001 < shift.p_values["age"] <= 1  # the numbers themselves agree
    same = split_shift(ds({"age": a}, y[:500]), ds({"age": a[::-1].copy()}, y[:500]))
    assert not same.shifted

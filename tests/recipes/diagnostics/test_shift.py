"""`split_shift`: no alarm on a random split, an alarm on each kind of shift."""

import numpy as np
import pytest
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


def test_a_folder_read_class_by_class_passes(tmp_path):
    # Each class has its own brightness, and the folder is read class by class: the
    # first examples of the training split are all of the first class.
    from PIL import Image

    from recipes.data import load_images

    rng = np.random.default_rng(6)
    for c, level in enumerate((40, 120, 200)):
        (tmp_path / f"class{c}").mkdir()
        for i in range(60):
            pixels = np.clip(rng.normal(level, 20, (10, 10)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / f"class{c}" / f"{i}.png")
    splits = load_images(images=tmp_path, validation_split=0.25, test_split=0.1)
    first = [int(y) for _, y in splits.train.take(30).as_numpy_iterator()]
    assert set(first) == {0}  # what the first 30 in file order would have compared
    shift = split_shift(splits.train, splits.validation, limit=30)
    assert not shift.shifted, shift.reason
    assert set(shift.p_values) == {"labels", "pixel mean", "pixel std"}


def test_a_table_sorted_by_its_target_passes():
    import pandas as pd

    from recipes.data import load_table

    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, 3000)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(0, 1, 3000),
                          "y": x + rng.normal(0, 0.5, 3000)}).sort_values("y")
    splits = load_table(frame=frame, target="y", task="regression")
    shift = split_shift(splits.train, splits.validation, classification=False, limit=300)
    assert not shift.shifted, shift.reason
    assert set(shift.p_values) == {"labels", "x", "noise"}


def test_a_sample_of_a_larger_split_still_finds_a_shift():
    rng = np.random.default_rng(8)
    train, validation = blobs(5000, rng), blobs(3000, rng, offset=0.3)
    shift = split_shift(ds(*train), ds(*validation), limit=1000)
    assert shift.shifted and "feature" in shift.reason
    again = split_shift(ds(*train), ds(*validation), limit=1000)
    assert again.p_values == shift.p_values  # seeded: the same samples


def test_the_sample_is_drawn_from_the_whole_split():
    # A sorted training split and a shuffled validation split of the same values: the
    # first 500 training examples would be the smallest.
    rng = np.random.default_rng(9)
    x = np.arange(4000, dtype="float32")[:, None]
    y = rng.integers(0, 2, 4000)
    held = rng.permutation(np.arange(1, 4000, 2))
    shift = split_shift(ds(x[::2], y[::2]), ds(x[held], y[held]), limit=500)
    assert not shift.shifted, shift.reason
    with np.testing.assert_raises_regex(ValueError, "Received: limit=1"):
        split_shift(ds(x, y), ds(x, y), limit=1)


def test_a_repeated_split_is_an_error_not_a_hang():
    rng = np.random.default_rng(3)
    x, y = blobs(100, rng)
    with pytest.raises(ValueError, match="finite splits"):
        split_shift(ds(x, y).repeat(), ds(x, y))

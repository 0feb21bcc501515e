"""Train / validation / test splits: a seeded random split and a time-ordered one.

Written here by hand, because no well-kept library splits a streamed `tf.data.Dataset`
by a seeded mask with these guarantees (disjoint parts, the same every epoch and on every
machine, read lazily from one source).
"""

import dataclasses

import numpy as np
import tensorflow as tf


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
        dtype: the inputs' own dtype (e.g. `"uint8"` for image files), if known.
        pixel_max: the largest pixel value images can hold (255, or 1 for floats in
            [0, 1]), the scale a model rescales by; `None` for data that is not images.
        augment: the augmentation preset the kind of images calls for (`"digits"` or
            `"photos"`, see `recipes.data.images.augment_for`), if known.
        notes: what reading the data left out or changed (rows without a target,
            columns that only identify rows, renamed columns, resized images ...), one
            sentence each; a training run prints them once and keeps them in its
            settings.
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
    dtype: str | None = None
    pixel_max: float | None = None
    augment: str | None = None
    notes: tuple = ()

    def arrays(self, split="train"):
        """Returns one split as numpy `(inputs, targets)`, the inputs a dict of arrays
        for a table; for data that fits in memory."""
        ds = getattr(self, split)
        size = getattr(self, f"{split}_size")
        x, y = ds.batch(max(size, 1)).get_single_element()
        if isinstance(x, dict):
            return {k: v.numpy() for k, v in x.items()}, y.numpy()
        return x.numpy(), y.numpy()


def cardinality(ds):
    size = int(ds.cardinality())
    if size < 0:
        size = int(ds.reduce(0, lambda n, _: n + 1))
    return size


def split_mask(size, fraction, seed):
    """The seeded held-out mask of `size` examples: `round(fraction * size)` of them (at
    least one when `fraction > 0`), chosen by a permutation from
    `numpy.random.default_rng(seed)`. Every split in this project is drawn by it.
    """
    mask = np.zeros(size, bool)
    if fraction == 0:
        return mask
    held = max(1, round(size * fraction))
    if held >= size:
        raise ValueError(
            f"A split of {fraction} of {size} examples leaves none to train on; "
            "use more examples (limit) or a smaller split."
        )
    mask[np.random.default_rng(seed).permutation(size)[:held]] = True
    return mask


def seeded_split(ds, size, fraction, seed):
    """Splits off a seeded random `fraction` of `ds`: (rest, held_out, held_out_size).

    Membership is a fixed boolean mask over example positions (`split_mask`), so both
    parts are disjoint, identical every epoch, and streamed lazily from the same source.
    """
    if fraction == 0:
        return ds, None, 0
    mask = split_mask(size, fraction, seed)
    held = int(mask.sum())
    mask = tf.constant(mask)

    def part(keep, n):
        return (
            ds.enumerate()
            .filter(lambda i, example: tf.equal(tf.gather(mask, i), keep))
            .map(lambda i, example: example)
            .apply(tf.data.experimental.assert_cardinality(n))
        )

    return part(False, size - held), part(True, held), held


def cut_arrays(x, y, fraction, seed):
    """Arrays `(x, y)` cut by `split_mask`: `((x, y) rest, (x, y) held out, held-out
    size)`, in their order, as arrays."""
    held = split_mask(len(x), fraction, seed)
    return (x[~held], y[~held]), (x[held], y[held]), int(held.sum())


def split_arrays(x, y, fraction, seed):
    """`seeded_split` for examples already in memory: the same mask (`split_mask`), so
    the same parts in the same order, cut from the arrays instead of filtered example by
    example. Returns `(rest, held_out, held_out_size)` as datasets (`held_out` is `None`
    when `fraction` is 0)."""
    rest, held, size = cut_arrays(x, y, fraction, seed)
    part = tf.data.Dataset.from_tensor_slices
    return part(rest), part(held) if size else None, size


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



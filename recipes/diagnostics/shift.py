"""Do the training and validation splits come from one distribution?

The flowchart reads "training loss low, validation loss high" as overfitting, but a
validation split unlike the training data gives the same numbers, and regularization
does not fix it. `split_shift` looks before that conclusion is acted on, with
two-sample tests on what can be compared cheaply:

- the labels: a chi-square test on the class counts (classification), or a
  Kolmogorov-Smirnov test on the targets (regression);
- the inputs: a Kolmogorov-Smirnov test on each numeric column of a table, or on each
  image's mean and standard deviation of pixel values.

A shift is reported when a test's p-value is below `alpha` divided by the number of
tests (Bonferroni), so a seeded random split, which has no shift, is flagged with
probability at most `alpha`.

Each split is compared through a seeded random sample of up to `limit` of its
examples, drawn from the whole split (one pass over it): the first examples in file
order would come from the first classes of a folder read class by class, or the lowest
values of a table sorted by a column, and differ from the other split for that reason
alone.

    shift = split_shift(data.train, data.validation)
    if shift.shifted:
        print(shift.reason)
"""

import dataclasses

import numpy as np
import tensorflow as tf
from scipy import stats


@dataclasses.dataclass
class Shift:
    """What `split_shift` returns.

    Attributes:
        shifted: whether some test rejected "one distribution".
        p_values: each test's p-value, by what it compared ("labels", "pixel mean",
            a column's name ...).
        reason: one sentence naming the smallest p-value.
    """

    shifted: bool
    p_values: dict
    reason: str


def _sample(dataset, limit, seed):
    """Up to `limit` (features, labels) of an unbatched dataset, as numpy: a seeded
    random choice of positions over the whole dataset, read in the dataset's order."""
    size = int(dataset.cardinality())
    if size == tf.data.INFINITE_CARDINALITY:
        raise ValueError("split_shift needs finite splits. Received: a repeated dataset; "
                         "pass it before .repeat().")
    if size < 0:  # unknown: counted
        size = int(dataset.reduce(0, lambda n, _: n + 1))
    if size == 0:
        raise ValueError("split_shift needs examples in both splits. Received: an empty split.")
    keep = np.zeros(size, bool)
    keep[np.random.default_rng(seed).choice(size, min(size, limit), replace=False)] = True
    keep = tf.constant(keep)
    chosen = (
        dataset.enumerate()
        .filter(lambda i, example: tf.gather(keep, i))
        .map(lambda i, example: example)
        .batch(256)
    )
    parts = list(chosen.as_numpy_iterator())
    features = [x for x, _ in parts]
    if isinstance(features[0], dict):
        features = {k: np.concatenate([f[k] for f in features]) for k in features[0]}
    else:
        features = np.concatenate(features)
    return features, np.concatenate([y for _, y in parts])


def _columns(features):
    """The numeric quantities compared: table columns, or per-image statistics."""
    if isinstance(features, dict):
        return {
            name: np.asarray(v, dtype="float64").reshape(len(v))
            for name, v in features.items()
            if np.issubdtype(np.asarray(v).dtype, np.number)
        }
    flat = features.reshape(len(features), -1).astype("float64")
    if flat.shape[1] <= 64:  # small vectors: every coordinate
        return {f"feature {i}": flat[:, i] for i in range(flat.shape[1])}
    return {"pixel mean": flat.mean(axis=1), "pixel std": flat.std(axis=1)}


def split_shift(train, validation, *, classification=True, limit=2000, alpha=1e-3, seed=0):
    """Two-sample tests between the training and validation splits.

    Args:
        train: the unbatched training `tf.data.Dataset` of `(features, label)`.
        validation: the unbatched validation dataset.
        classification: labels are classes (chi-square test) rather than numbers
            (Kolmogorov-Smirnov test). Defaults to `True`.
        limit: examples compared from each split, a seeded random sample of the
            whole split where it holds more. Defaults to 2000.
        alpha: the family-wise false-alarm rate. Defaults to `1e-3`.
        seed: seed of the samples. Defaults to 0.

    Returns:
        A `Shift`.

    Example:

    >>> split_shift(data.train, data.validation).shifted
    False
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2 examples per split. Received: limit={limit}")
    (xa, ya), (xb, yb) = _sample(train, limit, seed), _sample(validation, limit, seed + 1)
    p = {}
    if classification:
        classes = np.union1d(ya, yb)
        table = np.array([[np.sum(ya == c) for c in classes], [np.sum(yb == c) for c in classes]])
        p["labels"] = float(stats.chi2_contingency(table)[1]) if len(classes) > 1 else 1.0
    else:
        p["labels"] = float(stats.ks_2samp(ya.ravel(), yb.ravel()).pvalue)
    a, b = _columns(xa), _columns(xb)
    for name in a:
        # A table's gaps (NaN) are compared apart from its numbers: their share, then the rest.
        gaps_a, gaps_b = np.isnan(a[name]), np.isnan(b[name])
        if gaps_a.any() or gaps_b.any():
            table = [[gaps_a.sum(), (~gaps_a).sum()], [gaps_b.sum(), (~gaps_b).sum()]]
            p[f"{name} missing"] = float(stats.chi2_contingency(table)[1])
        x, z = a[name][~gaps_a], b[name][~gaps_b]
        if len(x) == 0 or len(z) == 0 or (np.ptp(x) == 0 and np.ptp(z) == 0):
            continue
        p[name] = float(stats.ks_2samp(x, z).pvalue)
    worst = min(p, key=p.get)
    level = alpha / len(p)
    shifted = p[worst] < level
    verb = "differ" if shifted else "agree"
    reason = (
        f"Training and validation {verb}: the smallest p-value is {p[worst]:.2g}, on "
        f"{worst} ({len(p)} tests, threshold {level:.2g})."
    )
    return Shift(shifted, p, reason)

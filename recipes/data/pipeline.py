"""The input pipeline: cache, shuffle, batch, augment on the fly, prefetch.

    from recipes import data
    splits = data.load("mnist")
    train = data.make_pipeline(splits.train, 128, augment="digits", seed=0)
    validation = data.make_pipeline(splits.validation, 128, shuffle=False)
"""

import tensorflow as tf

from recipes.data.augment import get_preset
from recipes.data.checks import check_positive_int


def make_pipeline(
    ds,
    batch_size,
    augment=None,
    shuffle=True,
    cache=True,
    seed=None,
    shuffle_buffer=10_000,
):
    """Cache, shuffle, batch, augment on the fly, prefetch.

    Inputs are cast to float32 per batch (no rescaling); `augment` runs on whole
    batches, in training mode, with `num_parallel_calls=tf.data.AUTOTUNE`.

    Args:
        ds: a `tf.data.Dataset` of unbatched `(inputs, targets)` pairs.
        batch_size: examples per batch.
        augment: a Keras layer or model, a preset name (see `get_preset`), or `None`.
            Defaults to `None`.
        shuffle: reshuffle every epoch. Defaults to `True`.
        cache: cache the examples in memory after the first epoch (before shuffling
            and augmentation, so each epoch sees new random transforms).
            Defaults to `True`.
        seed: shuffle seed. Defaults to `None`.
        shuffle_buffer: examples in the shuffle buffer. Defaults to `10_000`.

    Returns:
        A batched, prefetched `tf.data.Dataset` of `(float32 inputs, targets)`.

    Example:

    >>> splits = recipes.data.load("mnist", limit=1000)
    >>> train = make_pipeline(splits.train, 32, augment="digits", seed=0)
    >>> images, labels = next(iter(train))
    >>> images.shape, images.dtype
    (TensorShape([32, 28, 28, 1]), tf.float32)
    """
    check_positive_int("batch_size", batch_size)
    if isinstance(augment, str):
        augment = get_preset(augment)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def prepare(x, *targets):
        if not isinstance(x, dict):  # a table's columns keep their own dtypes
            x = tf.cast(x, "float32")
        if augment is not None:
            x = augment(x, training=True)
        return (x, *targets)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

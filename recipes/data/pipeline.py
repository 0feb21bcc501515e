"""The input pipeline: cache, shuffle, batch, augment on the fly, prefetch.

    from recipes import data
    splits = data.load("mnist")
    train = data.make_pipeline(splits.train, 128, augment="digits", seed=0)
    validation = data.make_pipeline(splits.validation, 128, shuffle=False)
"""

import keras
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

    Each batch draws its transforms from a seed of its own, so that batches augmented
    in parallel still give the same transforms on every run: a Keras random layer
    draws from one `SeedGenerator` state, and parallel batches would take its draws in
    whichever order their threads ran. The seeds come from
    `tf.data.Dataset.random(seed)`, new each epoch, and are offset by each generator's
    own state; they stand in for the generators' states in a `keras.StatelessScope`,
    which leaves the layers' states untouched. (Random ops that do not draw from a
    `keras.random.SeedGenerator` keep their thread-order draws.)

    Args:
        ds: a `tf.data.Dataset` of unbatched `(inputs, targets)` pairs.
        batch_size: examples per batch.
        augment: a Keras layer or model, a preset name (see `get_preset`), or `None`.
            Defaults to `None`.
        shuffle: reshuffle every epoch. Defaults to `True`.
        cache: cache the examples in memory after the first epoch (before shuffling
            and augmentation, so each epoch sees new random transforms).
            Defaults to `True`.
        seed: seed of the shuffle and of the augmentation's draws. Defaults to `None`.
            With a seed, every epoch's batches are the same on every run.
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

    states = _seed_states(augment)
    if states:
        offsets = [tf.constant(keras.ops.convert_to_numpy(v)) for v in states]
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, draws.batch(2 * len(states), drop_remainder=True))

        def prepare_seeded(batch, draw):
            draw = tf.reshape(draw, (len(states), 2))
            mapping = [(v, tf.cast(offset + draw[i], v.dtype))
                       for i, (v, offset) in enumerate(zip(states, offsets))]
            with keras.StatelessScope(state_mapping=mapping):
                return prepare(*batch)

        ds = ds.map(prepare_seeded, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _seed_states(augment):
    """The states of `augment`'s seed generators: what `variables` adds to `weights`."""
    if not isinstance(augment, keras.layers.Layer):
        return []
    weights = {id(w) for w in augment.weights}
    return [v for v in augment.variables if id(v) not in weights]

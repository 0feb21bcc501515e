"""Input pipelines and augmentation presets built from Keras preprocessing layers.

    from recipes import augment, data
    splits = data.load("mnist")
    train = augment.make_pipeline(splits.train, 128, augment="digits", seed=0)
    validation = augment.make_pipeline(splits.validation, 128, shuffle=False)

Augmentation keeps data natural (the lectures' rule): digits turn, shift and zoom a
little but never flip (a flipped 2 is not a 2); photos flip left-right, shift and zoom,
never upside down; speech gets background noise at a chosen signal-to-noise ratio.
A preset is a plain `keras.Sequential`, applied to whole batches in the input pipeline
and in training mode only (the layers are the identity at inference). Images stay raw
pixel values, cast to float32: rescaling belongs in the model.
"""

import keras
import tensorflow as tf


def digits(rotation=10.0, translation=0.1, zoom=0.1, seed=None):
    """Augmentation for handwritten digits: small rotations, shifts and zooms, no flips.

    Pixels moved in from outside the image are black (0), like the background.

    Args:
        rotation: largest rotation, in degrees either way. Defaults to `10.0`.
        translation: largest shift, as a fraction of the height and width.
            Defaults to `0.1`.
        zoom: largest zoom in or out, as a fraction. Defaults to `0.1`.
        seed: seed of the random transforms. Defaults to `None`.

    Returns:
        A `keras.Sequential` named `"digits"`.

    Example:

    >>> augment = recipes.augment.digits()
    >>> augment(images, training=True).shape == images.shape
    True
    """
    fill = dict(fill_mode="constant", fill_value=0.0)
    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation / 360, seed=_seed(seed, 0), **fill),
            keras.layers.RandomTranslation(
                translation, translation, seed=_seed(seed, 1), **fill
            ),
            keras.layers.RandomZoom(zoom, seed=_seed(seed, 2), **fill),
        ],
        name="digits",
    )


def photos(translation=0.1, zoom=0.1, seed=None):
    """Augmentation for natural photos: left-right flips, shifts and zooms.

    Never flips upside down: an upside-down truck is not a natural photo. Pixels moved
    in from outside the image are mirrored from the inside.

    Args:
        translation: largest shift, as a fraction of the height and width.
            Defaults to `0.1`.
        zoom: largest zoom in or out, as a fraction. Defaults to `0.1`.
        seed: seed of the random transforms. Defaults to `None`.

    Returns:
        A `keras.Sequential` named `"photos"`.

    Example:

    >>> augment = recipes.augment.photos()
    >>> augment(images, training=True).shape == images.shape
    True
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=_seed(seed, 0)),
            keras.layers.RandomTranslation(
                translation, translation, fill_mode="reflect", seed=_seed(seed, 1)
            ),
            keras.layers.RandomZoom(zoom, fill_mode="reflect", seed=_seed(seed, 2)),
        ],
        name="photos",
    )


def audio(noise, snr_min=0.0, snr_max=20.0, pad_mode=None, seed=None):
    """Augmentation for speech: mixes in background noise at a random SNR.

    Wraps `layers.MixBackgroundNoise`, which adds to each waveform a random window of
    a random noise clip, scaled to a signal-to-noise ratio drawn in
    `[snr_min, snr_max]` dB.

    Args:
        noise: background noise clips, shape `(clips, samples)`.
        snr_min: lowest signal-to-noise ratio, in dB. Defaults to `0.0`.
        snr_max: highest signal-to-noise ratio, in dB. Defaults to `20.0`.
        pad_mode: for waveforms longer than the clips: `"tile"`, `"zeros"`, or `None`
            to raise. Defaults to `None`.
        seed: seed of the random draws. Defaults to `None`.

    Returns:
        A `keras.Sequential` named `"audio"`, for batches of shape `(batch, samples)`.

    Example:

    >>> augment = recipes.augment.audio(noise_clips, snr_min=5, snr_max=15)
    >>> noisy = augment(waveforms, training=True)
    """
    import layers  # Imported here: only this preset needs the project's layers.

    mix = layers.MixBackgroundNoise(noise, snr_min, snr_max, pad_mode=pad_mode, seed=seed)
    return keras.Sequential([mix], name="audio")


PRESETS = {"digits": digits, "photos": photos, "audio": audio}


def get_preset(name, **kwargs):
    """Builds an augmentation preset by name.

    Args:
        name: one of `"digits"`, `"photos"`, `"audio"`.
        **kwargs: passed on to the preset's function.

    Returns:
        A `keras.Sequential`.

    Example:

    >>> recipes.augment.get_preset("digits", rotation=5).name
    'digits'
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown augmentation preset. Known presets: {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return PRESETS[name](**kwargs)


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
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"batch_size must be a positive integer. Received: batch_size={batch_size}"
        )
    if isinstance(augment, str):
        augment = get_preset(augment)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def prepare(x, *targets):
        x = tf.cast(x, "float32")
        if augment is not None:
            x = augment(x, training=True)
        return (x, *targets)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _seed(seed, offset):
    """Distinct seeds for the layers of one preset, so their draws are independent."""
    return None if seed is None else seed + offset

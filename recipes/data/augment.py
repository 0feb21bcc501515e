"""Augmentation presets built from Keras preprocessing layers and the project's own.

    from recipes import data
    digits = data.get_preset("digits", rotation=5)

Augmentation keeps data natural (the lectures' rule): digits turn, shift and zoom a
little but never flip (a flipped 2 is not a 2); photos flip left-right, shift and zoom,
never upside down; speech gets background noise at a chosen signal-to-noise ratio.
Turns, shifts and zooms are one `layers.RandomAffine` (one resampling of the batch
instead of one per Keras layer). A preset is a plain `keras.Sequential`, applied to whole
batches in the input pipeline (`recipes.data.make_pipeline`) and in training mode only
(the layers are the identity at inference). Images stay raw pixel values, cast to
float32: rescaling belongs in the model.
"""

import inspect

import keras

import layers


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

    >>> augment = recipes.data.digits()
    >>> augment(images, training=True).shape == images.shape
    True
    """
    affine = layers.RandomAffine(rotation, translation, zoom, fill_mode="constant",
                                 fill_value=0.0, seed=seed)
    return keras.Sequential([affine], name="digits")


def photos(translation=0.1, zoom=0.1, erasing=0.0, seed=None):
    """Augmentation for natural photos: left-right flips, shifts, zooms and, optionally,
    random erasing.

    Never flips upside down: an upside-down truck is not a natural photo. Pixels moved
    in from outside the image are mirrored from the inside. Random erasing (Zhong et
    al., 2017; `keras.layers.RandomErasing`) blanks a random rectangle of an image to 0,
    so that no one part of an object decides the class.

    Args:
        translation: largest shift, as a fraction of the height and width.
            Defaults to `0.1`.
        zoom: largest zoom in or out, as a fraction. Defaults to `0.1`.
        erasing: the probability of erasing a rectangle (2-33% of the image) from
            each image; 0: none. Defaults to `0.0`.
        seed: seed of the random transforms. Defaults to `None`.

    Returns:
        A `keras.Sequential` named `"photos"`.

    Example:

    >>> augment = recipes.data.photos()
    >>> augment(images, training=True).shape == images.shape
    True
    """
    if not 0.0 <= erasing <= 1.0:
        raise ValueError(f"erasing must be between 0 and 1. Received: erasing={erasing!r}")
    affine = layers.RandomAffine(translation=translation, zoom=zoom, fill_mode="reflect",
                                 seed=_seed(seed, 1))
    steps = [keras.layers.RandomFlip("horizontal", seed=_seed(seed, 0)), affine]
    if erasing:
        # fill_value=0: the erased rectangle is black whatever the pixels' range.
        steps.append(keras.layers.RandomErasing((erasing, erasing), fill_value=0.0,
                                                seed=_seed(seed, 2)))
    return keras.Sequential(steps, name="photos")


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

    >>> augment = recipes.data.audio(noise_clips, snr_min=5, snr_max=15)
    >>> noisy = augment(waveforms, training=True)
    """
    mix = layers.MixBackgroundNoise(noise, snr_min, snr_max, pad_mode=pad_mode, seed=seed)
    return keras.Sequential([mix], name="audio")


# TFDS datasets of digits and characters: flipped, they are other symbols.
CHARACTERS = ("mnist", "emnist", "kmnist", "binarized_mnist", "omniglot", "svhn_cropped")


def augment_for(name, channels):
    """The augmentation preset for a kind of images: `"digits"` (small turns, shifts and
    zooms, never a flip) for digits and characters, `"photos"` (left-right flips too)
    for photos and clothing.

    Known TFDS names decide (`CHARACTERS` are digits; `fashion_mnist` is clothing);
    otherwise grayscale images are taken for characters and colour images for photos.
    Pass `augment=` to a recipe to choose yourself.
    """
    base = str(name).split("/")[0].split(":")[0]
    if base in CHARACTERS:
        return "digits"
    if base == "fashion_mnist":
        return "photos"
    return "digits" if channels == 1 else "photos"


PRESETS = {"digits": digits, "photos": photos, "audio": audio}

# How far each image preset goes and stays natural: a digit turned by more than 20
# degrees or shifted by a fifth of the image starts to look like another one.
LIMITS = {
    "digits": dict(rotation=20.0, translation=0.2, zoom=0.2),
    "photos": dict(translation=0.2, zoom=0.25),
}


def stronger(name, options, scale):
    """The options of image preset `name` with every strength times `scale`, each at
    most its natural limit (`LIMITS`); the preset's defaults fill what `options` lacks.
    Options without a limit (`photos`'s `erasing`) stay as given.

    Example:

    >>> stronger("digits", {"rotation": 5.0}, 2)
    {'rotation': 10.0, 'translation': 0.2, 'zoom': 0.2}
    """
    if name not in LIMITS:
        raise ValueError(f"Only {sorted(LIMITS)} have strengths. Received: name={name!r}")
    defaults = inspect.signature(PRESETS[name]).parameters
    return {
        **options,
        **{key: min(limit, float(options.get(key, defaults[key].default)) * scale)
           for key, limit in LIMITS[name].items()},
    }


def get_preset(name, **kwargs):
    """Builds an augmentation preset by name.

    Args:
        name: one of `"digits"`, `"photos"`, `"audio"`.
        **kwargs: passed on to the preset's function.

    Returns:
        A `keras.Sequential`.

    Example:

    >>> recipes.data.get_preset("digits", rotation=5).name
    'digits'
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown augmentation preset. Known presets: {sorted(PRESETS)}. "
            f"Received: name={name!r}"
        )
    return PRESETS[name](**kwargs)


def _seed(seed, offset):
    """Distinct seeds for the layers of one preset, so their draws are independent."""
    return None if seed is None else seed + offset

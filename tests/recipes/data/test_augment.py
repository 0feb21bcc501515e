"""recipes.data.augment and recipes.data.pipeline: presets keep data natural, act in training only; pipeline shapes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import layers
from recipes import data as augment


def images(n=8, size=28, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, channels)).astype("float32")


def layer_types(model):
    return [type(layer) for layer in model.layers]


def test_digits_turns_shifts_zooms_and_never_flips():
    preset = augment.get_preset("digits")
    assert isinstance(preset, keras.Sequential) and preset.name == "digits"
    assert layer_types(preset) == [layers.RandomAffine]  # one resampling, not three
    config = preset.layers[0].get_config()
    assert (config["rotation"], config["translation"], config["zoom"]) == (10.0, 0.1, 0.1)
    assert (config["fill_mode"], config["fill_value"]) == ("constant", 0.0)


def test_photos_flip_left_right_only():
    preset = augment.get_preset("photos")
    assert preset.name == "photos"
    flips = [l for l in preset.layers if isinstance(l, keras.layers.RandomFlip)]
    assert [l.get_config()["mode"] for l in flips] == ["horizontal"]
    # Behaviour: a flip-only copy of the preset mirrors columns, never rows.
    flip = keras.layers.RandomFlip(**flips[0].get_config())
    x = images(64, channels=3)
    y = keras.ops.convert_to_numpy(flip(x, training=True))
    flipped = [np.array_equal(b, a[:, ::-1]) for a, b in zip(x, y)]
    assert all(f or np.array_equal(a, b) for f, a, b in zip(flipped, x, y)) and any(flipped)
    assert not any(np.array_equal(b, a[::-1]) for a, b in zip(x, y))


@pytest.mark.parametrize("name, channels", [("digits", 1), ("photos", 3)])
def test_presets_change_images_in_training_only(name, channels):
    preset = augment.get_preset(name, seed=1)
    x = np.repeat(images(1, channels=channels), 8, axis=0)  # One image, eight times.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(preset(x, training=False)), x)
    y = keras.ops.convert_to_numpy(preset(x, training=True))
    assert y.shape == x.shape
    assert len({b.tobytes() for b in y}) > 1  # Each image gets its own transform.


def test_photos_erase_a_black_rectangle_only_when_asked():
    assert keras.layers.RandomErasing not in layer_types(augment.photos())
    preset = augment.photos(translation=0.0, zoom=0.0, erasing=1.0, seed=0)
    white = np.full((16, 28, 28, 1), 255.0, "float32")
    out = keras.ops.convert_to_numpy(preset(white, training=True))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(preset(white, training=False)), white)
    for image in out[..., 0]:
        erased = image == 0
        assert 0 < erased.mean() < 0.5  # every image loses a part, none the whole
        rows, cols = np.nonzero(erased)  # one filled rectangle
        assert erased[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
        assert set(np.unique(image)) == {0.0, 255.0}
    with pytest.raises(ValueError, match="erasing=1.5"):
        augment.photos(erasing=1.5)


def test_stronger_scales_the_strengths_and_keeps_the_other_options():
    options = augment.stronger("photos", {"translation": 0.05, "erasing": 0.5}, 2)
    assert options == {"translation": 0.1, "zoom": 0.2, "erasing": 0.5}


def test_digits_fill_black():
    empty = np.zeros((4, 28, 28, 1), "float32")
    out = augment.digits(rotation=30, translation=0.3, zoom=0.3, seed=0)(empty, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), empty)


def test_get_preset_lists_known_presets():
    with pytest.raises(ValueError, match=r"Known presets: \['audio', 'digits', 'photos'\]"):
        augment.get_preset("rotate_everything")


def pairs(n=10):
    x = images(n).astype("uint8")
    return tf.data.Dataset.from_tensor_slices((x, np.arange(n, dtype="int64")))


def test_pipeline_without_augmentation_keeps_pixels():
    ds = augment.make_pipeline(pairs(), 4, shuffle=False)
    batches = list(ds.as_numpy_iterator())
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(x, images(10)[:4].astype("uint8"))
    assert ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]


def test_pipeline_shuffles_each_epoch_with_a_seed():
    def order(ds):
        return [int(v) for _, y in ds.as_numpy_iterator() for v in y]

    ds = augment.make_pipeline(pairs(), 4, seed=3)
    first, second = order(ds), order(ds)
    assert sorted(first) == list(range(10)) and first != second
    assert order(augment.make_pipeline(pairs(), 4, seed=3)) == first


def test_pipeline_augments_on_the_fly():
    ds = augment.make_pipeline(pairs(), 10, augment="digits", shuffle=False, seed=0)
    (x1, y1), (x2, y2) = [list(ds.as_numpy_iterator())[0] for _ in range(2)]  # 2 epochs.
    np.testing.assert_array_equal(y1, np.arange(10))
    original = images(10).astype("uint8").astype("float32")
    assert x1.shape == original.shape and x1.dtype == np.float32
    assert not np.allclose(x1, original) and not np.allclose(x1, x2)


def test_a_seed_gives_the_same_augmented_batches_on_every_run():
    """Two pipelines with the same seeds give the same batches, epoch after epoch (new
    transforms each epoch). With batches augmented in parallel they took the layer's
    random draws in thread order, and differed from run to run."""
    x = images(1024).astype("uint8")
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(1024, "int64")))

    def epochs(layer_seed=7, n=2):
        preset = augment.digits(seed=layer_seed)
        pipeline = augment.make_pipeline(ds, 32, augment=preset, seed=3)
        return [np.stack([b for b, _ in pipeline.as_numpy_iterator()]) for _ in range(n)]

    first, again = epochs(), epochs()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], first[1])  # new transforms each epoch
    assert not np.allclose(first[0], epochs(layer_seed=8, n=1)[0])  # the layer's seed counts


def test_pipeline_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        augment.make_pipeline(pairs(), 0)


def test_audio_preset_mixes_background_noise():
    # Last: `layers.MixBackgroundNoise` is written in parallel.
    import layers

    noise = np.random.default_rng(0).normal(size=(3, 1600)).astype("float32")
    preset = augment.get_preset("audio", noise=noise, snr_min=0.0, snr_max=10.0, seed=0)
    assert preset.name == "audio"
    assert layer_types(preset) == [layers.MixBackgroundNoise]
    speech = np.sin(np.linspace(0, 400, 1600, dtype="float32"))[None].repeat(4, 0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(preset(speech, training=False)), speech
    )
    ds = tf.data.Dataset.from_tensor_slices((speech, np.arange(4)))
    noisy, _ = next(iter(augment.make_pipeline(ds, 4, augment=preset, shuffle=False)))
    noise_power = np.mean((noisy.numpy() - speech) ** 2, axis=1)
    snr = 10 * np.log10(np.mean(speech**2, axis=1) / noise_power)
    assert np.all((snr > -1e-3) & (snr < 10 + 1e-3))

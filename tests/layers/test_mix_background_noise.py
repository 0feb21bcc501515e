import keras
import numpy as np
import pytest
from helpers import check_layer, load_in_fresh_process

import layers

# Three distinct clips of 50 samples; windows of them are told apart below.
NOISE = np.random.default_rng(0).normal(size=(3, 50)).astype("float32")


def _speech(batch, samples, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, samples)).astype("float32")


def _power(x):
    return np.mean(np.square(x), axis=-1)


def _mix(x, pad_mode=None, snr=(0.0, 20.0), seed=1):
    layer = layers.MixBackgroundNoise(NOISE, *snr, pad_mode=pad_mode, seed=seed)
    y, drawn = layer(x, training=True, return_snr=True)
    return keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(drawn)


def _candidate_windows(samples, pad_mode):
    """Every window the layer may add, unscaled: (clip, shift) -> array."""
    length = NOISE.shape[1]
    if samples <= length:
        shifts = range(length - samples + 1)
        return [clip[s : s + samples] for clip in NOISE for s in shifts]
    if pad_mode == "tile":
        tiled = [np.tile(clip, samples // length + 2) for clip in NOISE]
        return [t[s : s + samples] for t in tiled for s in range(length)]
    # "zeros": the whole clip at every position.
    pads = [(s, samples - length - s) for s in range(samples - length + 1)]
    return [np.pad(clip, pad) for clip in NOISE for pad in pads]


@pytest.mark.parametrize(
    "samples, pad_mode",
    [(20, None), (50, None), (120, "tile"), (120, "zeros"), (20, "zeros")],
)
def test_mixes_a_window_of_a_clip_at_the_drawn_snr(samples, pad_mode):
    x = _speech(64, samples)
    y, drawn = _mix(x, pad_mode)
    added = y - x

    realised = 10.0 * np.log10(_power(x) / _power(added))
    np.testing.assert_allclose(realised, drawn, atol=0.1)
    assert drawn.min() >= 0.0 and drawn.max() <= 20.0 and drawn.std() > 3.0

    # Each example's added noise is a scaled window of one clip.
    windows = np.stack(_candidate_windows(samples, pad_mode))
    cosine = (windows @ added.T) / (
        np.linalg.norm(windows, axis=1)[:, None] * np.linalg.norm(added, axis=1)
    )
    best = cosine.argmax(axis=0)
    np.testing.assert_allclose(cosine.max(axis=0), 1.0, atol=1e-5)
    # Different clips and offsets across the batch.
    assert len(set(best)) >= min(10, len(windows))


def test_fixed_snr():
    x = _speech(16, 30)
    y, drawn = _mix(x, snr=(5.0, 5.0))
    np.testing.assert_allclose(drawn, 5.0)
    realised = 10.0 * np.log10(_power(x) / _power(y - x))
    np.testing.assert_allclose(realised, 5.0, atol=0.1)


def test_identity_at_inference():
    x = _speech(4, 30)
    layer = layers.MixBackgroundNoise(NOISE, 0.0, 10.0, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    y, snr = layer(x, training=False, return_snr=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), x)
    assert np.isinf(keras.ops.convert_to_numpy(snr)).all()


def test_seeded_draws_repeat():
    x = _speech(4, 30)
    first, _ = _mix(x, seed=7)
    again, _ = _mix(x, seed=7)
    other, _ = _mix(x, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_silence_stays_finite():
    layer = layers.MixBackgroundNoise(np.zeros((2, 40)), 0.0, 10.0, seed=1)
    x = _speech(3, 40)
    x[0] = 0.0
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_array_equal(y, x)  # silent noise adds nothing, no NaN


def test_short_clips_without_pad_mode_raise():
    layer = layers.MixBackgroundNoise(NOISE, 0.0, 10.0)
    x = np.zeros((2, 80), "float32")
    message = "have 50 samples but the signal has 80. Pass pad_mode="
    with pytest.raises(ValueError, match=message):
        layer(x, training=True)
    layer(x)  # inference needs no noise


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"snr_min": 10.0, "snr_max": 5.0}, "snr_min=10.0, snr_max=5.0"),
        ({"snr_min": 0.0, "snr_max": float("nan")}, "snr_max=nan"),
        ({"pad_mode": "crop"}, "pad_mode='crop'"),
        ({"noise": np.zeros(100)}, r"shape \(100,\)"),
        ({"noise": np.full((1, 10), np.nan)}, "NaN"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    kwargs = {"noise": NOISE, "snr_min": 0.0, "snr_max": 10.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        layers.MixBackgroundNoise(**kwargs)


def test_trains_in_a_model_with_variable_length():
    noise_layer = layers.MixBackgroundNoise(
        NOISE, 0.0, 10.0, pad_mode="tile", seed=1
    )
    inputs = keras.Input((None,))
    features = keras.layers.Lambda(
        lambda x: keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True)
    )(noise_layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(features))
    model.compile(optimizer="adam", loss="mse")
    for samples in (40, 90):  # shorter and longer than the clips
        x = _speech(32, samples)
        history = model.fit(x, np.ones((32, 1)), batch_size=16, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()


def test_check_layer(tmp_path):
    check_layer(
        layers.MixBackgroundNoise,
        {"noise": NOISE, "snr_min": 0.0, "snr_max": 10.0, "pad_mode": "tile",
         "seed": 3},
        input_shape=(4, 30),
        expected_output_shape=(4, 30),
        tmp_path=tmp_path,
    )


@pytest.mark.slow
def test_noise_bank_travels_in_keras_file(tmp_path):
    inputs = keras.Input((30,))
    mix = layers.MixBackgroundNoise(NOISE, 0.0, 10.0, seed=3)
    model = keras.Model(inputs, mix(inputs, training=True))
    path = tmp_path / "mix_background_noise.keras"
    model.save(path)
    x = _speech(4, 30)
    # The first draw from the seed, as in the new process.
    noisy = keras.ops.convert_to_numpy(model(x))
    assert not np.allclose(noisy, x)
    np.testing.assert_array_equal(load_in_fresh_process(path, x), noisy)

"""Mix background noise into speech at a random signal-to-noise ratio.

The course's audio augmentation: keep data natural by adding real background noise
(a room, a street) to clean speech at a chosen SNR. Keras' preprocessing layers cover
images only, so this layer is written here with `keras.ops` and `keras.random`.
"""

import math

import keras
import numpy as np
from keras import ops

_PAD_MODES = (None, "tile", "zeros")
# Noise windows quieter than this power (-120 dB) count as silence: nothing is added.
_MIN_NOISE_POWER = 1e-12


@keras.saving.register_keras_serializable(package="recipes")
class MixBackgroundNoise(keras.layers.Layer):
    """Adds a random noise clip at a random SNR to each waveform, in training only.

    For each waveform of a `(batch, samples)` batch, the layer picks a clip of
    `noise`, a random window of `samples` samples in it and an SNR uniformly in
    `[snr_min, snr_max]` dB, scales the window so that
    `10 * log10(mean(signal**2) / mean(scaled_noise**2)) == snr` and adds it.
    At inference (`training=False`) it returns its input unchanged.

    The noise clips are a non-trainable weight, so `.keras` files carry them;
    `get_config` holds only their shape (`noise_shape`), and `from_config`
    starts from silent clips that loading the weights fills in.

    Args:
        noise: Array of shape `(num_clips, length)`, the background-noise clips.
        snr_min: Float, lowest signal-to-noise ratio in dB.
        snr_max: Float, highest signal-to-noise ratio in dB; at least `snr_min`.
        pad_mode: What to do with signals longer than the clips: `"tile"`
            repeats the clip from a random offset, `"zeros"` adds the whole
            clip at a random position and leaves the rest of the signal
            clean, `None` raises a `ValueError` when the layer mixes (checked
            whenever the signal length is known at call time; in a graph with
            an unknown length `None` acts as `"tile"`). Defaults to `None`.
        seed: Integer, seed of the random draws. Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Waveforms of shape `(batch, samples)`.
        training: Python boolean, mix in noise (`True`) or return `inputs`
            (`False`). Defaults to `False`.
        return_snr: Python boolean, also return each waveform's SNR in dB,
            shape `(batch,)`: the drawn SNR in training, `inf` at inference.
            Defaults to `False`.

    Example:

    ```python
    noise = np.random.normal(size=(8, 16000)).astype("float32")  # 8 clips of 1 s
    augment = MixBackgroundNoise(noise, snr_min=0.0, snr_max=20.0, seed=0)
    speech = np.random.normal(size=(4, 16000)).astype("float32")
    noisy, snr = augment(speech, training=True, return_snr=True)
    ```
    """

    def __init__(
        self, noise, snr_min, snr_max, pad_mode=None, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        noise = np.asarray(noise, dtype=self.variable_dtype)
        if noise.ndim != 2 or 0 in noise.shape:
            raise ValueError(
                "`noise` must be a non-empty array of shape (num_clips, length). "
                f"Received: noise with shape {noise.shape}"
            )
        if not np.all(np.isfinite(noise)):
            raise ValueError(
                "`noise` must be finite; it contains NaN or infinite values."
            )
        if not math.isfinite(snr_min) or not math.isfinite(snr_max):
            raise ValueError(
                "`snr_min` and `snr_max` must be finite. "
                f"Received: snr_min={snr_min}, snr_max={snr_max}"
            )
        if snr_min > snr_max:
            raise ValueError(
                "`snr_min` must not exceed `snr_max`. "
                f"Received: snr_min={snr_min}, snr_max={snr_max}"
            )
        if pad_mode not in _PAD_MODES:
            raise ValueError(
                f"`pad_mode` must be one of {_PAD_MODES}. "
                f"Received: pad_mode={pad_mode!r}"
            )
        self.snr_min = float(snr_min)
        self.snr_max = float(snr_max)
        self.pad_mode = pad_mode
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.noise = self.add_weight(
            shape=noise.shape,
            initializer=keras.initializers.Constant(noise),
            trainable=False,
            name="noise",
        )

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "MixBackgroundNoise expects waveforms of shape (batch, samples). "
                f"Received: input_shape={input_shape}"
            )

    def call(self, inputs, training=False, return_snr=False):
        batch_size, samples = ops.shape(inputs)
        if not training:
            if return_snr:
                return inputs, ops.full((batch_size,), math.inf, self.compute_dtype)
            return inputs

        noise = ops.cast(self._noise_windows(batch_size, samples), self.compute_dtype)
        snr = keras.random.uniform(
            (batch_size,),
            self.snr_min,
            self.snr_max,
            dtype=self.compute_dtype,
            seed=self.seed_generator,
        )
        signal_power = ops.mean(ops.square(inputs), axis=-1)
        noise_power = ops.mean(ops.square(noise), axis=-1)
        noise_power = ops.maximum(noise_power, _MIN_NOISE_POWER)
        scale = ops.sqrt(signal_power / (noise_power * ops.power(10.0, snr / 10.0)))
        outputs = inputs + scale[:, None] * noise
        return (outputs, snr) if return_snr else outputs

    def _noise_windows(self, batch_size, samples):
        """Draws a clip and a window of it per example: `(batch_size, samples)`."""
        num_clips, length = self.noise.shape
        if isinstance(samples, int) and samples > length and self.pad_mode is None:
            raise ValueError(
                f"The noise clips have {length} samples but the signal has "
                f"{samples}. Pass pad_mode='tile' (repeat each clip) or "
                "pad_mode='zeros' (leave the rest of the signal clean), or give "
                f"noise clips of at least {samples} samples."
            )
        # Window position k of an example reads clip position shift + k, with
        # shift in [low, high]: inside the clip when it is long enough;
        # otherwise wrapped around it ("tile") or partly off it ("zeros").
        if self.pad_mode == "zeros":
            low = ops.minimum(0, length - samples)
            high = ops.maximum(0, length - samples)
        else:
            low = 0
            high = ops.where(samples > length, length - 1, length - samples)
        span = high - low + 1
        draw = keras.random.uniform((batch_size,), seed=self.seed_generator)
        # `mod` folds back the rare `draw * span` that rounds up to `span`.
        shift = low + ops.mod(ops.cast(draw * ops.cast(span, "float32"), "int32"), span)
        positions = shift[:, None] + ops.arange(samples, dtype="int32")[None, :]

        clip = keras.random.randint(
            (batch_size,), 0, num_clips, seed=self.seed_generator
        )
        index = clip[:, None] * length + ops.mod(positions, length)
        windows = ops.take(ops.reshape(self.noise, (-1,)), index)
        if self.pad_mode == "zeros":
            inside = (positions >= 0) & (positions < length)
            windows = ops.where(inside, windows, 0.0)
        return windows

    def compute_output_spec(self, inputs, training=False, return_snr=False):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_snr:
            snr = keras.KerasTensor(inputs.shape[:1], dtype=self.compute_dtype)
            return outputs, snr
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "noise_shape": list(self.noise.shape),
                "snr_min": self.snr_min,
                "snr_max": self.snr_max,
                "pad_mode": self.pad_mode,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        noise = np.zeros(config.pop("noise_shape"), dtype="float32")
        return cls(noise=noise, **config)

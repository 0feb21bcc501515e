"""Custom Keras layers: fused batch normalization, hard sigmoid, piecewise-linear,
maxout, test-time mirror images, an efficient ensemble (TabM's adapters and heads),
noise mixing, random affine transforms of images, piecewise-linear encoding of numbers,
their robust scaling with a smooth clip, and filling missing ones."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from layers.batch_norm import FusedBatchNormalization  # noqa: E402
from layers.ensemble import EnsembleAdapter  # noqa: E402
from layers.ensemble import EnsembleDense  # noqa: E402
from layers.ensemble import RandomSigns  # noqa: E402
from layers.hard_sigmoid import HardSigmoid  # noqa: E402
from layers.hard_sigmoid import hard_sigmoid  # noqa: E402
from layers.maxout import Maxout  # noqa: E402
from layers.mirror import MirrorBatch  # noqa: E402
from layers.mirror import MirrorMean  # noqa: E402
from layers.mix_background_noise import MixBackgroundNoise  # noqa: E402
from layers.piecewise_linear import PiecewiseLinear  # noqa: E402
from layers.piecewise_linear_encoding import FillMissing  # noqa: E402
from layers.piecewise_linear_encoding import PiecewiseLinearEncoding  # noqa: E402
from layers.piecewise_linear_encoding import RobustScale  # noqa: E402
from layers.random_affine import RandomAffine  # noqa: E402

# Registration only: the recipes compile with these learning-rate schedules, so a
# `.keras` file of a recipe's model (optimizer included) loads after `import layers`.
import callbacks.schedules  # noqa: E402, F401

__all__ = [
    "EnsembleAdapter",
    "EnsembleDense",
    "FillMissing",
    "FusedBatchNormalization",
    "HardSigmoid",
    "Maxout",
    "MirrorBatch",
    "MirrorMean",
    "MixBackgroundNoise",
    "PiecewiseLinear",
    "PiecewiseLinearEncoding",
    "RandomSigns",
    "RandomAffine",
    "RobustScale",
    "hard_sigmoid",
]

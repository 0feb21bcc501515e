"""Keras callbacks and learning-rate schedules: warm-up, early stopping, LR finder, logs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from callbacks.early_stopping import EarlyStopping  # noqa: E402
from callbacks.epoch_log import EpochLog  # noqa: E402
from callbacks.fine_tune import FineTune  # noqa: E402
from callbacks.lr_finder import LRFinder, LRFinderResult, find_lr  # noqa: E402
from callbacks.schedules import (  # noqa: E402
    FineTuneCosine,
    InverseSqrt,
    OneCycle,
    WarmUp,
    WarmUpCosine,
)
from callbacks.warmup import WarmUpCallback  # noqa: E402

__all__ = [
    "EarlyStopping",
    "EpochLog",
    "FineTune",
    "FineTuneCosine",
    "InverseSqrt",
    "LRFinder",
    "LRFinderResult",
    "OneCycle",
    "WarmUp",
    "WarmUpCallback",
    "WarmUpCosine",
    "find_lr",
]

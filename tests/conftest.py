"""Shared test set-up: quiet TensorFlow logs, two logical CPUs, seeded runs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import sys
from pathlib import Path

import pytest

# Make `tests.helpers` importable as `helpers` from every test module.
sys.path.insert(0, str(Path(__file__).parent))

import tensorflow as tf  # noqa: E402

# Two logical CPU devices so tf.distribute can be exercised on one CPU.
# This must happen before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_clear():
    keras.utils.set_random_seed(1234)
    yield
    # Without `gc.collect()` (a sixth of a second with TensorFlow loaded, after each of
    # hundreds of tests): Python's own collector and `_collect_per_module` do that.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(autouse=True, scope="module")
def _collect_per_module():
    yield
    keras.backend.clear_session()  # and collect what the module's tests left

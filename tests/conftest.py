"""Shared test set-up: quiet TensorFlow logs, two logical CPUs, seeded runs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import re
import sys
import tempfile
from pathlib import Path

import pytest

# Make `tests.helpers` importable as `helpers` from every test module.
sys.path.insert(0, str(Path(__file__).parent))

# TensorFlow's C++ start-up lines: absl's notice before its log is set up, the oneDNN
# notice, and "no CUDA driver" (INFO lines that TF_CPP_MIN_LOG_LEVEL does not reach, as
# they come before TensorFlow reads it). Each pytest-xdist worker prints them when it
# stops, after pytest's summary line; everything else on stderr is kept.
_START_UP_LINE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IE]\d{4} [\d:. ]+\d+ (port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit)"
)


def _start_tensorflow():
    """Imports TensorFlow and gives it two logical CPUs, without its start-up lines.

    The lines come from C++ straight to file descriptor 2, so it points at a temporary
    file meanwhile; the lines that are not start-up lines go back to stderr.
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        stderr_fd = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf

            # Two logical CPU devices so tf.distribute can be exercised on one CPU.
            # This must happen before TensorFlow initialises its devices.
            cpus = tf.config.list_physical_devices("CPU")
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
            )
        finally:
            sys.stderr.flush()
            os.dup2(stderr_fd, 2)
            os.close(stderr_fd)
        held.seek(0)
        lines = held.read().decode(errors="replace").splitlines(keepends=True)
    sys.stderr.write("".join(line for line in lines if not _START_UP_LINE.match(line)))


_start_tensorflow()

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

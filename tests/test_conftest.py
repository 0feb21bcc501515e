"""`tests/conftest.py`: a run on two processes ends with pytest's summary line."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_two_worker_run_ends_with_the_summary_line():
    # Each worker imports TensorFlow through conftest; its C++ start-up lines (absl's
    # notice, oneDNN, no CUDA driver) used to come after the summary, when it stopped.
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
         "tests/test_benchmarks_common.py::test_print_summary",
         "tests/test_benchmarks_common.py::test_summary_line"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert re.fullmatch(r"2 passed in [\d.]+s", lines[-1]), lines[-5:]
    for noise in ("oneDNN", "cudart_stub", "cuInit", "absl::InitializeLog"):
        assert noise not in out.stdout + out.stderr

"""`benchmarks/common.py`: medians (min-max) and the `summary:` line every benchmark prints."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "common.py"
_spec = importlib.util.spec_from_file_location("benchmarks_common", _PATH)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


@pytest.fixture(autouse=True)
def _seed_and_clear():
    """Overrides conftest's: no Keras here, so no seeding or session to clear (about
    0.15 s a test)."""
    yield


# Each list with its median worked out by hand: the middle value of the sorted list, or
# the mean of the two middle values when there is an even number of them.
MEDIANS = [
    ([0.9912, 0.9955, 0.9931], 0.9931),
    ([170.5, 165.2, 183.9, 201.8], (170.5 + 183.9) / 2),
    ([3, 1, 2, 5, 4, 7], 3.5),
    ([0.25, 0.25, 0.25], 0.25),
    ([-2.0], -2.0),
]


@pytest.mark.parametrize("values, expected", MEDIANS)
def test_median_is_the_middle_value(values, expected):
    assert common.median(values) == pytest.approx(expected, rel=1e-12)
    assert common.median(v for v in values) == pytest.approx(expected, rel=1e-12)


def test_median_agrees_with_numpy():
    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 10, 11, 100):
        values = rng.normal(size=size).tolist()
        assert common.median(values) == pytest.approx(np.median(values), rel=1e-12)


def _read_spread(text):
    """The three numbers in "median (min-max)" (numbers may be negative)."""
    match = re.fullmatch(r"(-?[\d.]+) \((-?[\d.]+)-(-?[\d.]+)\)", text)
    assert match, text
    return [float(g) for g in match.groups()]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("digits", [0, 2, 4])
def test_spread_reads_back_as_median_min_max(seed, digits):
    values = np.random.default_rng(seed).normal(50, 20, size=seed + 2).tolist()
    middle, low, high = _read_spread(common.spread(values, f"{{:.{digits}f}}"))
    # Each written number is numpy's, rounded to `digits` places.
    for written, exact in zip([middle, low, high],
                              [np.median(values), np.min(values), np.max(values)]):
        assert abs(written - exact) <= 0.5 * 10 ** -digits + 1e-9
    assert low <= middle <= high
    # An iterator, read once, gives the same text as the list.
    assert common.spread(iter(values), f"{{:.{digits}f}}") == common.spread(
        values, f"{{:.{digits}f}}")


def test_spread_examples():
    assert common.spread([170.5, 165.2, 183.9, 201.8], "{:.0f}") == "177 (165-202)"
    assert common.spread([0.9912, 0.9955, 0.9931], "{:.2%}") == "99.31% (99.12%-99.55%)"
    assert common.spread([2, 1, 3], lambda v: f"<{v}>") == "<2> (<1>-<3>)"


def test_spread_of_a_single_value_is_the_value():
    assert common.spread([0.98765]) == "0.99"
    assert common.spread([120.4], "{:.0f}") == "120"


def test_summary_line():
    line = common.summary_line(dict(recipe_acc=0.99551, ratio_to_99=0.192549, seeds=3))
    assert line == "summary: recipe_acc=0.9955 ratio_to_99=0.1925 seeds=3"
    # Strings (formatted beforehand, names) and integers are written as they are.
    line = common.summary_line(
        dict(recipe="mlp_mnist", plain_examples_per_s="12345", ratio=0.98765, repeats=12345),
        "{:.3g}")
    assert line == ("summary: recipe=mlp_mnist plain_examples_per_s=12345 ratio=0.988 "
                    "repeats=12345")
    assert common.summary_line(dict(val_error=0.1234, seeds=3), "{}") == (
        "summary: val_error=0.1234 seeds=3")
    assert common.summary_line(dict(gap=float("nan"))) == "summary: gap=nan"


def test_print_summary(capsys):
    common.print_summary(dict(a=1.23456, b="x"), "{:.2f}")
    assert capsys.readouterr().out == "summary: a=1.23 b=x\n"


def test_docstring_examples():
    import doctest

    assert doctest.testmod(common).failed == 0

"""`benchmarks/common.py`: medians (min-max) and the `summary:` line every benchmark prints."""

import importlib.util
import statistics
from pathlib import Path

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

LISTS = [
    [0.9912, 0.9955, 0.9931],  # odd: the middle value
    [170.5, 165.2, 183.9, 201.8],  # even: the mean of the two middle values
    [3, 1, 2, 5, 4, 7],
    [0.25, 0.25, 0.25],
]


@pytest.mark.parametrize("values", LISTS)
def test_median_is_statistics_median(values):
    assert common.median(values) == statistics.median(values)
    assert common.median(iter(values)) == statistics.median(values)


@pytest.mark.parametrize("values", LISTS)
@pytest.mark.parametrize("fmt", ["{:.2f}", "{:.4g}", "{:.0f}"])
def test_spread_is_median_min_max(values, fmt):
    expected = (f"{fmt.format(statistics.median(values))} "
                f"({fmt.format(min(values))}-{fmt.format(max(values))})")
    assert common.spread(values, fmt) == expected
    assert common.spread(v for v in values) == common.spread(values, "{:.2f}")


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

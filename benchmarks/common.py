"""What every benchmark prints the same way: medians (min-max) over seeds and the
last line, `summary: key=value ...`.

The benchmarks run as files (`python benchmarks/NAME.py`), so this folder is first on
`sys.path` and they import it as `from common import median, print_summary, spread`.
Run on its own (as `make bench` does with every file here), it does nothing.
"""

import statistics


def _formatter(fmt):
    """`fmt` as a function: a format string's `format`, or the callable itself."""
    return fmt.format if isinstance(fmt, str) else fmt


def median(values):
    """The median of `values`, as `statistics.median` gives it.

    Args:
        values: an iterable of numbers, at least one.

    Returns:
        The middle value, or the mean of the two middle values when there is an even
        number of them.

    Example:

    >>> median([3, 1, 2])
    2
    >>> median(v for v in (1.0, 4.0))
    2.5
    """
    return statistics.median(values)


def spread(values, fmt="{:.2f}"):
    """`"median (min-max)"` of `values`, each number written by `fmt`.

    Args:
        values: an iterable of numbers, at least one (the results of each seed).
        fmt: a format string with one field (`"{:.4g}"`), or a function from a number to
            its text (`lambda v: f"{100 * v:.2f}%"`). Defaults to `"{:.2f}"`.

    Returns:
        The text `"median (min-max)"`; a single value is written alone.

    Example:

    >>> spread([0.25, 0.5, 1.0])
    '0.50 (0.25-1.00)'
    >>> spread([97.5, 98.0], "{:.1f}")
    '97.8 (97.5-98.0)'
    >>> spread([120.4], "{:.0f}")
    '120'
    """
    values = list(values)
    fmt = _formatter(fmt)
    middle = fmt(median(values))
    if len(values) == 1:
        return middle
    return f"{middle} ({fmt(min(values))}-{fmt(max(values))})"


def summary_line(pairs, fmt="{:.4g}"):
    """The line a benchmark ends with: `summary: key=value key=value ...`.

    Args:
        pairs: a dict of the headline numbers, in the order to print them.
        fmt: how to write each value that is not a string or an integer: a format
            string with one field, or a function from a number to its text. Strings
            (values formatted beforehand, names) and integers (counts, seeds) are
            written as they are. Defaults to `"{:.4g}"`.

    Returns:
        The line, without a newline.

    Example:

    >>> summary_line(dict(recipe_acc=0.99551, ratio=0.19254, seeds=3))
    'summary: recipe_acc=0.9955 ratio=0.1925 seeds=3'
    >>> summary_line(dict(recipe="mlp_mnist", ratio=1.0234), "{:.3g}")
    'summary: recipe=mlp_mnist ratio=1.02'
    """
    fmt = _formatter(fmt)
    return "summary: " + " ".join(
        f"{key}={value if isinstance(value, (str, int)) else fmt(value)}"
        for key, value in pairs.items())


def print_summary(pairs, fmt="{:.4g}"):
    """Prints `summary_line(pairs, fmt)`.

    Args:
        pairs: a dict of the headline numbers, in the order to print them.
        fmt: how to write each value that is not a string or an integer (see
            `summary_line`). Defaults to `"{:.4g}"`.

    Example:

    >>> print_summary(dict(pipeline_ratio=23.94, training_examples_per_s="1234"), "{:.3g}")
    summary: pipeline_ratio=23.9 training_examples_per_s=1234
    """
    print(summary_line(pairs, fmt))

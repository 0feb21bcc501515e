"""Argument checks shared by the callbacks and schedules (private)."""

import numbers


def is_int(value):
    """Whether `value` is an integer (Python or NumPy), booleans excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a real number (Python or NumPy), booleans excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require(condition, message, **received):
    """Raises `ValueError("<message> Received: name=value")` unless `condition`.

    Example:

    >>> require(steps > 0, "`steps` must be > 0.", steps=steps)
    """
    if not condition:
        values = ", ".join(f"{name}={value!r}" for name, value in received.items())
        raise ValueError(f"{message} Received: {values}")

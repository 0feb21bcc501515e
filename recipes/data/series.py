"""Time series: the demo CO2 series and next-step examples from lagged values.

Demo series. `demo_series()` is the weekly concentration of atmospheric CO2 measured at
Mauna Loa Observatory, Hawaii, from March 1958 to December 2001 (2,284 weeks, in parts
per million; Keeling and Whorf, public domain), as shipped with statsmodels
(`statsmodels.datasets.co2`). It is real measurement data that installs with a
well-kept PyPI package, so the regression recipe runs without a network, and it has
what next-step forecasting from lagged values should learn: a steady rising trend plus
a yearly cycle, which the default lags (1, 7, 28 and 56 weeks) reach across. The 59
missing weeks are filled by linear interpolation in time.
"""

import numpy as np

LAGS = (1, 7, 28, 56)


def lag_features(series, lags=LAGS):
    """Turns a series into next-step examples: `x[t] = [series[t - l] for l in lags]`,
    `y[t] = series[t]`, for every `t` with all its lags inside the series.

    Args:
        series: a 1-D array of finite numbers, oldest first.
        lags: positive steps back to read. Defaults to `(1, 7, 28, 56)`.

    Returns:
        A tuple `(x, y)`: float32 arrays of shapes `(n, len(lags))` and `(n,)`, in time
        order, with `n = len(series) - max(lags)`.

    Example:

    >>> x, y = recipes.data.lag_features(np.arange(10.0), lags=(1, 3))
    >>> x[0], y[0]
    (array([2., 0.], dtype=float32), 3.0)
    """
    series = np.asarray(series, "float32")
    if series.ndim != 1 or not np.all(np.isfinite(series)):
        raise ValueError(
            f"series must be 1-D and finite. Received: shape {series.shape}, "
            f"{int(np.sum(~np.isfinite(series)))} non-finite values"
        )
    lags = tuple(lags)
    if not lags or not all(isinstance(l, (int, np.integer)) and l > 0 for l in lags):
        raise ValueError(f"lags must be positive integers. Received: lags={lags}")
    start = max(lags)
    if len(series) < start + 2:
        raise ValueError(
            f"The series is too short for lags={lags}: it needs at least max(lags) + 2 = "
            f"{start + 2} values (one example to train on, one to validate), got {len(series)}."
        )
    x = np.stack([series[start - l : len(series) - l] for l in lags], axis=1)
    return x, series[start:]


def demo_series(return_dates=False):
    """Weekly atmospheric CO2 at Mauna Loa, 1958-2001, in ppm (see the module docstring).

    Args:
        return_dates: also return the week dates. Defaults to `False`.

    Returns:
        A float32 array of 2,284 values, oldest first; with `return_dates`, a tuple
        `(values, dates)` with `dates` a `numpy.datetime64` array.

    Example:

    >>> co2 = recipes.data.demo_series()
    >>> co2.shape, round(float(co2[0]), 1)
    ((2284,), 316.1)
    """
    from statsmodels.datasets import co2  # Imported here: statsmodels is slow to import.

    frame = co2.load_pandas().data
    values = frame["co2"].interpolate(method="time").to_numpy("float32")
    if return_dates:
        return values, frame.index.to_numpy()
    return values

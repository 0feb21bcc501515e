"""
Title: From a line to a deep network, on a real time series
Description: The lecture's progression (linear, more lags, sum of hard sigmoids, deep ReLU)
on the weekly Mauna Loa CO2 series, as one table of training vs validation loss.

Run: `python examples/regression.py`
"""

from recipes import regression

regression.compare(epochs=100)

"""
Title: A table with a text column, in one call
Description: The `tabular` task on the Grunfeld investment data (statsmodels): the task is
chosen from the target, each column encoded inside the model, the export takes raw rows.

Run: `python examples/tabular.py`
"""

import tensorflow as tf
from statsmodels.datasets import grunfeld

from recipes import tabular

frame = grunfeld.load_pandas().data  # invest, value, capital, firm (text), year
result = tabular.train(frame=frame, target="invest", verbose=0)
print("test:", result.test_metrics)  # invest is a number: regression, MAE in its units
print(result.diagnosis)

# The SavedModel takes one named input per raw column, text as strings.
served = tf.saved_model.load(result.export("out/grunfeld"))
row = {"value": [1362.4], "capital": [53.8], "firm": ["General Motors"], "year": [1940.0]}
print("predicted invest:", served.serve({k: tf.constant(v) for k, v in row.items()})["prediction"].numpy())

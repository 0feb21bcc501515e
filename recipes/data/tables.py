"""Tables: a CSV file read into arrays, with every bad value reported by line number.

Written here by hand because no well-kept reader reports every non-finite value of a
table at once, by line and column.
"""

import csv
import math

import numpy as np


def from_csv(path, target, features=None):
    """Reads a numeric CSV table with a header row into arrays.

    Every value of the chosen columns must be a finite number. Problems are reported
    together, by file line number (the header is line 1).

    Args:
        path: path of the CSV file.
        target: name of the column to predict.
        features: names of the input columns. Defaults to `None`: every column but
            `target`, in file order.

    Returns:
        A tuple `(x, y, feature_names)`: `x` float32 of shape `(rows, features)`, `y`
        float32 of shape `(rows,)` (cast it for class ids), `feature_names` a list.

    Example:

    >>> x, y, names = recipes.data.from_csv("houses.csv", target="price")
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = [(reader.line_num, row) for row in reader if row]
    if not header:
        raise ValueError(f"{path} is empty: expected a header row of column names.")
    header = [h.strip() for h in header]
    if not rows:
        raise ValueError(f"{path} has a header but no data rows.")
    if features is None:
        features = [h for h in header if h != target]
    features = list(features)
    for column in [target, *features]:
        if column not in header:
            raise ValueError(
                f"Column {column!r} is not in {path}. Available columns: {header}. "
                f"Received: target={target!r}, features={features}"
            )
    if target in features:
        raise ValueError(
            f"The target {target!r} cannot also be a feature. Received: features={features}"
        )

    columns = [header.index(c) for c in [*features, target]]
    values = np.empty((len(rows), len(columns)), np.float64)
    problems = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(row)} values, but the header has {len(header)}."
            )
        for c, j in enumerate(columns):
            text = row[j].strip()
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is None:
                kind = "missing (NaN)" if text == "" else f"non-numeric value {text!r}"
            elif math.isnan(value):
                kind = "NaN"
            elif math.isinf(value):
                kind = "infinite value"
            else:
                values[r, c] = value
                continue
            problems.append(f"line {line}, column {header[j]!r}: {kind}")
    if problems:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(
            f"{path} has values that are not finite numbers ({len(problems)}): "
            + "; ".join(problems[:10]) + more + ". Fix or drop these rows."
        )
    return values[:, :-1].astype("float32"), values[:, -1].astype("float32"), features

"""Tables: CSV files and pandas DataFrames, read with pandas, every bad value reported by
its line.

    from recipes import data
    x, y, names = data.from_csv("series.csv", target="price")       # numbers only
    splits = data.load_table(csv="houses.csv", target="price")      # any columns

`from_csv` reads a numeric table into arrays (the `regression` recipe's series).
`load_table` reads any table for the `tabular` recipe: each column is a number, a small
set of integers (categories) or text, and the task is chosen from the target column:
text, booleans or integers with few distinct values mean classification, other numbers
regression (`task=` overrides). Rows are shuffled into a seeded train / validation /
test split (`recipes.data.splits.split_mask`), never taken in file order.

pandas parses the file (quoting, separators, encodings); the checks are written here,
because pandas turns a stray word in a numeric column into a text column and a missing
number into NaN without a word. Every such value is reported at once, by file line (the
header is line 1) or by DataFrame row: a missing or non-numeric value in a numeric column
is an error; a missing text value is a category of its own (`""`).
"""

import dataclasses

import numpy as np
import pandas as pd
import tensorflow as tf

from recipes.data.splits import Splits, split_mask

TASKS = ("classification", "regression")
# Integer targets with at most this many distinct values are class ids.
MAX_CLASSES = 20
# Integer feature columns with at most this many distinct values are categories.
MAX_INT_CATEGORIES = 10
# Text feature columns with more distinct values than this are hashed.
MAX_TEXT_CATEGORIES = 100


@dataclasses.dataclass(frozen=True)
class TableSplits(Splits):
    """`Splits` of a table: inputs are dicts of columns.

    Attributes:
        target: the column predicted.
        task: `"classification"` or `"regression"`.
        columns: `{name: kind}` of the input columns, kind one of `"number"`,
            `"integer_category"`, `"text"` (in file order).
    """

    target: str = ""
    task: str = "regression"
    columns: dict = dataclasses.field(default_factory=dict)


def read_csv(path):
    """Reads a CSV file with a header row as text, indexed by file line number.

    Blank lines are dropped (their numbers skipped); every value is a stripped string
    (`""` where missing), so that no value is guessed or lost.
    """
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False,
            skipinitialspace=True,
        )
    except FileNotFoundError:
        raise ValueError(f"No such CSV file: {path}. Received: csv={str(path)!r}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header row of column names.") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"{path} is not a well-formed CSV table: {e}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = frame.index + 2  # line 1 is the header
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame[(frame != "").any(axis=1)]
    if frame.empty:
        raise ValueError(f"{path} has a header but no data rows.")
    return frame


def _numbers(column):
    """The column as float64 (NaN where missing or not a number) and the problems:
    `[(line, kind)]` for missing, non-numeric, NaN and infinite values."""
    text = column.astype(str)
    values = pd.to_numeric(text, errors="coerce").to_numpy("float64")
    problems = []
    for line, raw, value in zip(column.index, text, values):
        if np.isfinite(value):
            continue
        if raw == "" or column.isna().get(line, False):
            kind = "missing (NaN)"
        elif raw.lower() in ("nan", "-nan", "+nan"):
            kind = "NaN"
        elif np.isinf(value):
            kind = "infinite value"
        else:
            kind = f"non-numeric value {raw!r}"
        problems.append((line, kind))
    return values, problems


def _report(source, problems, where):
    if problems:
        listed = "; ".join(f"{where} {line}, column {name!r}: {kind}"
                           for line, name, kind in problems[:10])
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(
            f"{source} has values that are not finite numbers ({len(problems)}): "
            f"{listed}{more}. Fix or drop these rows."
        )


def _check_columns(source, frame, target, features):
    header = list(frame.columns)
    for column in [target, *features]:
        if column not in header:
            raise ValueError(
                f"Column {column!r} is not in {source}. Available columns: {header}. "
                f"Received: target={target!r}, features={features}"
            )
    if target in features:
        raise ValueError(
            f"The target {target!r} cannot also be a feature. Received: features={features}"
        )


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
    frame = read_csv(path)
    features = [h for h in frame.columns if h != target] if features is None else list(features)
    _check_columns(path, frame, target, features)
    columns, problems = [], []
    for name in [*features, target]:
        values, bad = _numbers(frame[name])
        columns.append(values)
        problems += [(line, name, kind) for line, kind in bad]
    _report(path, sorted(problems, key=lambda p: p[0]), "line")
    values = np.stack(columns, axis=1)
    return values[:, :-1].astype("float32"), values[:, -1].astype("float32"), features


def load_table(
    csv=None,
    frame=None,
    *,
    target,
    task=None,
    features=None,
    validation_split=0.15,
    test_split=0.15,
    seed=42,
    limit=None,
):
    """Reads a CSV file or a DataFrame into seeded, shuffled train / validation / test
    splits of `(dict of columns, target)`.

    Args:
        csv: path of a CSV file with a header row. Defaults to `None`.
        frame: a `pandas.DataFrame` instead of `csv`. Defaults to `None`.
        target: the column to predict.
        task: `"classification"` or `"regression"`. Defaults to `None`: text or
            boolean targets, and integers with at most 20 distinct values, are
            classes; other numbers regression.
        features: the input columns. Defaults to `None` (every other column).
        validation_split: fraction of the rows left after the test split, for
            validation. Defaults to `0.15`.
        test_split: fraction of the rows for the final test. Defaults to `0.15`.
        seed: seed of the split. Defaults to `42`.
        limit: keep only the first `limit` rows. Defaults to `None` (all).

    Returns:
        A `TableSplits`: numbers as float32, integer categories as int64 and text as
        strings; class ids (int64, in the order of `class_names`) or float32 targets.

    Example:

    >>> splits = recipes.data.load_table(csv="houses.csv", target="price")
    >>> splits.task, splits.columns
    ('regression', {'rooms': 'integer_category', 'area': 'number', 'town': 'text'})
    """
    if (csv is None) == (frame is None):
        raise ValueError("Give a table as csv= (a file) or frame= (a pandas DataFrame), one of them.")
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}. Received: task={task!r}")
    if csv is not None:
        source, where, table = str(csv), "line", read_csv(csv)
    else:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"frame must be a pandas DataFrame. Received: {type(frame).__name__}")
        source, where = "the DataFrame", "row"
        table = frame.copy()
        table.columns = [str(c) for c in table.columns]
        if table.empty:
            raise ValueError("The DataFrame has no rows.")
    if limit is not None:
        table = table.iloc[:limit]
    features = [c for c in table.columns if c != target] if features is None else list(features)
    _check_columns(source, table, target, features)
    if not features:
        raise ValueError(f"{source} has no column besides the target {target!r} to learn from.")

    problems, columns, inputs = [], {}, {}
    for name in features:
        kind, values, bad = _column(table[name])
        columns[name], inputs[name] = kind, values
        problems += [(line, name, what) for line, what in bad]
    y, task, class_names, bad = _target(table[target], task)
    problems += [(line, target, what) for line, what in bad]
    _report(source, sorted(problems, key=lambda p: p[0]), where)

    n = len(table)
    test = split_mask(n, test_split, seed)
    validation = np.zeros(n, bool)
    validation[~test] = split_mask(int((~test).sum()), validation_split, seed + 1)
    train = ~(test | validation)
    if train.sum() < 1 or (task == "classification" and len(np.unique(y[train])) < 2):
        raise ValueError(
            f"{source} has {n} rows: too few to split {validation_split:.0%} for "
            f"validation and {test_split:.0%} for the test and still train on two classes."
        )

    def part(mask):
        if not mask.any():
            return None
        # Sorted by name, the order FeatureSpace gives the model's inputs.
        x = {name: inputs[name][mask] for name in sorted(inputs)}
        return tf.data.Dataset.from_tensor_slices((x, y[mask]))

    name = str(csv).rsplit("/", 1)[-1] if csv is not None else "frame"
    return TableSplits(
        name=name,
        train=part(train),
        validation=part(validation),
        test=part(test),
        input_shape=(len(features),),
        num_classes=len(class_names) if task == "classification" else None,
        class_names=class_names,
        train_size=int(train.sum()),
        validation_size=int(validation.sum()),
        test_size=int(test.sum()),
        target=target,
        task=task,
        columns=columns,
    )


def _text_or_numbers(column):
    """`(text, values, problems)` of a column that is not boolean: `text` (stripped
    strings, `""` where missing) when it holds text, else `None` and its numbers. A column
    of strings is text unless nearly every value (90%) is a number: then the others are
    typos, reported as problems."""
    if pd.api.types.is_numeric_dtype(column):
        return (None, *_numbers(column))
    text = column.fillna("").astype(str).str.strip()
    values, problems = _numbers(text)
    filled = (text != "").to_numpy()
    if not filled.any() or np.isfinite(values[filled]).mean() < 0.9:
        return text, None, []
    return None, values, problems


def _column(column):
    """(kind, values, problems) of a feature column; see `load_table`."""
    if pd.api.types.is_bool_dtype(column):
        return "integer_category", column.to_numpy("int64"), []
    text, values, problems = _text_or_numbers(column)
    if text is not None:
        return "text", text.to_numpy(object).astype(str), []
    if problems:
        return "number", values, problems
    distinct = np.unique(values)
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_INT_CATEGORIES:
        return "integer_category", values.astype("int64"), []
    return "number", values.astype("float32"), []


def _target(column, task):
    """(y, task, class_names, problems) of the target column."""
    if pd.api.types.is_bool_dtype(column):
        text, values, problems = None, column.to_numpy("float64"), []
        task = task or "classification"
    else:
        text, values, problems = _text_or_numbers(column)
    if text is not None:  # a text target: a missing class is a problem
        problems = [(line, "missing") for line, v in zip(text.index, text) if v == ""]
        if task == "regression":
            raise ValueError(f"The target {column.name!r} holds text: it cannot be regressed.")
        task = "classification"
        names = tuple(sorted(set(text) - {""}))
        ids = {name: i for i, name in enumerate(names)}
        y = np.array([ids.get(v, -1) for v in text], "int64")
    else:
        finite = values[np.isfinite(values)]
        distinct = np.unique(finite)
        if task is None:
            whole = np.all(distinct == np.round(distinct))
            task = "classification" if whole and len(distinct) <= MAX_CLASSES else "regression"
        if task == "classification":
            names = tuple(_number_name(v) for v in distinct)
            y = np.searchsorted(distinct, np.nan_to_num(values)).astype("int64")
        else:
            names = ()
            y = values.astype("float32")
    if not problems:
        count = len(names) if task == "classification" else len(np.unique(y))
        if count < 2:
            raise ValueError(
                f"The target {column.name!r} has one value only ({column.iloc[0]!r}): "
                "there is nothing to learn. Choose another target column."
            )
    return y, task, names, problems


def _number_name(value):
    return str(int(value)) if float(value).is_integer() else str(value)

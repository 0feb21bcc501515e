"""Tables: CSV files and pandas DataFrames as they come, read with pandas.

    from recipes import data
    x, y, names = data.from_csv("series.csv", target="price")       # numbers only
    splits = data.load_table(csv="houses.csv", target="price")      # any columns

`from_csv` reads a numeric table into arrays (the `regression` recipe's series).
`load_table` reads any table for the `tabular` recipe: each column is a number, a small
set of integers (categories) or text, and the task is chosen from the target column:
text, booleans or integers with few distinct values mean classification, other numbers
regression (`task=` overrides). Rows are shuffled into a seeded train / validation /
test split (`recipes.data.splits.split_mask`), never taken in file order.

pandas parses the file (quoting, separators, encodings); what real tables hold is
handled here:

- a missing number (an empty field, `NA`, `NaN`) is data: it stays NaN, and the model
  fills it with the training median and flags it (`layers.FillMissing`); a missing text
  is a category of its own (`""`);
- a row without a target is left out, with a note; a target with one value, or none, is
  an error;
- a column missing in more than 95% of the rows, a constant column, and a column that
  only identifies rows (strictly increasing integers, or text unique in every row, in a
  table of more than 50 rows) are left out, with a note, unless named in `keep`;
- any column name works: each column gets an input name of letters, digits and `_`
  (`input_names`), unique, stable for the same header, and reported when it differs;
- a stray word in a mostly numeric column (a typo, `1O` for `10`) and an infinite value
  are errors naming the file line (the header is line 1) or the DataFrame row, all at
  once: pandas would silently turn the column into text.

`from_csv` (the `regression` recipe's series) stays strict: every value must be a number.
"""

import dataclasses
import re
import shlex
import unicodedata

import numpy as np
import pandas as pd
import tensorflow as tf

from recipes.data.splits import Splits, split_mask

TASKS = ("classification", "regression")
# Integer targets with at most this many distinct values are class ids.
MAX_CLASSES = 20
# Integer feature columns with at most this many distinct values are categories.
MAX_INT_CATEGORIES = 10
# Text feature columns keep at most this many values (the most frequent); the others
# share one "other" category.
MAX_TEXT_CATEGORIES = 100
# A column missing in more than this fraction of the rows is left out.
MAX_MISSING = 0.95
# Columns that only identify rows are looked for in tables with more rows than this.
MIN_ROWS_FOR_IDS = 50
# Numbers are summarised by this many quantiles of the training split, from which the
# model takes its bin edges (`TableSplits.edges`).
QUANTILES = 256


@dataclasses.dataclass(frozen=True)
class TableSplits(Splits):
    """`Splits` of a table: inputs are dicts of columns.

    Attributes:
        target: the column predicted.
        task: `"classification"` or `"regression"`.
        columns: `{input name: kind}` of the input columns (in file order), kind one
            of `"number"`, `"integer_category"`, `"text"`. Input names are the keys of
            the datasets' dicts, of the model's inputs and of an export's `serve`.
        sources: `{input name: column}`: the table's column each input reads.
        stats: `{input name: dict}` from the training split only: for numbers and
            integer categories `fill` (the median), `missing` (whether any value is
            missing) and `quantiles` (or `values`, the distinct integers); for text
            `vocabulary` (the values kept, most frequent first).
        left_out: `{column: reason}` of the columns that are not inputs.
    """

    target: str = ""
    task: str = "regression"
    columns: dict = dataclasses.field(default_factory=dict)
    sources: dict = dataclasses.field(default_factory=dict)
    stats: dict = dataclasses.field(default_factory=dict)
    left_out: dict = dataclasses.field(default_factory=dict)

    def edges(self, name, bins):
        """Increasing bin edges for the number input `name`: `bins + 1` quantiles of
        the training values (fewer where they repeat), or the distinct values of an
        integer category; always at least two."""
        stats = self.stats[name]
        if "values" in stats:
            edges = np.asarray(stats["values"], "float64")
        else:
            q = np.asarray(stats["quantiles"], "float64")
            edges = np.unique(q[np.round(np.linspace(0, len(q) - 1, bins + 1)).astype(int)])
        edges = edges[np.isfinite(edges)]
        if len(edges) < 2:
            low = edges[0] if len(edges) else 0.0
            edges = np.array([low, low + 1.0])
        return edges.tolist()


def read_csv(path, text=True):
    """Reads a CSV file with a header row, indexed by file line number.

    Blank lines are dropped (their numbers skipped). With `text=True` every value is a
    stripped string (`""` where missing), so that no value is guessed or lost; with
    `text=False` pandas reads numbers as numbers (NaN where missing: empty, `NA`, `NaN`
    ...) and strips the text, which is lighter for a large table.
    """
    options = dict(dtype=str, keep_default_na=False) if text else {}
    try:
        frame = pd.read_csv(path, skip_blank_lines=False, skipinitialspace=True, **options)
    except FileNotFoundError:
        raise ValueError(f"No such CSV file: {path}. Received: csv={str(path)!r}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header row of column names.") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"{path} is not a well-formed CSV table: {e}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = frame.index + 2  # line 1 is the header
    if text:
        frame = frame.apply(lambda column: column.str.strip())
        frame = frame[(frame != "").any(axis=1)]
    else:
        for name in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
                frame[name] = frame[name].astype(str).str.strip().where(frame[name].notna())
                frame.loc[frame[name] == "", name] = np.nan
        frame = frame.dropna(how="all")
    if frame.empty:
        raise ValueError(f"{path} has a header but no data rows.")
    return frame


def _numbers(column):
    """The column as float64 (NaN where missing or not a number) and the problems:
    `[(line, kind)]` for missing, non-numeric, NaN and infinite values."""
    values, missing = _parse(column)
    return values, _problems(column, values, missing)


def _parse(column):
    """`(values, missing)`: the column as float64, NaN where it is not a finite
    number, and where it is empty or NaN to begin with; vectorised."""
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy("float64", na_value=np.nan)
        missing = np.isnan(values)
    else:
        text = column.astype(str).str.strip()
        missing = column.isna().to_numpy() | (text == "").to_numpy()
        values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy("float64")
    values = np.where(np.isinf(values), np.nan, values) if np.isinf(values).any() else values
    return values, missing


def _problems(column, values, missing):
    """`[(line, kind)]` of the values of `column` that are not finite numbers: read
    one by one, but only those."""
    problems = []
    for i in np.flatnonzero(~np.isfinite(values)):
        raw = str(column.iloc[i]).strip()
        if missing[i]:
            kind = "missing (NaN)"
        elif raw.lower() in ("nan", "-nan", "+nan"):
            kind = "NaN"
        elif raw.lower().lstrip("+-") in ("inf", "infinity"):
            kind = "infinite value"
        else:
            kind = f"non-numeric value {raw!r}"
        problems.append((column.index[i], kind))
    return problems


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
    keep=(),
    validation_split=0.15,
    test_split=0.15,
    seed=42,
    limit=None,
):
    """Reads a CSV file or a DataFrame as it comes into seeded, shuffled train /
    validation / test splits of `(dict of columns, target)`.

    Missing numbers stay NaN (the model fills and flags them), missing text is `""`,
    rows without a target are left out, and columns that are nearly empty, constant or
    only identify rows are left out unless named in `keep`; see the module docstring.
    Everything left out or renamed is said in the splits' `notes`.

    Args:
        csv: path of a CSV file with a header row. Defaults to `None`.
        frame: a `pandas.DataFrame` instead of `csv`. Defaults to `None`.
        target: the column to predict.
        task: `"classification"` or `"regression"`. Defaults to `None`: text or
            boolean targets, and integers with at most 20 distinct values, are
            classes; other numbers regression.
        features: the input columns. Defaults to `None` (every other column, less
            those left out).
        keep: columns to use as inputs even when they look like row identifiers,
            constant or nearly empty. Defaults to `()`.
        validation_split: fraction of the rows left after the test split, for
            validation. Defaults to `0.15`.
        test_split: fraction of the rows for the final test. Defaults to `0.15`.
        seed: seed of the split. Defaults to `42`.
        limit: keep only the first `limit` rows. Defaults to `None` (all).

    Returns:
        A `TableSplits`: numbers and integer categories as float32 (NaN where
        missing), text as strings; class ids (int64, in the order of `class_names`)
        or float32 targets.

    Example:

    >>> splits = recipes.data.load_table(csv="houses.csv", target="price")
    >>> splits.task, splits.columns
    ('regression', {'rooms': 'integer_category', 'area': 'number', 'town': 'text'})
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}. Received: task={task!r}")
    source, where, table = _read_table(csv, frame, limit)
    keep = [keep] if isinstance(keep, str) else list(keep)
    given = features is not None
    features = [c for c in table.columns if c != target] if features is None else list(features)
    _check_columns(source, table, target, features + [c for c in keep if c not in features])

    y, task, class_names, problems = _target(table[target], task)
    known, notes = _rows_with_a_target(source, table[target], y, task, class_names, problems)
    kinds, values, left_out = _features(table, features, keep, given, problems)
    _report(source, sorted(problems, key=lambda p: p[0]), where)
    notes += [f"left out column {column!r}: {reason}; to use it: "
              f"--keep {shlex.quote(column)} (keep=[{column!r}])"
              for column, reason in left_out.items()]
    if not kinds:
        raise ValueError(f"{source} has no column besides the target {target!r} to learn from"
                         + (f" (left out: {left_out})." if left_out else "."))
    names = input_names(kinds)
    renamed = {c: n for c, n in names.items() if c != n}
    if renamed:
        notes.append("input names for the model and its export (column -> input): "
                     + ", ".join(f"{c!r} -> {n!r}" for c, n in renamed.items()))

    y, values = y[known], {c: v[known] for c, v in values.items()}
    train, validation, test = _split_rows(source, y, task, validation_split, test_split, seed)
    stats = {names[c]: _stats(kind, values[c][train]) for c, kind in kinds.items()}
    notes += _gaps_note(kinds, values)

    def part(mask):
        if not mask.any():
            return None
        x = {names[c]: v[mask] for c, v in values.items()}
        return tf.data.Dataset.from_tensor_slices((x, y[mask]))

    return TableSplits(
        name=str(csv).rsplit("/", 1)[-1] if csv is not None else "frame",
        train=part(train),
        validation=part(validation),
        test=part(test),
        input_shape=(len(kinds),),
        num_classes=len(class_names) if task == "classification" else None,
        class_names=class_names,
        train_size=int(train.sum()),
        validation_size=int(validation.sum()),
        test_size=int(test.sum()),
        notes=tuple(notes),
        target=target,
        task=task,
        columns={names[c]: k for c, k in kinds.items()},
        sources={n: c for c, n in names.items()},
        stats=stats,
        left_out=left_out,
    )


def _read_table(csv, frame, limit):
    """`(source, where, table)`: the table read from `csv` or copied from `frame`, its
    first `limit` rows, with the words errors use for it and for a place in it."""
    if (csv is None) == (frame is None):
        raise ValueError("Give a table as csv= (a file) or frame= (a pandas DataFrame), one of them.")
    if csv is not None:
        source, where, table = str(csv), "line", read_csv(csv, text=False)
    else:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"frame must be a pandas DataFrame. Received: {type(frame).__name__}")
        source, where = "the DataFrame", "row"
        table = frame.copy()
        table.columns = [str(c) for c in table.columns]
        if table.empty:
            raise ValueError("The DataFrame has no rows.")
    return source, where, table if limit is None else table.iloc[:limit]


def _rows_with_a_target(source, column, y, task, class_names, problems):
    """`(known, notes)`: the mask of rows with a target, and a note on those without;
    an error when no row has one or the target has a single value."""
    known = _known_targets(y, task)
    notes = []
    if not known.all():
        if not known.any():
            raise ValueError(f"The target {column.name!r} is missing in every row of {source}.")
        notes.append(f"left out {int((~known).sum())} of {len(y)} rows without a target "
                     f"{column.name!r}")
    count = len(class_names) if task == "classification" else len(np.unique(y[known]))
    if count < 2 and not problems:
        raise ValueError(
            f"The target {column.name!r} has one value only ({column[known].iloc[0]!r}): "
            "there is nothing to learn. Choose another target column."
        )
    return known, notes


def _features(table, features, keep, given, problems):
    """`(kinds, values, left_out)` of the feature columns: each column's kind and
    values, and the reason for each column left out (none when `features` were given or
    the column is in `keep`). Bad values are added to `problems`."""
    kinds, values, left_out = {}, {}, {}
    for column in features:
        kind, column_values, bad = _column(table[column])
        problems += [(line, column, what) for line, what in bad]
        reason = None if (given or column in keep) else _leave_out(kind, column_values, len(table))
        if reason:
            left_out[column] = reason
        else:
            kinds[column], values[column] = kind, column_values
    return kinds, values, left_out


def _split_rows(source, y, task, validation_split, test_split, seed):
    """`(train, validation, test)` masks over the rows: the seeded test split first,
    then validation from the rest; an error when too few rows are left to train on."""
    n = len(y)
    test = split_mask(n, test_split, seed)
    validation = np.zeros(n, bool)
    validation[~test] = split_mask(int((~test).sum()), validation_split, seed + 1)
    train = ~(test | validation)
    if train.sum() < 1 or (task == "classification" and len(np.unique(y[train])) < 2):
        raise ValueError(
            f"{source} has {n} rows with a target: too few to split {validation_split:.0%} "
            f"for validation and {test_split:.0%} for the test and still train on two classes."
        )
    return train, validation, test


def _gaps_note(kinds, values):
    """A note on the missing numbers (filled inside the model), or none."""
    missing = {}
    for column, kind in kinds.items():
        gaps = 0 if kind == "text" else int(np.isnan(values[column]).sum())
        if gaps:
            missing[column] = gaps
    if not missing:
        return []
    return [f"{sum(missing.values())} missing numbers in {len(missing)} column(s) "
            "are filled inside the model with the training median, beside a "
            "missing-value indicator: "
            + ", ".join(f"{c!r} ({k})" for c, k in missing.items())]


def input_names(columns):
    """`{column: input name}`: each column name as letters, digits and `_` (accents
    dropped, other characters `_`, a leading digit prefixed with `c_`), made unique
    (case aside) by `_2`, `_3` ... in column order, so the same header always gives the
    same names.

    Example:

    >>> input_names(["od280/od315", "Age", "age", "2nd try"])
    {'od280/od315': 'od280_od315', 'Age': 'Age', 'age': 'age_2', '2nd try': 'c_2nd_try'}
    """
    names, seen = {}, set()
    for column in columns:
        spelled = str(column).translate(_LETTERS)
        ascii_name = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
        base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)).strip("_") or "column"
        base = base if base[0].isalpha() else f"c_{base}"
        name, i = base, 2
        while name.lower() in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name.lower())
        names[column] = name
    return names


# Letters that accents-stripping (NFKD) would drop rather than spell.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                          "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th"})


def _leave_out(kind, values, rows):
    """Why a feature column is not an input by default, or `None`."""
    if kind == "text":
        counts = pd.Series(values).value_counts()
        filled = len(values) - counts.get("", 0)
        missing = 1 - filled / len(values)
        distinct = len(counts)
        identifies = rows > MIN_ROWS_FOR_IDS and filled == len(values) and distinct == rows
    else:
        finite = values[~np.isnan(values)]
        missing = 1 - len(finite) / len(values)
        distinct = len(np.unique(finite)) + (missing > 0)
        identifies = (rows > MIN_ROWS_FOR_IDS and missing == 0
                      and np.all(finite == np.round(finite)) and np.all(np.diff(finite) > 0))
    if missing > MAX_MISSING:
        return f"missing in {missing:.0%} of the rows"
    if distinct < 2:
        return "the same value in every row"
    if identifies:
        what = "strictly increasing integers" if kind != "text" else "a different text in every row"
        return f"it only identifies rows ({what})"
    return None


def _stats(kind, values):
    """What the model's encoding of one input needs, from the training rows only."""
    if kind == "text":
        counts = pd.Series(values).value_counts()  # most frequent first
        if len(counts) > MAX_TEXT_CATEGORIES:  # the most frequent, seen at least twice
            counts = counts[counts > 1].iloc[:MAX_TEXT_CATEGORIES]
        return {"vocabulary": [str(v) for v in counts.index]}
    finite = values[~np.isnan(values)].astype("float64")
    stats = {"fill": float(np.median(finite)) if len(finite) else 0.0,
             "missing": bool(len(finite) < len(values))}
    if kind == "integer_category":
        stats["values"] = np.unique(finite).tolist()
    else:
        stats["quantiles"] = (np.quantile(finite, np.linspace(0, 1, QUANTILES + 1)).tolist()
                              if len(finite) else [0.0])
    return stats


def _known_targets(y, task):
    return y >= 0 if task == "classification" else np.isfinite(y)


def _text_or_numbers(column):
    """`(text, values, problems)` of a column that is not boolean: `text` (stripped
    strings, `""` where missing) when it holds text, else `None`, its numbers (NaN where
    missing) and the values that are neither (problems: typos, infinities; a gap is data,
    not a problem). A column of strings is text unless nearly every value (90%) is a
    number: then the others are typos."""
    numeric = pd.api.types.is_numeric_dtype(column)
    sample = None if numeric else column.dropna().iloc[:1000]
    if sample is not None and len(sample) and np.isfinite(_parse(sample)[0]).mean() < 0.5:
        return _text(column), None, []  # plainly text: no need to parse it all
    values, missing = _parse(column)
    if not numeric:
        filled = ~missing
        if not filled.any() or np.isfinite(values[filled]).mean() < 0.9:
            return _text(column), None, []
    bad = np.isnan(values) & ~missing
    if not bad.any():
        return None, values, []
    found = _problems(column, np.where(bad, np.nan, 0.0), missing)
    return None, values, [(line, kind) for line, kind in found if kind != "NaN"]


def _text(column):
    """Stripped strings, `""` where missing."""
    return column.astype(str).str.strip().where(column.notna(), "")


def _column(column):
    """(kind, values, problems) of a feature column; see `load_table`."""
    if pd.api.types.is_bool_dtype(column):
        return "integer_category", column.to_numpy("float32"), []
    text, values, problems = _text_or_numbers(column)
    if text is not None:
        return "text", text.to_numpy(object).astype(str), []
    values = np.where(np.isfinite(values), values, np.nan)
    distinct = np.unique(values[~np.isnan(values)])
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_INT_CATEGORIES:
        return "integer_category", values.astype("float32"), problems
    return "number", values.astype("float32"), problems


def _target(column, task):
    """(y, task, class_names, problems) of the target column; a missing target is -1
    (classes) or NaN (numbers)."""
    if pd.api.types.is_bool_dtype(column):
        text, values, problems = None, column.to_numpy("float64"), []
        task = task or "classification"
    else:
        text, values, problems = _text_or_numbers(column)
    if text is not None:
        if task == "regression":
            raise ValueError(f"The target {column.name!r} holds text: it cannot be regressed.")
        task = "classification"
        names = tuple(sorted(set(text) - {""}))
        y = pd.Categorical(text, categories=names).codes.astype("int64")  # "": -1
    else:
        values = np.where(np.isfinite(values), values, np.nan)
        distinct = np.unique(values[~np.isnan(values)])
        if task is None:
            whole = np.all(distinct == np.round(distinct))
            task = "classification" if whole and len(distinct) <= MAX_CLASSES else "regression"
        if task == "classification":
            names = tuple(_number_name(v) for v in distinct)
            y = np.where(np.isnan(values), -1,
                         np.searchsorted(distinct, np.nan_to_num(values))).astype("int64")
        else:
            names = ()
            y = values.astype("float32")
    return y, task, names, problems


def _number_name(value):
    return str(int(value)) if float(value).is_integer() else str(value)

"""Tables: files and pandas DataFrames as people export them, read with pandas.

    from recipes import data
    x, y, names = data.from_csv("series.csv", target="price")       # numbers only
    splits = data.load_table(csv="houses.csv", target="price")      # any columns

`from_csv` reads a numeric table into arrays (the `regression` recipe's series).
`load_table` reads any table for the `tabular` recipe and decides how each column is
read, by the rules of `recipes.data.reading` (one set for training and serving): numbers
(thousands separators and decimal commas included), booleans, dates (days since the
earliest, year, month, day of the week, hour) and text. The task is chosen from the
target column: text, booleans or integers with few distinct values mean classification,
other numbers regression (`task=` overrides). Rows are shuffled into a seeded train /
validation / test split (`recipes.data.splits.split_mask`), never taken in file order.

What real tables hold is handled here:

- the file's encoding (UTF-8, with or without a byte-order mark, or Windows-1252) and
  separator (comma, semicolon, tab, `|`) are detected, `.tsv`, `.xlsx` and `.parquet` read
  by their extension, with a note on what was guessed;
- a missing number (an empty field, `NA`, `NaN`) is data: it stays NaN, and the model
  fills it with the training median and flags it (`layers.FillMissing`); a missing text
  is a category of its own (`""`);
- a row without a target is left out, with a note; a target with one value, or none, is
  an error;
- a column missing in more than 95% of the rows, a constant column, and a column that
  only identifies rows are left out, with a note, unless named in `keep`. A column
  identifies rows when, in a table of more than 50 rows, it holds the integers 1 to n
  (or 0 to n - 1) in any order, or a different text in every row; or when, unique in
  every row, it is named like an index (`rownames`, `Unnamed: 0`, `id`, `index` ...).
  Other unique numbers (an income) are measurements and stay;
- any column name works: each column gets an input name of letters, digits and `_`
  (`input_names`), unique, stable for the same header, and reported when it differs;
- a stray word in a mostly numeric column (a typo, `1O` for `10`), an infinite value and
  a date of another form are errors naming the file line (the header is line 1) or the
  DataFrame row, all at once: pandas would silently turn the column into text.

`from_csv` (the `regression` recipe's series) stays strict: every value must be a number.
"""

import dataclasses
import keyword
import re
import shlex
import unicodedata

import numpy as np
import pandas as pd
import tensorflow as tf

from recipes.data import reading
from recipes.data.splits import Splits, split_mask

TASKS = ("classification", "regression")
# Integer targets with at most this many distinct values are class ids.
MAX_CLASSES = 20
# Integer feature columns with at most this many distinct values are categories.
MAX_INT_CATEGORIES = 10
# Text feature columns keep at most this many values (the most frequent; of a column with
# more, those seen at least twice); the others share one "other" category.
MAX_TEXT_CATEGORIES = 1000
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
        reading: how the input columns are read, a plain dict that the export stores
            and serving applies (`recipes.data.reading.read_inputs`): `file` (the
            training file's `encoding` and `sep`, or `None`), `missing` (the words read
            as a missing value) and `columns`, `{column: rule}` with each rule's input
            name (`input`, or `inputs` by part for a date).
    """

    target: str = ""
    task: str = "regression"
    columns: dict = dataclasses.field(default_factory=dict)
    sources: dict = dataclasses.field(default_factory=dict)
    stats: dict = dataclasses.field(default_factory=dict)
    left_out: dict = dataclasses.field(default_factory=dict)
    reading: dict = dataclasses.field(default_factory=dict)

    def edges(self, name, bins):
        """Increasing bin edges for the number input `name`: `bins + 1` quantiles of
        the training values (fewer where they repeat), or the distinct values of an
        integer category; always at least two."""
        stats = self.stats[name]
        if "values" in stats:
            edges = np.asarray(stats["values"], "float64")
        else:
            edges = np.unique(self._quantiles(name, bins))
        edges = edges[np.isfinite(edges)]
        if len(edges) < 2:
            low = edges[0] if len(edges) else 0.0
            edges = np.array([low, low + 1.0])
        return edges.tolist()

    def atoms(self, name, bins):
        """The values of the number input `name` on which two or more of the quantiles
        that `edges(name, bins)` merges fall: each holds at least one bin's share of the
        training values (a number that is often exactly 0), and one that holds well over
        two bins' share always is. Empty for an integer category, whose edges are its
        values."""
        if "values" in self.stats[name]:
            return []
        values, counts = np.unique(self._quantiles(name, bins), return_counts=True)
        return values[(counts > 1) & np.isfinite(values)].tolist()

    def _quantiles(self, name, bins):
        """`bins + 1` of the training quantiles of `name`, evenly spaced, repeats kept."""
        q = np.asarray(self.stats[name]["quantiles"], "float64")
        return q[np.round(np.linspace(0, len(q) - 1, bins + 1)).astype(int)]

    def robust_scale(self, name):
        """`(center, scale)` of the number input `name` from its training quantiles:
        the median, and the interquartile range / 1.349 (a normal distribution's
        standard deviation), else half the range where most values are one, else 1."""
        q = np.asarray(self.stats[name]["quantiles"], "float64")
        n = len(q) - 1
        scale = (q[3 * n // 4] - q[n // 4]) / 1.349
        if not scale > 0:
            scale = (q[-1] - q[0]) / 2
        if not scale > 0:
            scale = 1.0
        return float(q[n // 2]), float(scale)


def read_csv(path, text=True, encoding=None, sep=None):
    """Reads a table file with a header row, indexed by file line number (the header is
    line 1; spreadsheets: their row numbers), by the rules of `recipes.data.reading`: a
    `.csv` or `.tsv` in any common encoding and separator, an `.xlsx` or a `.parquet`.

    Blank lines are dropped (their numbers skipped). With `text=True` every field of a
    text file is the string written (`""` where empty), so that no value is guessed or
    lost; with `text=False` pandas reads plain numbers as numbers (NaN where missing),
    which is lighter for a large table. `encoding` and `sep` override what is detected.
    """
    return reading.read_file(path, text=text, encoding=encoding, sep=sep)[0]


def _strict_numbers(column):
    """`(values, problems)` of a column that must hold finite numbers only: float64 and
    `[(line, why)]` of the values that are missing, NaN, infinite or words."""
    rule = {"kind": "number", "style": "plain"}
    values, bad = reading.read_column(column, rule)
    found = []
    for i in np.flatnonzero(np.isnan(values)):
        raw = str(column.iloc[i]).strip()
        why = (reading.describe_bad(raw, rule) if bad[i]
               else "NaN" if raw.lower().lstrip("+-") == "nan" else "missing (NaN)")
        found.append((column.index[i], why))
    return values, found


def _check_columns(source, frame, target, features, sep=None):
    header = list(frame.columns)
    for column in [target, *features]:
        if column not in header:
            hint = ""
            if sep is not None and len(header) == 1:
                hint = (f" The file was read as one column with {sep!r} between fields: "
                        "give its separator with --sep (sep=).")
            raise ValueError(
                f"Column {column!r} is not in {source}. Available columns: {header}. "
                f"Received: target={target!r}, features={features}.{hint}"
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
    frame.columns = [str(c).strip() for c in frame.columns]
    features = [h for h in frame.columns if h != target] if features is None else list(features)
    _check_columns(path, frame, target, features)
    columns, problems = [], []
    for name in [*features, target]:
        values, bad = _strict_numbers(frame[name])
        columns.append(values)
        problems += [(line, name, kind) for line, kind in bad]
    reading.report(path, problems, "line")
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
    text=(),
    validation_split=0.15,
    test_split=0.15,
    seed=42,
    limit=None,
    encoding=None,
    sep=None,
):
    """Reads a table file or a DataFrame as it comes into seeded, shuffled train /
    validation / test splits of `(dict of columns, target)`.

    How each column is read (number, boolean, date, text; its missing-value words) is
    decided here, once, by the rules of `recipes.data.reading`, and kept in the splits'
    `reading`, which the export stores and serving applies. Missing numbers stay NaN (the
    model fills and flags them), missing text is `""`, rows without a target are left out,
    and columns that are nearly empty, constant or only identify rows are left out unless
    named in `keep`; see the module docstring. Everything left out, renamed or guessed
    (the encoding, the separator, dates) is said in the splits' `notes`.

    Args:
        csv: path of a table file with a header row: `.csv` (any common encoding and
            separator), `.tsv`, `.xlsx` or `.parquet`. Defaults to `None`.
        frame: a `pandas.DataFrame` instead of `csv`. Defaults to `None`.
        target: the column to predict.
        task: `"classification"` or `"regression"`. Defaults to `None`: text or
            boolean targets, and integers with at most 20 distinct values, are
            classes; other numbers regression.
        features: the input columns. Defaults to `None` (every other column, less
            those left out).
        keep: columns to use as inputs even when they look like row identifiers,
            constant or nearly empty. Defaults to `()`.
        text: columns to read as text whatever they hold (codes such as `136A` among
            numbers, ZIP codes). Defaults to `()`.
        validation_split: fraction of the rows left after the test split, for
            validation. Defaults to `0.15`.
        test_split: fraction of the rows for the final test. Defaults to `0.15`.
        seed: seed of the split. Defaults to `42`.
        limit: keep only the first `limit` rows. Defaults to `None` (all).
        encoding: the text encoding of `csv`. Defaults to `None` (detected: UTF-8,
            with or without a byte-order mark, else Windows-1252).
        sep: the field separator of `csv`, one character or `"tab"`. Defaults to
            `None` (sniffed: comma, semicolon, tab or `|`).

    Returns:
        A `TableSplits`: numbers, booleans and the parts of dates as float32 (NaN where
        missing), text as strings; class ids (int64, in the order of `class_names`) or
        float32 targets.

    Example:

    >>> splits = recipes.data.load_table(csv="houses.csv", target="price")
    >>> splits.task, splits.columns
    ('regression', {'rooms': 'integer_category', 'area': 'number', 'town': 'text'})
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}. Received: task={task!r}")
    source, where, table, form, notes = _read_table(csv, frame, limit, encoding, sep)
    keep = [keep] if isinstance(keep, str) else list(keep)
    text = [text] if isinstance(text, str) else list(text)
    given = features is not None
    features = [c for c in table.columns if c != target] if features is None else list(features)
    _check_columns(source, table, target,
                   features + [c for c in keep + text if c not in features], form.get("sep"))

    separator = form.get("sep", ",")
    y, task, class_names, (problems, count) = read_target(table[target], task, separator)
    known, more = _rows_with_a_target(source, table[target], y, task, class_names, problems)
    notes += more
    rules, values, left_out, (found, n) = _features(table, features, keep, text, given,
                                                    separator)
    codes = sorted({c for _, c, _ in found if c != target}, key=features.index)
    advice = {} if not codes else {"advice": (  # a column of codes among numbers is text
        f"Fix or drop these rows, or read a column of codes as text: --text "
        f"{' '.join(map(shlex.quote, codes))} (text={codes!r}).")}
    reading.report(source, problems + found, where, count + n, **advice)
    notes += [f"left out column {column!r}: {reason}; to use it: "
              f"--keep {shlex.quote(column)} (keep=[{column!r}])"
              for column, reason in left_out.items()]
    if not rules:
        raise ValueError(f"{source} has no column besides the target {target!r} to learn from"
                         + (f" (left out: {left_out})." if left_out else "."))
    rules, inputs, kinds, sources, more = _inputs(rules, values, separator)
    notes += more
    renamed = {c: r["input"] for c, r in rules.items() if "input" in r and r["input"] != c}
    if renamed:
        notes.append("input names for the model and its export (column -> input): "
                     + ", ".join(f"{c!r} -> {n!r}" for c, n in renamed.items()))

    y, inputs = y[known], {name: v[known] for name, v in inputs.items()}
    train, validation, test = _split_rows(source, y, task, validation_split, test_split, seed)
    stats = {name: _stats(kind, inputs[name][train]) for name, kind in kinds.items()}
    notes += _gaps_note(kinds, inputs, sources)

    def part(mask):
        if not mask.any():
            return None
        return tf.data.Dataset.from_tensor_slices(({n: v[mask] for n, v in inputs.items()},
                                                   y[mask]))

    file = {k: form[k] for k in ("encoding", "sep") if k in form} or None
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
        columns=kinds,
        sources=sources,
        stats=stats,
        left_out=left_out,
        reading={"file": file, "missing": list(reading.MISSING), "columns": rules},
    )


def _read_table(csv, frame, limit, encoding=None, sep=None):
    """`(source, where, table, form, notes)`: the table read from `csv` or copied from
    `frame`, its first `limit` rows, with the words errors use for it and for a place in
    it, how the file was read and notes on what was guessed."""
    if (csv is None) == (frame is None):
        raise ValueError("Give a table as csv= (a file) or frame= (a pandas DataFrame), one of them.")
    if csv is not None:
        table, form, notes = reading.read_file(csv, encoding=encoding, sep=sep)
        source, where = str(csv), form["where"]
    else:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"frame must be a pandas DataFrame. Received: {type(frame).__name__}")
        source, where, form, notes = "the DataFrame", "row", {}, []
        table = frame.copy()
        if table.empty:
            raise ValueError("The DataFrame has no rows.")
    table.columns = [str(c).strip() for c in table.columns]
    return source, where, table if limit is None else table.iloc[:limit], form, notes


def _rows_with_a_target(source, column, y, task, class_names, problems):
    """`(known, notes)`: the mask of rows with a target, and a note on those without;
    an error when no row has one or the target has a single value."""
    known = known_targets(y, task)
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


def _features(table, features, keep, text, given, sep):
    """`(rules, values, left_out, (problems, count))` of the feature columns: how each
    input column is read (`recipes.data.reading.decide`, text for those in `text`) and
    its values, the reason for each column left out (none when `features` were given or
    the column is in `keep`), and the values that cannot be read."""
    rules, values, left_out, problems, count = {}, {}, {}, [], 0
    for column in features:
        rule, column_values, bad = (reading.decide(table[column], sep) if column not in text
                                    else reading.read_as({"kind": "text"}, table[column]))
        listed, n = reading.problems(table[column], bad, rule, column)
        problems, count = problems + listed, count + n
        reason = (None if (given or column in keep)
                  else _leave_out(column, rule, column_values, len(table)))
        if reason:
            left_out[column] = reason
        else:
            rules[column], values[column] = rule, column_values
    return rules, values, left_out, (problems, count)


def _inputs(rules, values, sep=","):
    """`(rules, inputs, kinds, sources, notes)`: the rules with their input names, the
    model's inputs (`recipes.data.reading.inputs_of`, as serving makes them), the kind
    of each input, the column each reads and notes on dates and number styles (those
    the file's separator does not say: a decimal comma in a `;` file goes unsaid)."""
    parts, notes = {}, []
    labels = []
    for column, rule in rules.items():
        if rule["kind"] == "date":
            derived = reading.date_parts(values[column], rule)
            parts[column] = [p for p, v in derived.items() if len(np.unique(v[~np.isnan(v)])) > 1]
            labels += [f"{column} {p}" for p in parts[column]]
        else:
            labels.append(column)
    names = iter(_spell(labels))
    named = {}
    for column, rule in rules.items():
        if rule["kind"] == "date":
            named[column] = dict(rule, inputs={p: next(names) for p in parts[column]})
            constant = [p for p in reading.DATE_PARTS[:4] if p not in parts[column]]
            notes.append(
                f"read column {column!r} as dates ({rule['format']}): "
                + ", ".join(f"{n} ({_PART_WORDS[p].format(origin=rule['origin'])})"
                            for p, n in named[column]["inputs"].items())
                + (f"; the same {' and '.join(constant)} in every row" if constant else ""))
        else:
            named[column] = dict(rule, input=next(names))
            if rule.get("style") in _STYLE_WORDS and (sep, rule["style"]) != (";", "decimal_comma"):
                notes.append(f"read column {column!r} as numbers {_STYLE_WORDS[rule['style']]}")
            if rule.get("missing"):
                words = ", ".join(map(repr, rule["missing"]))
                notes.append(f"read {words} in number column {column!r} as missing")
    inputs, kinds, sources = {}, {}, {}
    for column, rule in named.items():
        for name, array in reading.inputs_of(rule, values[column]).items():
            inputs[name], sources[name] = array, column
            kinds[name] = "text" if rule["kind"] == "text" else _kind(array)
    return named, inputs, kinds, sources, notes


_PART_WORDS = {"days": "days since {origin}", "year": "year", "month": "month",
               "weekday": "day of the week, 0 is Monday", "hour": "hour"}
_STYLE_WORDS = {"thousands_comma": "with ',' between thousands",
                "decimal_comma": "with ',' before decimals"}


def _kind(values):
    """`"integer_category"` for whole numbers with at most `MAX_INT_CATEGORIES` values,
    else `"number"`."""
    distinct = np.unique(values[~np.isnan(values)])
    if np.all(distinct == np.round(distinct)) and len(distinct) <= MAX_INT_CATEGORIES:
        return "integer_category"
    return "number"


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


def _gaps_note(kinds, values, sources):
    """A note on the missing numbers (filled inside the model), or none."""
    missing = {}
    for name, kind in kinds.items():
        gaps = 0 if kind == "text" else int(np.isnan(values[name]).sum())
        if gaps:
            column = sources[name]
            missing[column] = max(missing.get(column, 0), gaps)
    if not missing:
        return []
    return [f"{sum(missing.values())} missing numbers in {len(missing)} column(s) "
            "are filled inside the model with the training median, beside a "
            "missing-value indicator: "
            + ", ".join(f"{c!r} ({k})" for c, k in missing.items())]


def input_names(columns):
    """`{column: input name}`: each column name as letters, digits and `_` (accents
    dropped, other characters `_`, a leading digit prefixed with `c_`, a Python keyword
    followed by `_`), made unique (case aside) by `_2`, `_3` ... in column order, so the
    same header always gives the same names.

    Example:

    >>> input_names(["x/y", "Age", "age", "2nd try", "class"])
    {'x/y': 'x_y', 'Age': 'Age', 'age': 'age_2', '2nd try': 'c_2nd_try', 'class': 'class_'}
    """
    columns = list(columns)
    return dict(zip(columns, _spell(columns)))


def _spell(labels):
    """`input_names` of a list of labels, as a list (labels may repeat)."""
    names, seen = [], set()
    for column in labels:
        spelled = str(column).translate(_LETTERS)
        ascii_name = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
        base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", ascii_name)).strip("_") or "column"
        base = base if base[0].isalpha() else f"c_{base}"
        # A Python keyword cannot name an argument of the export's `serve` signature.
        name, i = f"{base}_" if keyword.iskeyword(base) else base, 2
        while name.lower() in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name.lower())
        names.append(name)
    return names


# Letters that accents-stripping (NFKD) would drop rather than spell.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                          "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th"})


def _leave_out(name, rule, values, rows):
    """Why a feature column is not an input by default, or `None`: missing in nearly
    every row, one value, or only identifying rows (see the module docstring)."""
    kind = rule["kind"]
    if kind == "text":
        filled = values != ""
    elif kind == "date":
        filled = ~np.isnat(values)
    else:
        filled = ~np.isnan(values)
    missing = 1 - filled.mean()
    distinct = len(np.unique(values[filled])) + (missing > 0)
    if missing > MAX_MISSING:
        return f"missing in {missing:.0%} of the rows"
    if distinct < 2:
        return "the same value in every row"
    if missing > 0 or distinct < rows or kind in ("date", "boolean"):
        return None
    if rows > MIN_ROWS_FOR_IDS and kind == "text":
        return "it only identifies rows (a different text in every row)"
    low, high = (values.min(), values.max()) if kind == "number" else (None, None)
    if (rows > MIN_ROWS_FOR_IDS and kind == "number" and low in (0, 1) and high - low == rows - 1
            and np.all(values == np.round(values))):
        return f"it only identifies rows (the integers {low:.0f} to {high:.0f}, in any order)"
    if _INDEX_NAME.fullmatch(name.strip().lower()):
        return "it only identifies rows (named like an index, and unique)"
    return None


# Names of columns that number rows: R's and pandas' row names, readr's unnamed column.
_INDEX_NAME = re.compile(r"|id|idx|index|row|rowid|row_id|rowname|rownames|row\.names|row_names"
                         r"|unnamed: ?\d+|\.\.\.\d+")


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


def known_targets(y, task):
    """Where the targets `read_target` gives are known (not -1, not NaN)."""
    return y >= 0 if task == "classification" else np.isfinite(y)


def read_target(column, task, sep=","):
    """`(y, task, class_names, (problems, count))` of the target column, read as numbers
    or text (`recipes.data.reading.number_or_text`; booleans are text: `True`, `False`);
    a missing target is -1 (classes) or NaN (numbers). Training reads its target by it,
    and `predict` the target of rows it scores."""
    rule, values, bad = reading.number_or_text(column, sep)
    problems = reading.problems(column, bad, rule)
    if rule["kind"] == "text":
        if task == "regression":
            raise ValueError(f"The target {column.name!r} holds text: it cannot be regressed.")
        task = "classification"
        names = tuple(sorted(set(values) - {""}))
        y = pd.Index(names).get_indexer(values).astype("int64")  # "": -1
    else:
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

"""Reading rules for tables, one set for training and serving.

    from recipes.data import reading
    frame, form, notes = reading.read_file("houses.csv")       # encoding, separator sniffed
    rule, values, bad = reading.decide(frame["sold"])          # {"kind": "date", ...}
    inputs = reading.read_inputs(spec, new_rows, "new.csv")     # what serving feeds the model

Training (`recipes.data.load_table`) decides, once, how each column is read: its kind and
the details of that kind, in a plain dict (a *rule*):

- `{"kind": "number", "style": "plain"}`: numbers; `"thousands_comma"` reads `12,345.6`,
  `"decimal_comma"` reads `12.345,6` and `12 345,6`: the style that reads the most values
  of the column, and where two read them all (`1,234`), the decimal comma in a file
  separated by `;`, else the thousands comma; `"missing": ["?", ...]`, the words without a
  digit that the column's training values hold beside its numbers (`?`, `-`, `unknown`),
  read as missing there and at serving;
- `{"kind": "boolean"}`: `True`/`False` in any case (or a boolean column), read as 1 and 0;
- `{"kind": "date", "format": ..., "origin": ...}`: dates and times, read as days since
  `origin`, year, month, day of the week (0 is Monday) and, where the training dates have a
  time of day, the hour;
- `{"kind": "text"}`: anything else, stripped, `""` where missing.

A value is missing when it is empty or, stripped, one of `MISSING` (pandas' words for a
missing value, in their own case: `NA`, `NaN`, `None`, `NULL`, `#N/A` ...). The rules of the
input columns, with their input names, form the table's *reading* (`TableSplits.reading`),
which the export stores in `recipes.json`; serving (`recipes.load(...).predict`, the
`predict` command) applies it with `read_inputs`, through the same `read_column`, so a row
is read at serving exactly as it was in training. A value a rule cannot read (a word in a
number column, an infinite number, a date of another form) is an error naming its line (or
row) and column, at training and at serving alike.

Files are read by their extension, through pandas: `.xlsx`/`.xlsm`/`.xls` (openpyxl, xlrd),
`.parquet` (pyarrow), and anything else as delimited text (`.tsv` and `.tab` separated by
tabs). For text, the encoding is detected (UTF-8, UTF-8 with a byte-order mark, else
Windows-1252, else Latin-1) and the separator sniffed (comma, semicolon, tab or `|`: the one
that splits the first lines into the same number of fields); `encoding=` and `sep=`
override both. The sniffing and the number styles are hand-written here: pandas reads a
file once it knows them, but guesses neither.
"""

import codecs
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # the strings pandas reads as missing

# Words (after stripping, case as written) read as a missing value.
MISSING = tuple(sorted(STR_NA_VALUES))
SEPARATORS = (",", ";", "\t", "|")
# A column of text is numbers (or dates) when at least this fraction of its filled values
# read as such; the others are then typos, reported by line.
MOSTLY = 0.9
EXCEL = (".xlsx", ".xlsm", ".xls")
PARQUET = (".parquet", ".pq")
TAB_SEPARATED = (".tsv", ".tab")
# The packages pandas needs for each kind of file, and how to install them.
ENGINES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".xls": "xlrd", ".parquet": "pyarrow",
           ".pq": "pyarrow"}
INSTALL = "pip install 'recipes[tables]'"
# Date forms tried in order (the first that reads the sample wins); month first before day
# first, so a file whose days are all 12 or less is read month first: the note says which.
DATE_FORMATS = tuple(
    f"{day}{time}"
    for day in ("%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d-%b-%Y", "%d %b %Y",
                "%b %d, %Y", "%d %B %Y", "%B %d, %Y")
    for time in ("", " %H:%M", " %H:%M:%S")
)
DATE_PARTS = ("days", "year", "month", "weekday", "hour")
_NAMES = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}
_STYLES = {
    # style: (pattern of a value written that way, characters to drop, decimal mark)
    "thousands_comma": (r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", ",", "."),
    "decimal_comma": (r"[+-]?(?:\d{1,3}(?:[. \u00a0\u202f]\d{3})+|\d+)(?:,\d*)?(?:[eE][+-]?\d+)?",
                      ". \u00a0\u202f", ","),
}


# -- files ------------------------------------------------------------------------------


def read_file(path, *, text=False, encoding=None, sep=None, prefer=None):
    """Reads a table file by its extension into a DataFrame indexed by line (text files:
    the header is line 1) or row (spreadsheets: as the spreadsheet numbers them).

    Args:
        path: a `.csv`, `.tsv`, `.txt`, `.xlsx`, `.xls` or `.parquet` file.
        text: read every field of a text file as the string it is (`""` where empty),
            for carrying rows through unchanged. Defaults to `False`: pandas reads the
            columns that hold plain numbers as numbers (lighter for a large table; the
            rules read the same numbers from their text).
        encoding: the text encoding. Defaults to `None` (detected).
        sep: the field separator, one character (`"tab"` for a tab). Defaults to `None`
            (sniffed; `.tsv` and `.tab` files: a tab).
        prefer: how an earlier file was read (`{"encoding", "sep"}`, the `form` this
            returns): used where it fits this file. Defaults to `None`.

    Returns:
        `(frame, form, notes)`: the table (blank rows dropped), how it was read
        (`{"encoding", "sep", "decimal", "newline", "bom", "where"}` for text,
        `{"where": "row"}` otherwise) and notes on what was guessed.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such table file: {path}. Received: csv={str(path)!r}")
    suffix = path.suffix.lower()
    if suffix in EXCEL or suffix in PARQUET:
        return _read_binary(path, suffix), {"where": "row"}, []
    sep = _check_sep(sep)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"Unknown encoding {encoding!r}: give a Python codec name such "
                             f"as utf-8 or cp1252. Received: encoding={encoding!r}") from None
    head = _head(path)
    _check_not_binary(path, head)
    notes = []
    if encoding is None:
        encoding = _detect_encoding(path, head, (prefer or {}).get("encoding"))
        if encoding not in ("utf-8", "utf-8-sig", "ascii"):
            notes.append(f"read {path.name} as {_ENCODING_NAMES.get(encoding, encoding)} "
                         "(it is not UTF-8); --encoding (encoding=) overrides")
    try:
        sample = head[:65536].decode(encoding, errors="strict" if len(head) < 65536 else "ignore")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} cannot be read as {encoding} ({e.reason} at byte {e.start}): "
                         "give its encoding with --encoding (encoding=), e.g. cp1252.") from None
    if sep is None:
        sep = "\t" if suffix in TAB_SEPARATED else _sniff_sep(sample, (prefer or {}).get("sep"))
        if sep != "," and suffix not in TAB_SEPARATED:
            notes.append(f"read {path.name} with {_NAMES.get(sep, repr(sep))} between fields"
                         + (" and ',' before decimals" if sep == ";" else "")
                         + "; --sep (sep=) overrides")
    decimal = "," if sep == ";" else "."
    form = dict(encoding=encoding, sep=sep, decimal=decimal,
                newline="\r\n" if b"\r\n" in head else "\n",
                bom=encoding == "utf-8-sig", where="line")
    options = (dict(dtype=str, keep_default_na=False) if text else
               dict(keep_default_na=False, na_values=list(MISSING), decimal=decimal))
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, skip_blank_lines=False,
                            quotechar='"', **options)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header row of column names.") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"{path} is not a well-formed CSV table: {str(e).strip()}. Read with "
                         f"{_NAMES.get(sep, repr(sep))} between fields; give another with "
                         "--sep (sep=).") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} cannot be read as {encoding} ({e.reason}): give its "
                         "encoding with --encoding (encoding=), e.g. cp1252.") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra fields as an index
        raise ValueError(f"{path} has rows with more fields than its header, read with "
                         f"{_NAMES.get(sep, repr(sep))} between fields: give the separator "
                         "with --sep (sep=), or name every column in the header.")
    frame.index = frame.index + 2  # line 1 is the header
    if text:
        frame = frame.fillna("")
        frame = frame[(frame != "").any(axis=1)]
    else:
        frame = frame.dropna(how="all")
    if frame.empty:
        raise ValueError(f"{path} has a header but no data rows.")
    return frame, form, notes


def write_file(frame, out, form=None):
    """Writes `frame` to `out` (a path, or a text stream): `.xlsx` and `.parquet` by their
    extension, anything else as delimited text in the encoding, separator, decimal mark
    and line ending of `form` (how the input was read; `read_file`), else plain CSV."""
    suffix = Path(out).suffix.lower() if isinstance(out, (str, Path)) else ""
    if suffix in (".xlsx", ".parquet"):
        _engine(suffix)
        if suffix == ".xlsx":
            frame.to_excel(out, index=False)
        else:
            frame.to_parquet(out, index=False)
        return
    form = form if form and "sep" in form else {}
    options = dict(sep=form.get("sep", ","), decimal=form.get("decimal", "."),
                   lineterminator=form.get("newline", "\n"))
    if isinstance(out, (str, Path)):
        options["encoding"] = "utf-8-sig" if form.get("bom") else form.get("encoding", "utf-8")
    frame.to_csv(out, index=False, **options)


_ENCODING_NAMES = {"cp1252": "Windows-1252", "latin-1": "Latin-1", "utf-16": "UTF-16"}


def _check_sep(sep):
    if sep is None:
        return None
    sep = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}.get(sep, sep)
    if not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n':
        raise ValueError("sep must be one character between fields (',', ';', '|', or 'tab'). "
                         f"Received: sep={sep!r}")
    return sep


def _head(path, size=1 << 20):
    with open(path, "rb") as f:
        return f.read(size)


def _check_not_binary(path, head):
    kinds = {b"PK\x03\x04": "a zip file (an .xlsx workbook?)", b"PAR1": "a Parquet file",
             b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls?)"}
    for magic, kind in kinds.items():
        if head.startswith(magic):
            raise ValueError(f"{path} is {kind}, not text: name it by its kind (.xlsx, .xls or "
                             ".parquet) to read it as such, or export it as CSV.")


def _detect_encoding(path, head, prefer=None):
    """UTF-8 with a byte-order mark, UTF-16 with one, UTF-8, `prefer`, Windows-1252 or
    Latin-1: the first that decodes the whole file."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    candidates = ["utf-8"] + ([prefer] if prefer and prefer not in ("utf-8", "utf-8-sig") else [])
    for encoding in candidates + ["cp1252"]:
        if _decodes(path, encoding):
            return encoding
    return "latin-1"  # decodes any bytes


def _decodes(path, encoding):
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _sniff_sep(sample, prefer=None):
    """The separator that splits the header into the most fields and the next lines
    (quotes respected) into as many; `prefer` where it does so; `,` when none does."""
    lines = sample.splitlines()[:51]
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-line
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ","
    fits = {}
    for sep in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=sep, quotechar='"')]
        if counts[0] > 1 and np.mean([c == counts[0] for c in counts]) >= 0.8:
            fits[sep] = counts[0]
    if prefer in fits:
        return prefer
    return max(fits, key=fits.get) if fits else ","


def _read_binary(path, suffix):
    _engine(suffix)
    try:
        if suffix in EXCEL:
            frame = pd.read_excel(path, na_values=list(MISSING), keep_default_na=False)
            frame.index = frame.index + 2  # spreadsheet rows: the header is row 1
        else:
            frame = pd.read_parquet(path).reset_index(drop=True)
            frame.index = frame.index + 1
    except ImportError:
        raise
    except Exception as e:  # each engine raises its own kinds of error
        raise ValueError(f"{path} cannot be read as a {suffix} file: {e}") from None
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.dropna(how="all")
    if frame.empty:
        raise ValueError(f"{path} has a header but no data rows.")
    return frame


def _engine(suffix):
    package = ENGINES.get(suffix)
    if package is None:
        return
    try:
        __import__(package)
    except ImportError:
        how = (f"{INSTALL} (or pip install {package})" if package in ("openpyxl", "pyarrow")
               else f"pip install {package}")
        raise ValueError(f"Reading {suffix} files needs {package}: {how}.") from None


# -- columns ----------------------------------------------------------------------------


def decide(column, sep=","):
    """How to read a column: `(rule, values, bad)`, the rule (see the module docstring)
    and what `read_column(column, rule)` returns for it. Numbers are tried first, then
    booleans, dates and text; a column of strings is numbers (booleans, dates) when nearly
    every filled value (`MOSTLY`) reads as one, the others then being typos.

    Args:
        column: a pandas Series, as read (text, numbers, booleans or datetimes).
        sep: the separator of the file it was read from: the decimal comma is tried
            where it is not `,`. Defaults to `","`.
    """
    if pd.api.types.is_bool_dtype(column):
        return read_as({"kind": "boolean"}, column)
    if pd.api.types.is_datetime64_any_dtype(column):
        return read_as({"kind": "date", "format": "ISO8601", "origin": None}, column)
    rule, values, bad = number_or_text(column, sep)
    if rule["kind"] == "number":
        return rule, values, bad
    text, missing = _text(column)
    filled = text[~missing]
    if len(filled) and filled.str.lower().isin(("true", "false")).mean() >= MOSTLY:
        return read_as({"kind": "boolean"}, column)
    date = _date_format(filled)
    if date is not None:
        rule, values, bad = read_as({"kind": "date", "format": date, "origin": None}, column)
        if bad.sum() <= (1 - MOSTLY) * len(filled):
            return rule, values, bad
    return read_as({"kind": "text"}, column)


def number_or_text(column, sep=","):
    """`decide` for a target: numbers (in the style that reads the most of them) or text
    (booleans among it: `True`, `False`)."""
    if pd.api.types.is_bool_dtype(column):
        return read_as({"kind": "text"}, column)
    if pd.api.types.is_numeric_dtype(column):
        style = "decimal_comma" if sep == ";" else "plain"  # as pandas read them
        return read_as({"kind": "number", "style": style}, column)
    text, missing = _text(column)
    filled = ~missing
    if filled.any():
        # Where two styles read every value (`1,234`), the file's separator decides.
        styles = (("decimal_comma", "plain", "thousands_comma") if sep == ";" else
                  ("plain", "thousands_comma", "decimal_comma"))
        sample = column[filled].iloc[:1000]
        best = None
        for style in styles:
            rule = {"kind": "number", "style": style}
            read = np.isfinite(read_column(sample, rule)[0]).mean()
            if best is None or read > best[0]:
                best = (read, rule)
        if best[0] >= 0.5:
            rule, values, bad = read_as(best[1], column)
            if np.isfinite(values[filled]).mean() >= MOSTLY:
                # Words among the numbers mark a missing value (`?`, `-`); a value
                # with a digit that is no number stays a typo, and an infinity an
                # error, reported by line.
                words = text[bad]
                infinite = words.str.lower().str.lstrip("+-").isin(("inf", "infinity", "nan"))
                words = sorted(set(words[~words.str.contains(r"\d") & ~infinite]))
                return read_as(dict(rule, missing=words), column) if words else (rule, values, bad)
    return read_as({"kind": "text"}, column)


def read_as(rule, column):
    """`(rule, values, bad)` of `column` read by `rule`, a date's rule completed with its
    origin (the earliest date) and whether it has hours."""
    values, bad = read_column(column, rule)
    if rule["kind"] == "date" and rule["origin"] is None:
        known = values[~np.isnat(values)]
        origin = known.min().astype("datetime64[D]") if len(known) else np.datetime64("1970-01-01")
        rule = dict(rule, origin=str(origin),
                    hour=bool(len(known) and (known != known.astype("datetime64[D]")).any()))
    return rule, values, bad


def read_column(column, rule):
    """Reads `column` (a pandas Series) by `rule`: `(values, bad)`, float64 numbers (NaN
    where missing) for numbers and booleans, `datetime64[ns]` (NaT where missing) for
    dates, stripped strings (`""` where missing) for text; `bad` marks the values the
    rule cannot read (`describe_bad` says why), which are NaN or NaT."""
    kind = rule["kind"]
    if kind == "text":
        text, missing = _text(column)
        return text.where(~missing, "").to_numpy(object).astype(str), np.zeros(len(column), bool)
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(column):
            values = pd.to_datetime(column, utc=True)
            missing = values.isna().to_numpy()
        else:
            text, missing = _text(column)
            values = pd.to_datetime(text.where(~missing), format=rule["format"], errors="coerce",
                                    utc=True)
        values = values.dt.tz_localize(None).to_numpy("datetime64[ns]")
        return values, np.isnat(values) & ~missing
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        values = column.to_numpy("float64", na_value=np.nan)
        missing = np.isnan(values)
    else:
        text, missing = _text(column)
        missing = missing | text.isin(rule.get("missing", ())).to_numpy()
        text = text.where(~missing)
        if kind == "boolean":
            lower = text.str.lower()
            values = np.select([lower.isin(("true", "1", "1.0")).to_numpy(),
                                lower.isin(("false", "0", "0.0")).to_numpy()], [1.0, 0.0], np.nan)
        else:
            values = _numbers(text, rule.get("style", "plain"))
    if kind == "boolean":
        values = np.where(np.isin(values, (0.0, 1.0)), values, np.nan)
    bad = ~np.isfinite(values) & ~missing
    return np.where(bad, np.nan, values), bad


def _numbers(text, style):
    """The strings `text` (NaN where missing) as float64, written in `style`."""
    if style in _STYLES:
        pattern, drop, decimal = _STYLES[style]
        styled = text.str.fullmatch(pattern).fillna(False).astype(bool)
        if decimal != ".":  # a point is then between thousands only
            pointed = text.str.contains(".", regex=False).fillna(False).astype(bool)
            text = text.where(styled | ~pointed)
        if styled.any():
            converted = text[styled].str.replace(f"[{re.escape(drop)}]", "", regex=True)
            if decimal != ".":
                converted = converted.str.replace(decimal, ".", regex=False)
            text = text.where(~styled, converted)
    return pd.to_numeric(text, errors="coerce").to_numpy("float64", na_value=np.nan)


def _text(column):
    """`(text, missing)`: the column as stripped strings, and where it is missing."""
    text = column.astype(str).str.strip()
    missing = column.isna() | text.isin(MISSING)
    return text.where(~missing, ""), missing.to_numpy()


def _date_format(filled):
    """The first of `DATE_FORMATS` (ISO 8601 first) that reads the most of the first
    thousand filled values, if that is nearly all of them (`MOSTLY`); else `None`."""
    sample = filled.iloc[:1000]
    if not len(sample) or sample.str.contains(r"\d").mean() < MOSTLY:
        return None
    best, most = None, MOSTLY
    for form in ("ISO8601",) + DATE_FORMATS:
        read = pd.to_datetime(sample, format=form, errors="coerce", utc=True).notna().mean()
        if read > most or (best is None and read >= most):
            best, most = form, read
        if most == 1.0:
            break
    return best


def describe_bad(raw, rule):
    """Why `raw`, a value `rule` cannot read, is not read: a few words."""
    text = str(raw).strip()
    if rule["kind"] == "boolean":
        return f"{text!r} is not a boolean (true or false)"
    if rule["kind"] == "date":
        like = ("an ISO 8601 date such as 2024-01-31" if rule["format"] == "ISO8601"
                else f"a date written {rule['format']}")
        return f"{text!r} is not {like}"
    if text.lower().lstrip("+-") in ("inf", "infinity"):
        return "infinite value"
    if text.lower().lstrip("+-") == "nan":
        return "NaN"
    style = rule.get("style", "plain")
    return f"non-numeric value {text!r}" + (f" (numbers read {style.replace('_', ' ')})"
                                            if style != "plain" else "")


def problems(column, bad, rule, name=None, at_most=10):
    """`[(line, column name, why)]` for the first `at_most` values of `column` that `bad`
    marks, and how many there are."""
    where = np.flatnonzero(bad)
    name = column.name if name is None else name
    return ([(column.index[i], name, describe_bad(column.iloc[i], rule)) for i in where[:at_most]],
            len(where))


def report(source, found, where, count=None, advice="Fix or drop these rows."):
    """Raises one `ValueError` listing the values that cannot be read (`found`:
    `[(line, column, why)]`, the first few of `count`), if any, then `advice`."""
    if not found:
        return
    found = sorted(found, key=lambda p: (p[0], str(p[1])))
    count = count or len(found)
    same = {}  # one entry for a value repeated in a column, with its lines
    for line, name, why in found[:10]:
        same.setdefault((name, why), []).append(line)
    listed = "; ".join(
        f"{where} {lines[0]}, column {name!r}: {why}" if len(lines) == 1 else
        f"{where}s {', '.join(map(str, lines))}, column {name!r}: {why}"
        for (name, why), lines in same.items())
    more = f"; and {count - 10} more" if count > 10 else ""
    raise ValueError(f"{source} has values that cannot be read ({count}): {listed}{more}. "
                     + advice)


# -- dates --------------------------------------------------------------------------------


def date_parts(values, rule):
    """`{part: float64}` of dates (`datetime64`, NaT where missing): days since the rule's
    origin, year, month, day of the week (0 is Monday) and, where the rule has a time of
    day, the hour; NaN where missing."""
    index = pd.DatetimeIndex(values)
    missing = index.isna()
    days = (values - np.datetime64(rule["origin"], "ns")) / np.timedelta64(1, "D")
    parts = {"days": days, "year": index.year, "month": index.month, "weekday": index.day_of_week}
    if rule.get("hour"):
        parts["hour"] = index.hour
    return {p: np.where(missing, np.nan, np.asarray(v, "float64")) for p, v in parts.items()}


# -- serving ------------------------------------------------------------------------------


def inputs_of(rule, values):
    """`{input name: array}` of one column read by its rule (`values` from `read_column`):
    float32 numbers, strings for text, a date's parts."""
    if rule["kind"] == "date":
        parts = date_parts(values, rule)
        return {name: parts[part].astype("float32") for part, name in rule["inputs"].items()}
    return {rule["input"]: values if rule["kind"] == "text" else values.astype("float32")}


def reading_of_inputs(inputs):
    """The reading of an export written before readings were stored (`recipes.json`'s
    `inputs` only): plain numbers and text."""
    return {"columns": {spec["column"]: {
        "kind": "text" if spec["dtype"] == "string" else "number", "style": "plain",
        "input": spec["name"]} for spec in inputs}}


def read_inputs(reading, frame, source="the rows", where="row"):
    """What the model takes for the rows of `frame`: `{input name: array}`, each column
    read by its rule in `reading` (see the module docstring). Columns are found by their
    name (spaces around it aside), or by their input name.

    Raises:
        ValueError: naming a column the rows lack, or the line (row) and column of the
            values that cannot be read.
    """
    names = {str(c).strip(): c for c in frame.columns}
    columns = reading["columns"]
    out, found, count = {}, [], 0
    for column, rule in columns.items():
        key = names.get(column, names.get(rule.get("input")))
        if key is None:
            raise ValueError(
                f"{source} lack the column {column!r}, which the model needs "
                f"(it reads {', '.join(repr(c) for c in columns)})."
            )
        values, bad = read_column(frame[key], rule)
        listed, n = problems(frame[key], bad, rule, column)
        found, count = found + listed, count + n
        out.update(inputs_of(rule, values))
    report(source, found, where, count)
    return out

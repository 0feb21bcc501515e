"""Tables as people export them (`recipes.data.reading`, through `load_table`): encodings,
separators, decimal commas, thousands separators, booleans, dates, row ids, spreadsheets
and Parquet; and the rule that serving reads a row as training did. Each file is written
here, and what is read is checked against what was written."""

import sys

import numpy as np
import pandas as pd
import pytest

from recipes import data
from recipes.data import reading


def people(n=120, seed=0):
    """A table of every kind of column, typed: what the files below are written from."""
    rng = np.random.default_rng(seed)
    sold = pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    frame = pd.DataFrame({
        "town": rng.choice(["Zürich", "Genève", "Bern"], n),
        "garden": rng.choice([True, False], n),
        "income": rng.integers(1000, 900_000, n),
        "area": rng.uniform(20, 200, n).round(2),
        "sold": sold,
    })
    frame["price"] = (frame.area * 3 + 40 * frame.garden + rng.normal(0, 5, n)).round(2)
    return frame


def as_text(frame, decimal="."):
    """The table's columns as a spreadsheet exports them: thousands separators in
    `income`, dates as ISO days, booleans as True/False."""
    text = frame.astype(str)
    point = "." if decimal == "," else ","
    text["income"] = [f"{v:,}".replace(",", point) for v in frame.income]
    for column in ("area", "price"):
        text[column] = [f"{v:.2f}".replace(".", decimal) for v in frame[column]]
    text["sold"] = frame.sold.dt.strftime("%Y-%m-%d")
    return text


def rows_in_order(splits):
    """The inputs of a table split with no validation and no test rows, in file order."""
    x, y = splits.train.batch(100_000).get_single_element()
    return {k: v.numpy() for k, v in x.items()}, y.numpy()


def load_all(target="price", **kwargs):
    """All the rows, in file order (no validation, no test split)."""
    return data.load_table(target=target, validation_split=0.0, test_split=0.0, **kwargs)


def check_people(splits, frame):
    """The inputs read are the typed table's own values."""
    x, y = rows_in_order(splits)
    assert splits.columns == {
        "town": "text", "garden": "integer_category", "income": "number", "area": "number",
        "sold_days": "number", "sold_year": "integer_category", "sold_month": "number",
        "sold_weekday": "integer_category"}
    assert [t.decode() for t in x["town"]] == list(frame.town)
    np.testing.assert_array_equal(x["garden"], frame.garden.astype("float32"))
    np.testing.assert_array_equal(x["income"], frame.income.astype("float32"))
    np.testing.assert_allclose(x["area"], frame.area, rtol=1e-6)
    np.testing.assert_allclose(y, frame.price, rtol=1e-6)
    origin = frame.sold.min()
    np.testing.assert_array_equal(x["sold_days"], (frame.sold - origin).dt.days)
    np.testing.assert_array_equal(x["sold_year"], frame.sold.dt.year)
    np.testing.assert_array_equal(x["sold_month"], frame.sold.dt.month)
    np.testing.assert_array_equal(x["sold_weekday"], frame.sold.dt.day_of_week)
    assert splits.reading["columns"]["sold"]["origin"] == str(origin.date())
    return x


# -- files as people export them --------------------------------------------------------


def test_a_comma_file_with_thousands_separators_booleans_and_dates(tmp_path):
    frame = people()
    as_text(frame).to_csv(tmp_path / "t.csv", index=False)  # "123,456" quoted
    assert '"' in (tmp_path / "t.csv").read_text()
    splits = load_all(csv=tmp_path / "t.csv")
    check_people(splits, frame)
    rules = splits.reading["columns"]
    assert rules["income"]["style"] == "thousands_comma" and rules["garden"]["kind"] == "boolean"
    notes = "\n".join(splits.notes)
    assert "read column 'income' as numbers with ',' between thousands" in notes
    assert ("read column 'sold' as dates (ISO8601): "
            f"sold_days (days since {frame.sold.min().date()}), "
            "sold_year (year), sold_month (month), sold_weekday (day of the week, 0 is Monday)"
            in notes)


def test_a_latin1_semicolon_file_with_decimal_commas(tmp_path):
    frame = people()
    as_text(frame, decimal=",").to_csv(tmp_path / "t.csv", sep=";", index=False,
                                       encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        (tmp_path / "t.csv").read_text(encoding="utf-8")
    splits = load_all(csv=tmp_path / "t.csv")
    check_people(splits, frame)
    assert splits.reading["file"] == {"encoding": "cp1252", "sep": ";"}
    notes = "\n".join(splits.notes)
    assert "read t.csv as Windows-1252 (it is not UTF-8); --encoding (encoding=) overrides" in notes
    assert ("read t.csv with ';' between fields and ',' before decimals; --sep (sep=) overrides"
            in notes)
    # Given, the encoding and separator are used as they are.
    with pytest.raises(ValueError, match=r"t.csv cannot be read as utf-8 .*--encoding"):
        load_all(csv=tmp_path / "t.csv", encoding="utf-8")
    with pytest.raises(ValueError, match=r"t.csv has rows with more fields than its header, "
                                         r"read with ',' between fields: give the separator"):
        load_all(csv=tmp_path / "t.csv", sep=",")  # decimal commas split the rows
    (tmp_path / "one.csv").write_text("x1;x2;y\n" + "1;2;3\n" * 5)
    with pytest.raises(ValueError, match=r"Column 'y' is not in .*Available columns: \['x1;x2;y'\]"
                                         r".*give its separator with --sep \(sep=\)\.$"):
        load_all(csv=tmp_path / "one.csv", target="y", sep="|")
    with pytest.raises(ValueError, match=r"sep must be one character .*Received: sep='ab'"):
        load_all(csv=tmp_path / "t.csv", sep="ab")


def test_a_utf8_file_with_a_byte_order_mark_tabs_and_pipes(tmp_path):
    frame = people()
    as_text(frame).to_csv(tmp_path / "t.csv", index=False, encoding="utf-8-sig")
    check_people(load_all(csv=tmp_path / "t.csv"), frame)  # "town", not "\ufefftown"
    as_text(frame).to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    check_people(load_all(csv=tmp_path / "t.tsv"), frame)
    as_text(frame).to_csv(tmp_path / "t.txt", sep="|", index=False)
    check_people(load_all(csv=tmp_path / "t.txt"), frame)
    as_text(frame).to_csv(tmp_path / "tabs.csv", sep="\t", index=False)
    check_people(load_all(csv=tmp_path / "tabs.csv", sep="tab"), frame)


def test_spreadsheets_and_parquet_by_their_extension(tmp_path):
    frame = people()
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    check_people(load_all(csv=tmp_path / "t.xlsx"), frame)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    splits = load_all(csv=tmp_path / "t.parquet")
    check_people(splits, frame)
    assert splits.reading["file"] is None
    # A workbook named .csv, and a missing engine, are one-line errors with the way out.
    (tmp_path / "book.csv").write_bytes((tmp_path / "t.xlsx").read_bytes())
    with pytest.raises(ValueError, match=r"book.csv is a zip file \(an .xlsx workbook\?\), "
                                         r"not text: name it by its kind"):
        load_all(csv=tmp_path / "book.csv")


def test_a_missing_engine_names_the_extra(tmp_path, monkeypatch):
    people().to_excel(tmp_path / "t.xlsx", index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    with pytest.raises(ValueError, match=r"^Reading .xlsx files needs openpyxl: pip install "
                                         r"'recipes\[tables\]' \(or pip install openpyxl\)\.$"):
        load_all(csv=tmp_path / "t.xlsx")


def test_a_frame_reads_as_its_file(tmp_path):
    frame = people()
    check_people(load_all(frame=frame), frame)  # typed: bool, int, datetime64
    check_people(load_all(frame=as_text(frame)), frame)  # all strings


# -- booleans, missing words, targets ---------------------------------------------------


def test_a_boolean_target_keeps_its_class_names_with_gaps():
    frame = people()
    plain = data.load_table(frame=frame, target="garden")
    gaps = frame.astype({"garden": object})
    gaps.loc[::7, "garden"] = None
    with_gaps = data.load_table(frame=gaps, target="garden")
    assert plain.class_names == with_gaps.class_names == ("False", "True")
    assert with_gaps.train_size + with_gaps.validation_size + with_gaps.test_size == (
        len(frame) - len(frame[::7]))


def test_missing_words_are_the_same_for_training_and_serving(tmp_path):
    rng = np.random.default_rng(1)
    words = pd.DataFrame({"code": rng.choice(["NA", "None", "none", "n/a ", "GB"], 200),
                          "x": rng.normal(size=200).round(3).astype(str)})
    words.loc[::9, "x"] = "NULL"
    words["y"] = rng.normal(size=200)
    words.to_csv(tmp_path / "t.csv", index=False)
    splits = load_all(csv=tmp_path / "t.csv", target="y")
    x, _ = rows_in_order(splits)
    expected = words.code.str.strip().where(~words.code.str.strip().isin(["NA", "None", "n/a"]), "")
    assert [c.decode() for c in x["code"]] == list(expected)  # "none" is a category
    assert np.isnan(x["x"]).sum() == len(words[::9])
    rows = reading.read_file(tmp_path / "t.csv", text=True)[0]
    served = reading.read_inputs(splits.reading, rows)
    assert list(served["code"]) == list(expected)
    np.testing.assert_array_equal(served["x"], x["x"])


def test_words_among_numbers_are_missing_for_training_and_serving(tmp_path):
    # UCI's files mark a missing number with `?`; others write `-` or a word.
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"nuclei": rng.integers(1, 11, 300).astype(str),
                          "x": rng.normal(size=300).round(3).astype(str),
                          "y": rng.normal(size=300).round(3).astype(str)})
    frame.loc[::25, "nuclei"] = "?"
    frame.loc[7, "nuclei"] = "unknown"
    frame.loc[[4, 9], "y"] = "?"  # a target: its rows are left out
    frame.to_csv(tmp_path / "t.csv", index=False)
    splits = load_all(csv=tmp_path / "t.csv", target="y")
    assert splits.reading["columns"]["nuclei"] == {
        "kind": "number", "style": "plain", "missing": ["?", "unknown"], "input": "nuclei"}
    assert "read '?', 'unknown' in number column 'nuclei' as missing" in splits.notes
    assert "left out 2 of 300 rows without a target 'y'" in splits.notes
    x, y = rows_in_order(splits)
    kept = frame.drop(index=[4, 9])
    expected = pd.to_numeric(kept.nuclei, errors="coerce").to_numpy("float32")
    np.testing.assert_array_equal(x["nuclei"], expected)
    assert np.isnan(expected).sum() == 13
    np.testing.assert_allclose(y, kept.y.astype(float), rtol=1e-6)
    # Serving reads the same words as missing; a word training did not see is an error.
    rows = reading.read_file(tmp_path / "t.csv", text=True)[0]
    served = reading.read_inputs(splits.reading, rows)
    np.testing.assert_array_equal(served["nuclei"],
                                  pd.to_numeric(frame.nuclei, errors="coerce").astype("float32"))
    rows.loc[3, "nuclei"] = "none"
    with pytest.raises(ValueError, match=r"row 3, column 'nuclei': non-numeric value 'none'"):
        reading.read_inputs(splits.reading, rows)
    # An infinity written as a word is no gap: an error, as in a column pandas typed.
    frame.loc[11, "nuclei"] = "-Infinity"
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"line 13, column 'nuclei': infinite value"):
        load_all(csv=tmp_path / "t.csv", target="y")


def test_codes_among_numbers_stop_training_until_read_as_text(tmp_path):
    # GaltonFamilies: family 1 to 205, and 136A. A value with a digit is no missing mark.
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"family": rng.integers(1, 200, 300).astype(str),
                          "x": rng.normal(size=300).round(3), "y": rng.normal(size=300)})
    frame.loc[[10, 11], "family"] = "136A"
    frame.to_csv(tmp_path / "t.csv", index=False)
    # One entry for the value, with its lines.
    message = (r"\(2\): lines 12, 13, column 'family': non-numeric value '136A'\. Fix or drop "
               r"these rows, or read a column of codes as text: --text family "
               r"\(text=\['family'\]\)\.$")
    with pytest.raises(ValueError, match=message):
        data.load_table(csv=tmp_path / "t.csv", target="y")
    splits = load_all(csv=tmp_path / "t.csv", target="y", text=["family"])
    assert splits.columns["family"] == "text"
    x, _ = rows_in_order(splits)
    assert [v.decode() for v in x["family"]] == list(frame.family)
    served = reading.read_inputs(splits.reading, reading.read_file(tmp_path / "t.csv", text=True)[0])
    assert list(served["family"]) == list(frame.family)


# -- one reader ------------------------------------------------------------------------


@pytest.mark.parametrize("sep, decimal, encoding", [(",", ".", "utf-8"), (";", ",", "cp1252")])
def test_serving_reads_each_row_as_training_did(tmp_path, sep, decimal, encoding):
    frame = people()
    frame.loc[::5, "area"] = np.nan
    text = as_text(frame, decimal)
    text.loc[::5, "area"] = ""
    text.loc[::6, "garden"] = "NA"
    text.loc[::7, "sold"] = ""
    text.loc[::8, "town"] = "Bern  "
    text.to_csv(tmp_path / "t.csv", sep=sep, index=False, encoding=encoding)
    splits = load_all(csv=tmp_path / "t.csv")
    trained, _ = rows_in_order(splits)
    rows, form, _ = reading.read_file(tmp_path / "t.csv", text=True, prefer=splits.reading["file"])
    assert rows.drop(columns="price").equals(text.drop(columns="price").set_axis(rows.index))
    served = reading.read_inputs(splits.reading, rows, "t.csv", form["where"])
    assert served.keys() == trained.keys()
    for name, values in trained.items():
        expected = np.char.decode(values.astype(bytes)) if values.dtype == object else values
        np.testing.assert_array_equal(served[name], expected, err_msg=name)
    assert np.isnan(served["sold_days"][::7]).all() and np.isnan(served["garden"][::6]).all()


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("garden", "maybe", r"^t.csv has values that cannot be read \(1\): line 5, column "
                            r"'garden': 'maybe' is not a boolean \(true or false\)\. Fix"),
        ("area", "inf", r"line 5, column 'area': infinite value"),
        ("area", "12a", r"line 5, column 'area': non-numeric value '12a'"),
        ("sold", "31/01/2024", r"line 5, column 'sold': '31/01/2024' is not an ISO 8601 date"),
    ],
)
def test_a_value_serving_cannot_read_names_its_line_and_column(tmp_path, column, value, message):
    frame = people()
    as_text(frame).to_csv(tmp_path / "train.csv", index=False)
    splits = data.load_table(csv=tmp_path / "train.csv", target="price")
    new = as_text(frame).iloc[:10].copy()
    new.iloc[3, new.columns.get_loc(column)] = value  # line 5: the header is line 1
    new.to_csv(tmp_path / "t.csv", index=False)
    rows, form, _ = reading.read_file(tmp_path / "t.csv", text=True)
    with pytest.raises(ValueError, match=message) as error:
        reading.read_inputs(splits.reading, rows, "t.csv", form["where"])
    assert "\n" not in str(error.value)
    # The same value in training is an error naming the same place.
    text = as_text(frame)
    text.iloc[3, text.columns.get_loc(column)] = value
    text.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=message.replace("^t.csv", "^.*t.csv")):
        data.load_table(csv=tmp_path / "t.csv", target="price")
    with pytest.raises(ValueError, match=r"lack the column 'town', which the model needs"):
        reading.read_inputs(splits.reading, rows.drop(columns="town"))


def test_an_older_export_is_read_as_numbers_and_text():
    spec = reading.reading_of_inputs([dict(name="area_m2", column="area m²", dtype="float32"),
                                      dict(name="town", column="town", dtype="string")])
    out = reading.read_inputs(spec, pd.DataFrame({"area_m2": [" 3.5", "NA"], "town": ["a ", None]}))
    np.testing.assert_array_equal(out["area_m2"], np.array([3.5, np.nan], "float32"))
    assert list(out["town"]) == ["a", ""]


# -- dates --------------------------------------------------------------------------------


def test_dates_and_times_become_numbers():
    rng = np.random.default_rng(2)
    when = pd.Timestamp("2023-12-30 06:00") + pd.to_timedelta(rng.integers(0, 20_000, 150), "h")
    frame = pd.DataFrame({"when": when.strftime("%d.%m.%Y %H:%M"), "y": rng.normal(size=150)})
    splits = load_all(frame=frame, target="y")
    x, _ = rows_in_order(splits)
    rule = splits.reading["columns"]["when"]
    origin = when.min().normalize()
    assert rule["format"] == "%d.%m.%Y %H:%M" and rule["hour"]
    assert rule["origin"] == str(origin.date())
    np.testing.assert_allclose(x["when_days"], (when - origin) / pd.Timedelta(days=1), rtol=1e-6)
    np.testing.assert_array_equal(x["when_hour"], when.hour)
    np.testing.assert_array_equal(x["when_year"], when.year)
    assert "when_hour (hour)" in "\n".join(splits.notes)


# -- row ids ------------------------------------------------------------------------------


def test_row_numbers_in_any_order_are_left_out_and_measurements_stay(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({
        "rownames": rng.permutation(np.arange(1, n + 1)),
        "income": rng.permutation(np.arange(20_000, 20_000 + 97 * n, 97)),  # unique
        "id": rng.permutation(10_000)[:n],  # unique, named like an index
        "code": [f"C{i:04d}" for i in rng.permutation(n)],  # a different text in every row
        "x": rng.normal(size=n),
    })
    frame["y"] = frame.x * 2 + rng.normal(size=n)
    frame.to_csv(tmp_path / "t.csv")  # pandas' own index too: "Unnamed: 0", 0..n-1
    splits = data.load_table(csv=tmp_path / "t.csv", target="y")
    assert splits.left_out == {
        "Unnamed: 0": "it only identifies rows (the integers 0 to 299, in any order)",
        "rownames": "it only identifies rows (the integers 1 to 300, in any order)",
        "id": "it only identifies rows (named like an index, and unique)",
        "code": "it only identifies rows (a different text in every row)",
    }
    assert set(splits.sources.values()) == {"income", "x"}
    assert any("left out column 'rownames'" in n and "--keep rownames" in n for n in splits.notes)
    kept = data.load_table(csv=tmp_path / "t.csv", target="y", keep=["rownames", "id"])
    assert {"rownames", "id"} <= set(kept.sources.values())

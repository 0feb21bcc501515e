"""Tables as they come (`recipes.data.load_table`): gaps kept, rows without a target left
out, row identifiers, constant and nearly empty columns left out, any column name; each
checked against what the table, written by the test, holds."""

import numpy as np
import pandas as pd
import pytest

from recipes import data


def table(n=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "rownames": np.arange(1, n + 1),
        "od280/od315 of wines": rng.normal(size=n),
        "Rooms": rng.integers(1, 5, n),
        "rooms": rng.uniform(0, 9, n),
        "größe x.y": rng.choice(["klein", "groß", "mittel"], n),
        "2nd try": rng.normal(size=n),
        "constant": 3.0,
        "name": [f"person {i}" for i in range(n)],
        "mostly empty": np.where(np.arange(n) < 3, 1.0, np.nan),
    })
    frame.loc[::4, "rooms"] = np.nan
    frame.loc[::5, "größe x.y"] = None
    frame["y"] = frame["od280/od315 of wines"] * 3 + rng.normal(0, 0.1, n)
    frame.loc[::10, "y"] = np.nan
    return frame


def test_input_names_are_safe_unique_and_stable():
    columns = ["od280/od315", "Age", "age", "2nd try", "größe", "x.y", "日本", "", "a b",
               "lambda", "class", "None", "lambda_"]
    names = data.input_names(columns)
    assert names == {"od280/od315": "od280_od315", "Age": "Age", "age": "age_2",
                     "2nd try": "c_2nd_try", "größe": "grosse", "x.y": "x_y",
                     "日本": "column", "": "column_2", "a b": "a_b",
                     # Python keywords cannot name the export's inputs.
                     "lambda": "lambda_", "class": "class_", "None": "None_",
                     "lambda_": "lambda_2"}
    assert data.input_names(columns) == names  # the same header, the same names


def test_a_table_as_it_comes(tmp_path):
    frame = table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    splits = data.load_table(csv=tmp_path / "t.csv", target="y")
    assert splits.left_out == {
        "rownames": "it only identifies rows (the integers 1 to 120, in any order)",
        "constant": "the same value in every row",
        "name": "it only identifies rows (a different text in every row)",
        "mostly empty": "missing in 98% of the rows",
    }
    assert splits.columns == {"od280_od315_of_wines": "number", "Rooms": "integer_category",
                              "rooms_2": "number", "grosse_x_y": "text", "c_2nd_try": "number"}
    assert splits.sources["rooms_2"] == "rooms" and splits.sources["grosse_x_y"] == "größe x.y"
    # Rows without a target are left out, with a note; the rest are split.
    known = frame.y.notna().sum()
    assert splits.train_size + splits.validation_size + splits.test_size == known
    notes = "\n".join(splits.notes)
    assert f"left out {len(frame) - known} of {len(frame)} rows without a target 'y'" in notes
    assert "--keep rownames" in notes and "'od280/od315 of wines' -> 'od280_od315_of_wines'" in notes
    # Gaps stay in the data: NaN numbers, "" texts; the fill is the training median.
    x, y = splits.train.batch(1000).get_single_element()
    rooms = x["rooms_2"].numpy()
    kept = frame[frame.y.notna()]
    assert np.isnan(rooms).sum() > 0
    assert splits.stats["rooms_2"]["fill"] == pytest.approx(np.nanmedian(rooms))
    assert splits.stats["rooms_2"]["missing"] and not splits.stats["c_2nd_try"]["missing"]
    assert (x["grosse_x_y"].numpy() == b"").sum() > 0
    assert splits.stats["grosse_x_y"]["vocabulary"][0] in ("klein", "groß", "mittel", "")
    assert np.isnan(rooms).sum() + sum(np.isnan(getattr(splits, s).batch(1000).get_single_element()[0]["rooms_2"].numpy()).sum()
                                       for s in ("validation", "test")) == kept.rooms.isna().sum()


def test_kept_columns_stay_and_small_tables_keep_unique_values_but_not_an_index():
    frame = table()
    splits = data.load_table(frame=frame, target="y", keep=["rownames", "name"])
    assert {"rownames", "name"} <= set(splits.sources.values())
    assert "rownames" not in splits.left_out
    small = data.load_table(frame=table(n=40), target="y")
    assert "name" in small.sources.values()  # 40 different texts may be a feature
    assert small.left_out["rownames"] == "it only identifies rows (named like an index, and unique)"


def test_edges_are_quantiles_of_the_training_split():
    frame = table(n=400)
    splits = data.load_table(frame=frame, target="y")
    x, _ = splits.train.batch(1000).get_single_element()
    values = x["od280_od315_of_wines"].numpy().astype("float64")
    edges = splits.edges("od280_od315_of_wines", 8)
    assert len(edges) == 9 and edges[0] == values.min() and edges[-1] == values.max()
    np.testing.assert_allclose(edges, np.quantile(values, np.linspace(0, 1, 9)), atol=0.02)
    assert splits.edges("Rooms", 8) == [1.0, 2.0, 3.0, 4.0]  # the integers themselves
    assert splits.atoms("od280_od315_of_wines", 8) == [] and splits.atoms("Rooms", 8) == []


def test_atoms_are_the_values_that_hold_a_bins_share_of_the_training_rows():
    frame = table(n=400)
    # 0 on 60% of the rows, 5 on 15%, 7 on 5%, the rest spread out: numbers.
    frame["hours"] = np.select([np.arange(400) % 20 < 12, np.arange(400) % 20 < 15,
                                np.arange(400) % 20 < 16], [0.0, 5.0, 7.0],
                               100.0 + np.arange(400))
    splits = data.load_table(frame=frame, target="y")
    x, _ = splits.train.batch(1000).get_single_element()
    values = x["hours"].numpy().astype("float64")
    share = {v: np.mean(values == v) for v in (0.0, 5.0, 7.0)}
    for bins in (4, 8, 16):  # at least 1/bins of the rows, by the quantiles' own count
        q = np.quantile(values, np.linspace(0, 1, bins + 1))
        expected = sorted(v for v in share if np.sum(q == v) > 1)
        assert splits.atoms("hours", bins) == expected
        np.testing.assert_allclose(splits.edges("hours", bins), np.unique(q))
        # Two edges on one value: it holds at least a bin's share; well over two, always.
        assert all(share[v] >= 1 / bins for v in expected)
        assert {v for v in share if share[v] > 2.1 / bins} <= set(expected)
    assert splits.atoms("hours", 16) == [0.0, 5.0]  # 7 holds 5%, under one bin's 6.25%
    assert splits.atoms("hours", 4) == [0.0]  # 5 holds 15%, under one bin's 25%


def test_robust_scale_is_the_median_and_the_interquartile_range_of_the_training_split():
    frame = table(n=400)
    frame["mostly_zero"] = np.where(np.arange(400) % 10 == 3, np.arange(400) * 2.0, 0.0)
    splits = data.load_table(frame=frame, target="y")
    x, _ = splits.train.batch(1000).get_single_element()
    values = x["od280_od315_of_wines"].numpy().astype("float64")
    center, scale = splits.robust_scale("od280_od315_of_wines")
    q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    assert center == pytest.approx(q50, abs=0.02)
    assert scale == pytest.approx((q75 - q25) / 1.349, rel=0.05)
    # Most values one (the quartiles equal): half the range instead.
    zeros = x["mostly_zero"].numpy().astype("float64")
    assert zeros.max() > 0
    assert splits.robust_scale("mostly_zero") == (0.0, pytest.approx(zeros.max() / 2))


@pytest.mark.parametrize(
    "column, message",
    [
        ([np.nan] * 30, "missing in every row"),
        ([2.0] * 29 + [np.nan], "one value only"),
    ],
)
def test_targets_with_nothing_to_learn_are_errors(column, message):
    frame = pd.DataFrame({"a": np.arange(30.0) % 7, "y": column})
    with pytest.raises(ValueError, match=message):
        data.load_table(frame=frame, target="y")


def test_a_word_in_a_number_column_names_its_line(tmp_path):
    rows = "".join(f"{i},{i % 3},{i}.5\n" for i in range(1, 30))
    (tmp_path / "t.csv").write_text("a,b,y\n" + rows + "1O,1,3.5\n,2,4.5\n")
    with pytest.raises(ValueError, match=r"line 31, column 'a': non-numeric value '1O'"):
        data.load_table(csv=tmp_path / "t.csv", target="y")


def test_text_keeps_up_to_a_thousand_values_seen_twice():
    # 1,000 values seen three times, 500 twice and 400 once.
    rng = np.random.default_rng(4)
    counts = np.r_[np.full(1000, 3), np.full(500, 2), np.ones(400, int)]
    values = np.repeat([f"v{i}" for i in range(len(counts))], counts)
    frame = pd.DataFrame({"code": rng.permutation(values), "x": rng.normal(size=len(values))})
    frame["y"] = rng.normal(size=len(values))
    splits = data.load_table(frame=frame, target="y", validation_split=0.0, test_split=0.0)
    vocabulary = splits.stats["code"]["vocabulary"]
    seen = pd.Series(values).value_counts()
    assert len(vocabulary) == 1000 == data.tables.MAX_TEXT_CATEGORIES
    assert set(vocabulary) == set(seen[seen == 3].index)
    # A column of fewer values keeps them all, even those seen once.
    few = frame.assign(code=rng.choice([f"w{i}" for i in range(300)], len(frame)))
    few.loc[0, "code"] = "once"
    splits = data.load_table(frame=few, target="y", validation_split=0.0, test_split=0.0)
    assert set(splits.stats["code"]["vocabulary"]) == set(few.code)

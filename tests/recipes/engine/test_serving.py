"""Serving a table model (`recipes.load(...).predict`, `predict_csv`, the `predict` command)
reads rows by the reading training stored (`recipes.data.reading`): a model trained on a
Windows-1252, semicolon-separated file with decimal commas, points between thousands,
booleans, dates and a shuffled row-number column predicts that file, its copies as .tsv,
.xlsx and .parquet, and a typed DataFrame alike, writes each input field back as it was,
and names the line and column of a value it cannot read."""

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import recipes
from recipes.__main__ import main


def houses(n=160, seed=0):
    rng = np.random.default_rng(seed)
    sold = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
    frame = pd.DataFrame({
        "rownames": rng.permutation(np.arange(1, n + 1)),
        "town": rng.choice(["Zürich", "Genève", "Bern "], n),
        "garden": rng.choice([True, False], n),
        "area": rng.uniform(20, 200, n).round(2),
        "income": rng.integers(1_000, 900_000, n),
        "sold": sold,
        "note": rng.choice(["keep me ", "  two spaces", "NA", "None"], n),
        "lambda": rng.normal(0, 1, n).round(3),  # a Python keyword: the input is `lambda_`
    })
    frame["price"] = (frame.area * 30 + 400 * frame.garden + rng.normal(0, 50, n)).round(2)
    return frame


def exported(frame):
    """The table as a European spreadsheet writes it: decimal commas, points between
    thousands (`12.345`), ';' between fields."""
    text = frame.astype(str)
    text["income"] = [f"{v:,}".replace(",", ".") for v in frame.income]
    for column in ("area", "price"):
        text[column] = [f"{v:.2f}".replace(".", ",") for v in frame[column]]
    text["sold"] = frame.sold.dt.strftime("%Y-%m-%d")
    return text


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained for one epoch from the command line on the European file."""
    root = tmp_path_factory.mktemp("serving")
    frame = houses()
    exported(frame).to_csv(root / "houses.csv", sep=";", index=False, encoding="cp1252")
    assert main(["train", "tabular", "--csv", str(root / "houses.csv"), "--target", "price",
                 "--sep", ";", "--encoding", "cp1252", "--epochs", "1",
                 "--run-dir", str(root / "run"), "--quiet"]) == 0
    return root, frame


def by_hand(about, frame):
    """The model's inputs for the typed rows, computed here from the stored reading's
    origin: what serving must derive from any file of them."""
    origin = pd.Timestamp(about["reading"]["columns"]["sold"]["origin"])
    return {
        "town": frame.town.str.strip().to_numpy(str),
        "garden": frame.garden.to_numpy("float32"),
        "area": frame.area.to_numpy("float32"),
        "income": frame.income.to_numpy("float32"),
        "sold_days": ((frame.sold - origin).dt.days).to_numpy("float32"),
        "sold_year": frame.sold.dt.year.to_numpy("float32"),
        "sold_month": frame.sold.dt.month.to_numpy("float32"),
        "sold_weekday": frame.sold.dt.day_of_week.to_numpy("float32"),
        "note": frame.note.str.strip().replace({"NA": "", "None": ""}).to_numpy(str),
        "lambda_": frame["lambda"].to_numpy("float32"),
    }


@pytest.mark.slow
def test_each_kind_of_file_predicts_as_the_model_serves_its_rows(trained, tmp_path):
    root, frame = trained
    model = root / "run" / "model"
    about = json.loads((model / "recipes.json").read_text())
    assert about["left_out"] == {
        "rownames": "it only identifies rows (the integers 1 to 160, in any order)"}
    assert about["reading"]["file"] == {"encoding": "cp1252", "sep": ";"}
    served = recipes.load(root / "run")
    raw = by_hand(about, frame)
    assert set(raw) == {spec["name"] for spec in about["inputs"]}
    serve = tf.saved_model.load(str(model)).signatures["serve"]
    expected = serve(**{k: tf.constant(v) for k, v in raw.items()})["prediction"].numpy()

    scored = served.predict_csv(root / "houses.csv", tmp_path / "scored.csv")
    np.testing.assert_allclose(scored.prediction, expected, rtol=1e-5)
    # Every input field comes back as it was written, in the file's own encoding.
    written = (root / "houses.csv").read_bytes().splitlines()
    out = (tmp_path / "scored.csv").read_bytes().splitlines()
    assert len(out) == len(written)
    assert out[0] == written[0] + b";prediction"
    assert all(o.startswith(w + b";") for w, o in zip(written[1:], out[1:]))
    assert b"Gen\xe8ve" in b"".join(out) and b";keep me ;" in b"".join(out)
    np.testing.assert_allclose([float(o.rsplit(b";", 1)[1].replace(b",", b".")) for o in out[1:]],
                               expected, rtol=1e-5)

    copies = {"houses.tsv": lambda p: exported(frame).to_csv(p, sep="\t", index=False),
              "houses.xlsx": lambda p: frame.to_excel(p, index=False),
              "houses.parquet": lambda p: frame.to_parquet(p, index=False)}
    for name, write in copies.items():
        write(tmp_path / name)
        again = served.predict_csv(tmp_path / name, tmp_path / f"{name}.out.csv")
        np.testing.assert_allclose(again.prediction, expected, rtol=1e-5, err_msg=name)
    typed = served.predict(frame.drop(columns=["price", "rownames"]))
    np.testing.assert_allclose(typed.prediction, expected, rtol=1e-5)


@pytest.mark.slow
def test_a_value_that_cannot_be_read_names_its_line_and_column(trained, tmp_path, capsys):
    root, frame = trained
    text = exported(frame).iloc[:20].copy()
    text.loc[5, "garden"] = "maybe"  # line 7: the header is line 1
    text.loc[9, "area"] = "inf"
    text.to_csv(tmp_path / "new.csv", sep=";", index=False, encoding="cp1252")
    message = (f"{tmp_path / 'new.csv'} has values that cannot be read (2): line 7, column "
               "'garden': 'maybe' is not a boolean (true or false); line 11, column 'area': "
               "infinite value. Fix or drop these rows.")
    with pytest.raises(ValueError) as error:
        recipes.load(root / "run").predict_csv(tmp_path / "new.csv")
    assert str(error.value) == message
    assert main(["predict", str(root / "run"), "--csv", str(tmp_path / "new.csv")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_comma_file_with_thousands_separators_predicts_its_own_rows(tmp_path):
    from recipes import tabular

    rng = np.random.default_rng(1)
    n = 150
    frame = pd.DataFrame({"income": rng.integers(1_000, 900_000, n),
                          "member": rng.choice(["TRUE", "FALSE"], n),
                          "joined": pd.Timestamp("2020-06-01 08:00")
                          + pd.to_timedelta(rng.integers(0, 40_000, n), "h")})
    frame["spend"] = (frame.income / 1000 + 20 * (frame.member == "TRUE")).round(2)
    text = frame.astype(str).assign(income=[f"{v:,}" for v in frame.income],
                                    joined=frame.joined.dt.strftime("%m/%d/%Y %H:%M"))
    text.to_csv(tmp_path / "t.csv", index=False)  # "123,456" in quotes
    result = tabular.train(csv=tmp_path / "t.csv", target="spend", epochs=1, verbose=0,
                           diagnose=False, run_dir=tmp_path / "run")
    notes = "\n".join(result.settings["data_notes"])
    assert "read column 'income' as numbers with ',' between thousands" in notes
    assert "joined_hour (hour)" in notes
    served = recipes.load(result.export(tmp_path / "model"))
    scored = served.predict_csv(tmp_path / "t.csv", tmp_path / "out.csv")
    written = (tmp_path / "t.csv").read_text().splitlines()
    out = (tmp_path / "out.csv").read_text().splitlines()
    assert [o.rsplit(",", 1)[0] for o in out] == written  # fields as written, quotes too
    typed = served.predict(frame.assign(member=frame.member == "TRUE"))
    np.testing.assert_allclose(scored.prediction, typed.prediction, rtol=1e-5)


@pytest.mark.slow
def test_predict_on_the_command_line_takes_the_encoding_and_separator_given(trained, tmp_path,
                                                                            capsys):
    root, frame = trained
    exported(frame).iloc[:10].to_csv(tmp_path / "new.txt", sep="|", index=False,
                                     encoding="cp1252")
    out = tmp_path / "scored.txt"
    assert main(["predict", str(root / "run"), "--csv", str(tmp_path / "new.txt"),
                 "--sep", "|", "--encoding", "cp1252", "--out", str(out)]) == 0
    assert out.read_bytes().splitlines()[0].endswith(b"|prediction")
    # The encoding given is the one used: this file is not UTF-8.
    assert main(["predict", str(root / "run"), "--csv", str(tmp_path / "new.txt"),
                 "--encoding", "utf-8"]) == 2
    assert "utf-8" in capsys.readouterr().err


@pytest.mark.slow
def test_rows_that_hold_their_target_are_scored(trained, tmp_path, capsys):
    root, frame = trained
    served = recipes.load(root / "run")
    scored = served.predict_csv(root / "houses.csv", tmp_path / "scored.csv")
    # The file's prices are decimal commas, read as training read them.
    error = scored.prediction.to_numpy("float64") - frame.price.to_numpy("float64")
    assert served.score(scored) == {
        "target": "price", "rows": len(frame),
        "mae": pytest.approx(np.abs(error).mean(), abs=1e-3),
        "rmse": pytest.approx(np.sqrt((error ** 2).mean()), abs=1e-3)}
    # Rows without a target are left out; rows without the column are not scored.
    text = exported(frame)
    text.loc[[3, 7], "price"] = ""
    text.to_csv(tmp_path / "gaps.csv", sep=";", index=False, encoding="cp1252")
    gaps = served.score(served.predict_csv(tmp_path / "gaps.csv", tmp_path / "gaps.out.csv"))
    kept = np.ones(len(frame), bool)
    kept[[3, 7]] = False
    assert gaps["rows"] == len(frame) - 2
    assert gaps["mae"] == pytest.approx(np.abs(error[kept]).mean(), abs=1e-3)
    assert served.score(served.predict(frame.drop(columns=["price"]))) is None
    # The command prints it after the file is written, or on stderr beside the rows.
    capsys.readouterr()
    assert main(["predict", str(root / "run"), "--csv", str(root / "houses.csv"),
                 "--out", str(tmp_path / "again.csv")]) == 0
    score = served.score(scored)
    assert capsys.readouterr().out.splitlines() == [
        f"{len(frame)} predictions written to {tmp_path / 'again.csv'}",
        f"scored against the column 'price' on {len(frame)} rows: "
        f"mae {score['mae']:.4f}, rmse {score['rmse']:.4f}"]
    assert main(["predict", str(root / "run"), "--csv", str(root / "houses.csv")]) == 0
    printed = capsys.readouterr()
    assert printed.err.strip() == f"scored against the column 'price' on {len(frame)} rows: " \
        f"mae {score['mae']:.4f}, rmse {score['rmse']:.4f}"
    assert printed.out.splitlines()[0].endswith(";prediction")


def served_as(about):
    """A `Served` that holds only what `score` reads: its `recipes.json`."""
    from recipes.engine.serving import Served

    served = Served.__new__(Served)
    served.about = about
    return served


def test_a_classifier_is_scored_on_the_labels_the_rows_hold():
    served = served_as({"kind": "table", "task": "classification", "target": "vote",
                        "class_names": ["A", "N"], "reading": {"columns": {}}})
    rows = pd.DataFrame({"vote": ["A", "N", "", "N", "X"],
                         "class_name": ["A", "A", "N", "N", "N"]})
    # The empty target is unknown; "X", a class the model lacks, is a wrong prediction.
    assert served.score(rows) == {"target": "vote", "rows": 4, "accuracy": 0.5}
    numbers = served_as({"kind": "table", "task": "classification", "target": "y",
                         "class_names": ["0", "1"], "reading": {"columns": {}}})
    rows = pd.DataFrame({"y": [1, 0, 1, np.nan], "class_name": ["1", "1", "1", "0"]})
    assert numbers.score(rows) == {"target": "y", "rows": 3,
                                   "accuracy": pytest.approx(2 / 3)}


def test_images_are_scored_by_the_class_subfolder_they_are_in(tmp_path):
    served = served_as({"kind": "images", "class_names": ["cat", "dog"]})
    paths = [tmp_path / "cat" / "a.png", tmp_path / "dog" / "deep" / "b.png",
             tmp_path / "dog" / "c.png", tmp_path / "top.png", tmp_path / "2024" / "d.png"]
    rows = pd.DataFrame({"path": [str(p) for p in paths],
                         "class_name": ["cat", "dog", "cat", "dog", "dog"]})
    # Files at the top, or in a folder that is no class, are not known.
    assert served.score(rows, folder=str(tmp_path)) == {
        "target": None, "rows": 3, "accuracy": pytest.approx(2 / 3)}
    assert served.score(rows) is None

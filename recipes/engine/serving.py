"""Predictions from an export: `recipes.load(MODEL).predict(...)`, and what the
`predict` and `describe` commands print.

    model = recipes.load("out/model")          # an export, or a run directory
    model.predict(frame)                       # the rows, with the prediction columns added
    model.predict_csv("new.csv", "scored.csv") # the same from file to file, in row order
    model.predict_images("photos/")            # one row per image file
    print(model.describe())                    # serving inputs against the table's columns

The export is loaded with `tf.saved_model.load` and called through its `serve`
signature, exactly as TF Serving would; what its inputs and outputs are comes from the
`recipes.json` written beside it (`recipes.engine.export.write_about`). A run directory
holds its export in `RUN_DIR/model` (written by `python -m recipes train`).

Rows are matched to inputs by column name: the table's own column name, or the input
name. A column the model needs and the rows lack is an error naming it; other columns
(the target among them) are carried through to the output untouched. A missing number
(`""`, `NA`, `NaN` ...) or text is served as missing, as in training; a number column
holding a word is an error naming the line.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from pandas._libs.parsers import STR_NA_VALUES  # the strings pandas reads as missing

from recipes.data.images import IMAGE_EXTENSIONS, decode_files
from recipes.data.tables import read_csv
from recipes.engine.export import ABOUT

BATCH = 4096
_MISSING = {v.lower() for v in STR_NA_VALUES} | {""}


def find_export(path):
    """The export at `path` (a directory with `saved_model.pb`), or in the run
    directory `path` (`path/model`)."""
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / "saved_model.pb").is_file():
            return candidate
    raise ValueError(
        f"{path} is neither an export (a folder with saved_model.pb) nor a run directory "
        "holding one in model/ (python -m recipes train writes RUN_DIR/model; "
        f"--export DIR writes DIR). Received: {str(path)!r}"
    )


class Served:
    """An export, loaded for predictions; see the module docstring.

    Attributes:
        path: the export's directory.
        about: what `recipes.json` says: `kind` (`"table"` or `"images"`), the inputs,
            outputs and class names.
    """

    def __init__(self, path):
        self.path = find_export(path)
        about = self.path / ABOUT
        if not about.is_file():
            raise ValueError(
                f"{self.path} has no {ABOUT}: it was not exported by this version of "
                "recipes; call it with tf.saved_model.load(...).serve(...) instead."
            )
        self.about = json.loads(about.read_text())
        self._serve = tf.saved_model.load(str(self.path)).signatures["serve"]

    @property
    def class_names(self):
        return self.about.get("class_names")

    def _call(self, raw):
        """`serve` over batches of `raw` (an array, or a dict of arrays), as numpy."""
        size = len(next(iter(raw.values()))) if isinstance(raw, dict) else len(raw)
        outputs = []
        for start in range(0, size, BATCH):
            if isinstance(raw, dict):
                part = {k: tf.constant(v[start:start + BATCH]) for k, v in raw.items()}
            else:
                part = {"image": tf.constant(raw[start:start + BATCH])}
            outputs.append({k: v.numpy() for k, v in self._serve(**part).items()})
        return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}

    def _columns(self, out):
        """The prediction columns of `serve`'s outputs."""
        if "prediction" in out:
            return {"prediction": out["prediction"]}
        columns = {"class_name": [n.decode() for n in out["class_name"]]}
        for i, name in enumerate(self.class_names):
            columns[f"probability_{name}"] = out["probabilities"][:, i]
        return columns

    # -- tables ------------------------------------------------------------------------
    def predict(self, data, source="the rows"):
        """Predictions for a table's rows (a DataFrame, or a dict of columns) or for
        images (an array of the export's image shape).

        Returns:
            For a table, a copy of the rows with the prediction columns added:
            `prediction` (regression), or `class_name` and `probability_<class>` per
            class. For images, a DataFrame with `class_name`, `probability` (of that
            class) and `probability_<class>` per class.
        """
        if self.about["kind"] == "images":
            images = np.asarray(data)
            shape = tuple(self.about["shape"])
            if images.shape[1:] != shape and images.shape[1:] + (1,) != shape:
                raise ValueError(f"The model takes images of shape {shape}. "
                                 f"Received: shape {images.shape[1:]}")
            out = self._call(images.reshape((-1, *shape)).astype(self.about["dtype"]))
            return self._image_frame(out)
        frame = pd.DataFrame(data) if isinstance(data, dict) else data
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"predict takes a pandas DataFrame or a dict of columns. "
                             f"Received: {type(data).__name__}")
        out = self._call(self._table_inputs(frame, source))
        return frame.assign(**self._columns(out))

    def _table_inputs(self, frame, source):
        where = "line" if source != "the rows" else "row"
        raw = {}
        for spec in self.about["inputs"]:
            column = spec["column"] if spec["column"] in frame.columns else spec["name"]
            if column not in frame.columns:
                raise ValueError(
                    f"{source} lack the column {spec['column']!r}, which the model needs "
                    f"(it reads {', '.join(repr(s['column']) for s in self.about['inputs'])})."
                )
            values = frame[column]
            text = values.astype(str).str.strip()
            missing = values.isna().to_numpy() | text.str.lower().isin(_MISSING).to_numpy()
            if spec["dtype"] == "string":
                raw[spec["name"]] = np.where(missing, "", text.to_numpy(object)).astype(str)
                continue
            numbers = pd.to_numeric(values.where(~missing), errors="coerce").to_numpy("float32")
            bad = np.flatnonzero(np.isnan(numbers) & ~missing)
            if len(bad):
                line = frame.index[bad[0]]
                raise ValueError(
                    f"{source}, {where} {line}, column {column!r}: {values.iloc[bad[0]]!r} is "
                    f"not a number ({len(bad)} such value(s) in the column)."
                )
            raw[spec["name"]] = numbers
        return raw

    def predict_csv(self, csv, out=None):
        """Reads `csv`, predicts every row and writes the rows (as they were read) with
        the prediction columns added to `out` (a path; `None`: standard output).
        Returns the DataFrame."""
        frame = read_csv(csv, text=True)
        scored = self.predict(frame, source=str(csv))
        scored.to_csv(out if out is not None else sys.stdout, index=False)
        return scored

    # -- images ------------------------------------------------------------------------
    def _image_frame(self, out):
        columns = self._columns(out)
        columns["probability"] = out["probabilities"].max(axis=1)
        first = ["class_name", "probability"]
        return pd.DataFrame(columns)[first + [c for c in columns if c not in first]]

    def predict_images(self, folder, out=None):
        """Predicts every image file under `folder` (subfolders included, sorted by
        path), resized to the model's size, and writes `path, class_name, probability`
        rows to `out` (a path; `None`: standard output). Returns the DataFrame."""
        if self.about["kind"] != "images":
            raise ValueError(f"{self.path} is a table model: give it rows (--csv FILE).")
        root = Path(folder)
        if not root.is_dir():
            raise ValueError(f"{root} is not a folder. Received: images={str(folder)!r}")
        files = sorted(str(p) for p in root.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"{root} holds no image files ({', '.join(IMAGE_EXTENSIONS)}).")
        shape = tuple(self.about["shape"])
        images = decode_files(files, np.zeros(len(files), "int64"), shape, resize=True)
        pixels = np.concatenate([x for x, _ in images.batch(BATCH).as_numpy_iterator()])
        if self.about["dtype"] != "uint8":  # a model trained on float pixels
            pixels = pixels.astype(self.about["dtype"]) * (self.about["pixel_max"] / 255.0)
        scored = self.predict(pixels)
        scored.insert(0, "path", files)
        scored[["path", "class_name", "probability"]].to_csv(
            out if out is not None else sys.stdout, index=False)
        return scored

    def describe(self):
        """What the export takes and returns, as lines of text."""
        about = self.about
        lines = [f"{self.path}:"]
        if about["kind"] == "images":
            lines.append(f"  input  image: {about['dtype']} pixels of shape "
                         f"{tuple(about['shape'])} (batch first)")
        else:
            what = "classifier" if about["task"] == "classification" else "regressor"
            lines.append(f"  a table {what} of {about['target']!r}; serving inputs "
                         "(input name <- table column, dtype):")
            width = max(len(s["name"]) for s in about["inputs"])
            for spec in about["inputs"]:
                lines.append(f"    {spec['name']:<{width}} <- {spec['column']!r} ({spec['dtype']})")
            for column, reason in about.get("left_out", {}).items():
                lines.append(f"  not an input: {column!r} ({reason})")
        lines.append(f"  outputs: {', '.join(about['outputs'])}")
        if self.class_names:
            lines.append(f"  classes: {', '.join(self.class_names)}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Served {self.about['kind']} model at {self.path}>"


def load(path):
    """Loads an export, or the export of a run directory, for predictions.

    Args:
        path: a SavedModel directory written by `Result.export` (or `--export`), or a
            run directory holding one in `model/`.

    Returns:
        A `Served`.

    Example:

    >>> recipes.load("runs/tabular").predict(frame)
    """
    return Served(path)

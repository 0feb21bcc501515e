"""Predictions from an export: `recipes.load(MODEL).predict(...)`, and what the
`predict` and `describe` commands print.

    model = recipes.load("out/model")          # an export, or a run directory
    model.predict(frame)                       # the rows, with the prediction columns added
    model.predict_csv("new.csv", "scored.csv") # the same from file to file, in row order
    model.predict_images("photos/")            # one row per image file
    model.score(scored)                        # against the rows' own target, if they hold it
    print(model.describe())                    # serving inputs against the table's columns

The export is loaded with `tf.saved_model.load` and called through its `serve`
signature, exactly as TF Serving would; what its inputs and outputs are comes from the
`recipes.json` written beside it (`recipes.engine.export.write_about`). A run directory
holds its export in `RUN_DIR/model` (written by `python -m recipes train`).

Rows are read by the rules training decided for each column (its kind, missing-value
words, number style, date form), stored in `recipes.json` as the table's `reading` and
applied by `recipes.data.reading.read_inputs`: the one reader of tables, for training and
serving. Rows are matched to inputs by column name: the table's own column name, or the
input name. A column the model needs and the rows lack is an error naming it; a value the
column's rule cannot read (a word in a number column, an infinite number, a date of
another form) is an error naming its line (row) and column. `predict_csv` reads the file
as text and writes every input column back as it was written, with the prediction
columns added, in the file's own encoding and separator; other columns (the target among
them) are carried through untouched.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from recipes.data import reading
from recipes.data.images import IMAGE_EXTENSIONS, decode_files
from recipes.data.tables import known_targets, read_target
from recipes.engine.export import ABOUT

BATCH = 4096


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
    def predict(self, data, source="the rows", where="row"):
        """Predictions for a table's rows (a DataFrame, or a dict of columns) or for
        images (an array of the export's image shape).

        Args:
            data: the rows, or the images.
            source: how errors name the rows. Defaults to `"the rows"`.
            where: how errors name a row's place (`"line"` for a file). Defaults to
                `"row"` (the DataFrame's index).

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
        out = self._call(reading.read_inputs(self.reading, frame, source, where))
        return frame.assign(**self._columns(out))

    @property
    def reading(self):
        """How the model reads a table's columns (`recipes.data.reading`): as stored at
        training, or plain numbers and text for an export written before readings were."""
        return self.about.get("reading") or reading.reading_of_inputs(self.about["inputs"])

    def predict_csv(self, csv, out=None, encoding=None, sep=None):
        """Reads the table file `csv` (`.csv`, `.tsv`, `.xlsx`, `.parquet`), predicts every
        row and writes the rows (each field of a text file as it was written) with the
        prediction columns added to `out` (a path: `.xlsx` and `.parquet` by extension,
        else text in the input's encoding and separator; `None`: standard output).
        Returns the DataFrame.

        Args:
            csv: the rows to predict.
            out: where to write them. Defaults to `None` (standard output).
            encoding: the text encoding of `csv`. Defaults to `None`: detected, the
                training file's where it fits.
            sep: the separator of `csv`. Defaults to `None`: sniffed, the training
                file's where it fits.
        """
        frame, form, _ = reading.read_file(csv, text=True, encoding=encoding, sep=sep,
                                           prefer=self.reading.get("file"))
        scored = self.predict(frame, source=str(csv), where=form["where"])
        reading.write_file(scored, out if out is not None else sys.stdout, form)
        return scored

    def score(self, scored, sep=None, folder=None):
        """The predictions in `scored` (what `predict`, `predict_csv` or
        `predict_images` returned) against what the rows are known to be: a table's own
        target column, read as training read it (`recipes.data.tables.read_target`), or
        for images under `folder` the class of the subfolder each file is in, as
        `image_dataset_from_directory` names classes.

        Args:
            scored: the predictions.
            sep: the separator the rows were written with, which decides how their
                numbers are read. Defaults to `None`: the training file's.
            folder: the folder `predict_images` read. Defaults to `None`.

        Returns:
            `{"target", "rows", "accuracy"}` for a classifier, `{"target", "rows", "mae",
            "rmse"}` for a regressor, over the rows whose target is known (`target`: the
            column's name; `None` for images); `None` where no row's is (no target
            column, no class subfolders).
        """
        about = self.about
        if about["kind"] == "images":
            if folder is None:
                return None
            truth = np.array([_class_folder(folder, path) for path in scored["path"]], object)
            known = np.isin(truth, self.class_names)
            target = None
        else:
            target = about["target"]
            if target not in scored.columns:
                return None
            sep = sep or self.reading.get("file", {}).get("sep", ",")
            y, _, names, _ = read_target(scored[target].reset_index(drop=True),
                                         about["task"], sep)
            known = known_targets(y, about["task"])
            truth = np.asarray(names, object)[np.maximum(y, 0)] if len(names) else y
        if not known.any():
            return None
        out = {"target": target, "rows": int(known.sum())}
        if "prediction" in scored.columns:
            error = scored["prediction"].to_numpy("float64")[known] - truth[known]
            return dict(out, mae=float(np.abs(error).mean()),
                        rmse=float(np.sqrt(np.mean(error ** 2))))
        right = scored["class_name"].to_numpy(object)[known] == truth[known]
        return dict(out, accuracy=float(right.mean()))

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
            rules = self.reading["columns"]
            for spec in about["inputs"]:
                lines.append(f"    {spec['name']:<{width}} <- {spec['column']!r} ({spec['dtype']}"
                             f"{_read_as(rules.get(spec['column']), spec['name'])})")
            for column, reason in about.get("left_out", {}).items():
                lines.append(f"  not an input: {column!r} ({reason})")
        lines.append(f"  outputs: {', '.join(about['outputs'])}")
        if self.class_names:
            lines.append(f"  classes: {', '.join(self.class_names)}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Served {self.about['kind']} model at {self.path}>"


def _class_folder(folder, path):
    """The subfolder of `folder` that `path` is in, or `None` for a file at its top."""
    parts = Path(path).relative_to(folder).parts
    return parts[0] if len(parts) > 1 else None


def _read_as(rule, name):
    """How `describe` says a column is read, beside the input's dtype."""
    if rule is None or rule["kind"] == "text":
        return ""
    if rule["kind"] == "boolean":
        return "; true 1, false 0"
    if rule["kind"] == "date":
        part = next(p for p, n in rule["inputs"].items() if n == name)
        what = f"days since {rule['origin']}" if part == "days" else part
        return f"; {what} of a date, {rule['format']}"
    style = rule.get("style", "plain")
    return "" if style == "plain" else f"; numbers {style.replace('_', ' ')}"


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

"""Exports: the SavedModel users serve, written in one place for `train`, `tune` and
`Result.export`.

    write_export("out/model", model, exporter)   # atomic: a temporary name, then moved

`export_classifier` and `export_regressor` write a `serve` signature over raw inputs
(see `recipes.engine.tasks` for what each task takes); `write_about` writes
`recipes.json` beside `saved_model.pb`: what the export takes and returns. A recipe
without an exporter (`Recipe.exporter` returns `None`) is exported with Keras's own
`model.export`: the model's inputs and outputs as they are.
"""

import json
import os
import shutil
from pathlib import Path

import keras
import tensorflow as tf


def check_export_path(path):
    """Raises a `ValueError` unless `path` can become a SavedModel directory."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"Cannot export to {path}: it is a file, and a SavedModel is a directory. "
            f"Received: export={str(path)!r}"
        )
    parent = path.absolute().parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"Cannot export to {path}: {parent} is a file, not a directory.")
    return path


def write_export(path, model=None, exporter=None, copy_of=None, files=None):
    """Writes a SavedModel to `path` atomically and returns `path` as a string.

    It is written under a temporary name beside `path` and moved into place, so an
    interrupted export never leaves a half-written model at `path`; an earlier model at
    `path` is replaced.

    Args:
        path: the SavedModel directory.
        model: the Keras model, exported with `model.export` when there is no
            `exporter`.
        exporter: a function `exporter(path)` writing the SavedModel (a recipe's
            `Recipe.exporter(model, data)`). Defaults to `None`.
        copy_of: an export already written, copied instead of writing anew.
            Defaults to `None`.
        files: `{name: text}` written into the export beside `saved_model.pb`, e.g.
            `best_hyperparameters.json`. Defaults to none.
    """
    path = check_export_path(path)
    partial = path.with_name(f".{path.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    if copy_of is not None:
        shutil.copytree(copy_of, partial)
    elif exporter is not None:
        exporter(partial)
    else:
        model.export(str(partial), format="tf_saved_model", verbose=False)
    for name, text in (files or {}).items():
        (partial / name).write_text(text)
    if path.exists():
        shutil.rmtree(path)
    os.replace(partial, path)
    return str(path)


# Beside `saved_model.pb`: what the export takes and returns, for `recipes.load`, the
# `predict` and `describe` commands, and people; TensorFlow ignores the file.
ABOUT = "recipes.json"


def export_classifier(model, path, inputs, class_names, prepare=None, about=None):
    """Writes a SavedModel whose `serve` signature returns `probabilities`, `class_id`
    and `class_name` for raw inputs.

    Args:
        model: a Keras classifier (softmax outputs).
        path: the SavedModel directory.
        inputs: the `tf.TensorSpec` of the raw input, or a dict of them by name.
        class_names: the name of each class, in label order.
        prepare: turns the raw inputs into what `model` takes. Defaults to `None`
            (a cast to float32).
        about: what the inputs are, written to `recipes.json` in `path` with the
            outputs (see `write_about`). Defaults to `None` (`{}`).
    """
    names = tf.constant([str(n) for n in class_names])
    prepare = prepare or (lambda raw: tf.cast(raw, "float32"))

    def serve(raw):
        probabilities = tf.cast(model(prepare(raw), training=False), "float32")
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "class_name": tf.gather(names, class_id),
        }

    _write(model, path, serve, inputs)
    write_about(path, about, outputs=["probabilities", "class_id", "class_name"],
                class_names=[str(n) for n in class_names])


def export_regressor(model, path, inputs, prepare=None, about=None):
    """Writes a SavedModel whose `serve` signature returns `prediction` (one value per
    example) for raw inputs; `inputs`, `prepare` and `about` as in `export_classifier`."""
    prepare = prepare or (lambda raw: tf.cast(raw, "float32"))

    def serve(raw):
        prediction = tf.cast(model(prepare(raw), training=False), "float32")
        return {"prediction": tf.reshape(prediction, [-1])}

    _write(model, path, serve, inputs)
    write_about(path, about, outputs=["prediction"])


def write_about(path, about, **more):
    """Writes `recipes.json` into the export at `path`: `about` (`kind`: `"table"` or
    `"images"`; a table's `inputs`, each `{"name", "column", "dtype"}`, its `task`,
    `target` and `left_out` columns; images' `shape` and `dtype`) with `more`
    (`outputs`, `class_names`)."""
    record = dict(about or {}, **more)
    (Path(path) / ABOUT).write_text(json.dumps(record, indent=1, ensure_ascii=False))


def _write(model, path, serve, inputs):
    """One `serve` endpoint over raw inputs: one spec, or a dict of named specs (each a
    named input of the `serve` signature; in Python, `serve({...})` takes the dict)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", tf.function(serve, input_signature=[inputs]))
    archive.write_out(str(path), verbose=False)

"""A fingerprint of the data a run or a search trains on, kept beside what resumes it.

    source = fingerprint(recipe, data_options={"images": "photos/"})
    check_same(run_dir / FILE, source, "an interrupted run", fix)   # before any work
    write(run_dir / FILE, source)

A run directory (`RUN_DIR/data.json`, read when `RUN_DIR/backup` would be resumed), an
`--auto` loop (`"data"` in `RUN_DIR/auto.json`) and a search (`PROJECT/data.json`) keep
the fingerprint of their data; the same command on other data is a one-line error that
names the fix (start afresh, or another directory), never a silent resume of the other
data's weights, loop or search.

What the fingerprint holds, for each data option given (`Recipe.data_options`): a file
by its absolute path, size and modification time; a folder by its path, its number of
files, their total size, the latest modification time and a hash of the listing (each
file's relative path, size and modification time; the pixels are not read); a numpy
array by its shape, dtype and the SHA-256 of its bytes; a pandas DataFrame by its shape
and the SHA-256 of `pandas.util.hash_pandas_object` (index and columns included); a
`tf.data.Dataset` by its element spec and cardinality; any other value (a TFDS name, a
column, a preset) as it is. Without a data option, the recipe's own TFDS `dataset`. A
`recipes.data.Splits` given as `data=` is known by its name, split sizes, input shape
and classes only. `limit` and `seed` are part of it: another limit trains on other
examples, another seed splits the rows another way.
"""

import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

FILE = "data.json"
# The ways out that a resume on other data names.
TRAIN_FIX = ("train with --overwrite (overwrite=True) to start afresh, or choose "
             "another --run-dir (run_dir=)")
TUNE_FIX = ("tune with --overwrite (overwrite=True) to start afresh, or choose "
            "another --directory (directory=)")


def fingerprint(recipe, data=None, data_options=None, limit=None, seed=None):
    """The fingerprint of the data `recipe` trains on (see the module docstring).

    Args:
        recipe: the `Recipe`.
        data: a `recipes.data.Splits` given instead of data options. Defaults to
            `None`.
        data_options: the recipe's data options, as given. Defaults to none.
        limit: the number of training examples used. Defaults to `None` (all).
        seed: the seed of the run's split and shuffle. Defaults to `None` (not part of
            the fingerprint).

    Returns:
        A dict of JSON values, the same for the same data read the same way.
    """
    if data is not None:
        source = {"splits": dict(
            name=data.name, train_size=data.train_size,
            validation_size=data.validation_size, test_size=data.test_size,
            input_shape=list(data.input_shape or ()), num_classes=data.num_classes,
        )}
    else:
        source = {"dataset": recipe.dataset} if recipe.dataset else {}
        for name, value in sorted((data_options or {}).items()):
            if value is not None:
                source[name] = describe(value)
    if limit is not None:
        source["limit"] = limit
    if seed is not None:
        source["seed"] = seed
    return json.loads(json.dumps(source, default=str))


def describe(value):
    """One data option's part of the fingerprint (see the module docstring)."""
    if isinstance(value, pd.DataFrame):
        try:
            digest = _sha(pd.util.hash_pandas_object(value, index=True).to_numpy())
        except TypeError:  # cells pandas cannot hash (lists): their text
            digest = _sha(value.to_csv().encode())
        columns = _sha(json.dumps([str(c) for c in value.columns]).encode())
        return dict(frame=list(value.shape), columns=columns, sha256=digest)
    if isinstance(value, np.ndarray):
        return dict(array=list(value.shape), dtype=str(value.dtype),
                    sha256=_sha(np.ascontiguousarray(value)))
    if hasattr(value, "element_spec"):  # a tf.data.Dataset
        return {"tf.data.Dataset": str(value.element_spec),
                "cardinality": int(value.cardinality())}
    if isinstance(value, (str, os.PathLike)):
        return _path(value) if os.path.exists(value) else str(value)
    if isinstance(value, (list, tuple)):
        if len(value) <= 64 and all(isinstance(v, (str, int, float, bool)) for v in value):
            return list(value)
        return describe(np.asarray(value))
    return value


def check_same(path, source, what, fix):
    """Raises a one-line `ValueError` when the fingerprint kept in `path` (a JSON file)
    differs from `source`; nothing when `path` does not exist.

    Args:
        path: the kept fingerprint's file.
        source: the fingerprint of the data given now (`fingerprint`).
        what: what would resume, e.g. `"runs/cnn holds an interrupted run"`.
        fix: the way out, e.g. `"train with --overwrite (overwrite=True) ..."`.
    """
    path = Path(path)
    if path.is_file():
        check_match(json.loads(path.read_text()), source, what, fix)


def check_match(kept, source, what, fix):
    """Raises a one-line `ValueError` naming the first difference when `kept` (a
    fingerprint) differs from `source`; `None` for `kept` means unknown (no check)."""
    if kept is None or kept == source:
        return
    names = [*kept, *(n for n in source if n not in kept)]
    name = next(n for n in names if kept.get(n) != source.get(n))
    raise ValueError(
        f"{what} on other data ({name}: {_short(kept.get(name))} then, "
        f"{_short(source.get(name))} now): {fix}."
    )


def write(path, source):
    """Writes the fingerprint `source` to `path` (a JSON file), its folder made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(source, indent=1))


def _path(value):
    path = Path(value).resolve()
    if path.is_file():
        stat = path.stat()
        return dict(path=str(path), bytes=stat.st_size, modified=stat.st_mtime_ns)
    listing = hashlib.sha256()
    files = total = latest = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        listing.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        files, total, latest = files + 1, total + stat.st_size, max(latest, stat.st_mtime_ns)
    return dict(path=str(path), files=files, bytes=total, modified=latest,
                listing=listing.hexdigest()[:16])


def _sha(buffer):
    return hashlib.sha256(buffer).hexdigest()[:16]


def _short(part):
    """A fingerprint's part for an error message."""
    if part is None:
        return "none"
    if not isinstance(part, dict):
        return repr(part)
    if "path" in part:
        when = datetime.datetime.fromtimestamp(part["modified"] / 1e9).isoformat(" ", "seconds")
        count = f"{part['files']} files, " if "files" in part else ""
        return f"{part['path']} ({count}{part['bytes']} bytes, modified {when})"
    if "array" in part:
        shape = tuple(part["array"])
        return f"an array of shape {shape} ({part['dtype']}, sha256 {part['sha256']})"
    if "frame" in part:
        return f"a DataFrame of shape {tuple(part['frame'])} (sha256 {part['sha256']})"
    return ", ".join(f"{k} {v}" for k, v in part.items())

"""`report.html`: one page that shows what a run or a search did, and what it gets wrong.

    result = cnn.train(images="photos/")      # also writes runs/cnn/report.html
    python -m recipes report runs/cnn         # writes it again from the run's files

A run's page holds its settings, the data (sizes of the splits, classes and their
counts, each column and its encoding, what was left out and why), the test metrics,
the learning curves (the kept epoch marked, the learning rate), the diagnosis and the
`--auto` steps; for a classifier the confusion matrix (counts and row shares), each
class's precision and recall, the most confused pairs and the test examples of highest
loss (images shown with their true and predicted class and its probability; rows of a
table listed); for regression the predictions against the truth and the residuals; for
a table, the permutation importance of each column on the validation split. A search's
page holds its leaderboard and its score against each hyperparameter.

The page is self-contained (images inline as PNG data, no script, no network) and
prints; a table wider than the page (a table of many columns) scrolls sideways in a box
of its own on screen and wraps its cells on paper. `record_evaluation`, called by
`train` while the model is at hand, writes what the page needs beside the run
(`evaluation.json`, `evaluation.npz`); `write_report` reads only files.
"""

import base64
import html
import json
from pathlib import Path

import numpy as np

from recipes.diagnostics import plots

REPORT = "report.html"
EVALUATION_JSON, EVALUATION_NPZ = "evaluation.json", "evaluation.npz"
TOP = 12  # examples of highest loss shown
IMPORTANCE_REPEATS = 5
IMPORTANCE_ROWS = 5000  # validation rows the importance is measured on, at most
IMPORTANCE_BATCH_ROWS = 50_000  # rows of shuffled copies predicted in one call, at most


def _predict(model, x):
    if isinstance(x, dict):  # text columns: Keras takes strings from a tf.data pipeline
        import tensorflow as tf

        x = tf.data.Dataset.from_tensor_slices(x).batch(512)
    return np.asarray(model.predict(x, verbose=0), "float64")


def _rows(x, index):
    """Rows `index` of a table's inputs as records of plain values."""
    def plain(v):
        v = v.decode() if isinstance(v, bytes) else v
        return None if isinstance(v, float) and np.isnan(v) else (
            v.item() if hasattr(v, "item") else v)

    return [{k: plain(x[k][i]) for k in x} for i in index]


def _counts(y, classes):
    return np.bincount(np.asarray(y, "int64"), minlength=classes).tolist()


def _score(y, output, classification):
    """The validation metric the importance is measured with: accuracy (higher is
    better) or mean absolute error (lower is better)."""
    if classification:
        return float(np.mean(output.argmax(-1) == y))
    return float(np.mean(np.abs(output.reshape(-1) - y)))


def permutation_importance(model, x, y, classification, repeats=IMPORTANCE_REPEATS, seed=0):
    """How much the metric worsens when each input column of `x` (a dict of arrays) is
    shuffled across rows: `{column: (median, low, high)}` over `repeats` shuffles."""
    rng = np.random.default_rng(seed)
    base = _score(y, _predict(model, x), classification)
    # The shuffled copies are predicted together, up to `IMPORTANCE_BATCH_ROWS` rows a
    # call: one `predict` per copy costs more than its rows on a small table.
    copies = [(name, x[name][rng.permutation(len(y))]) for name in x for _ in range(repeats)]
    per_call = max(1, IMPORTANCE_BATCH_ROWS // max(len(y), 1))
    scores = []
    for start in range(0, len(copies), per_call):
        part = copies[start:start + per_call]
        rows = {k: np.concatenate([column if k == name else x[k] for name, column in part])
                for k in x}
        output = _predict(model, rows)
        scores += [_score(y, chunk, classification) for chunk in np.split(output, len(part))]
    out = {}
    for i, name in enumerate(x):
        worse = [base - s if classification else s - base
                 for s in scores[i * repeats:(i + 1) * repeats]]
        out[name] = (float(np.median(worse)), float(min(worse)), float(max(worse)))
    return out


def record_evaluation(model, data, run_dir, seed=0, notes=None):
    """Predicts the test split (and, for a table, measures each column's importance on
    the validation split) and writes `evaluation.json` and `evaluation.npz` into
    `run_dir`, for `write_report`; `notes` (defaults to the data's own) are the data
    notes the page shows. Returns the record written to the JSON file."""
    run_dir = Path(run_dir)
    classification = bool(data.num_classes)
    table = hasattr(data, "columns")
    record = dict(
        name=data.name,
        task="classification" if classification else "regression",
        kind="table" if table else "images",
        sizes=dict(train=data.train_size, validation=data.validation_size,
                   test=data.test_size),
        notes=list(data.notes if notes is None else notes),
    )
    arrays = {}
    if table:
        record["columns"] = [
            dict(name=name, column=data.sources.get(name, name), kind=kind,
                 encoding=_encoding(kind, data.stats.get(name, {})))
            for name, kind in data.columns.items()
        ]
        record["left_out"] = dict(data.left_out)
        record["target"] = data.target
    if data.test is None:
        _write_evaluation(run_dir, record, arrays)
        return record
    x, y = data.arrays("test")
    output = _predict(model, x)
    if classification:
        names = [str(n) for n in (data.class_names or range(data.num_classes))]
        k = data.num_classes
        chance = np.clip(output[np.arange(len(y)), y.astype(int)], 1e-12, 1.0)
        losses = -np.log(chance)
        predicted = output.argmax(-1)
        counts = np.zeros((k, k), "int64")
        np.add.at(counts, (y.astype(int), predicted), 1)
        train_y = np.concatenate(list(  # the labels only: no inputs copied
            data.train.map(lambda x, label: label).batch(4096).as_numpy_iterator()))
        record.update(class_names=names, class_counts=dict(
            train=_counts(train_y, k), test=_counts(y, k)))
        arrays.update(y_true=y.astype("int64"), probabilities=output.astype("float32"),
                      confusion=counts)
    else:
        prediction = output.reshape(-1)
        losses = np.abs(prediction - y)
        arrays.update(y_true=y.astype("float64"), prediction=prediction)
    top = np.argsort(-losses, kind="stable")[:TOP]
    arrays.update(losses=losses, top=top)
    if table:
        record["top_rows"] = _rows(x, top)
        vx, vy = data.arrays("validation")
        keep = np.random.default_rng(seed).permutation(len(vy))[:IMPORTANCE_ROWS]
        vx = {k: v[keep] for k, v in vx.items()}
        record["importance"] = dict(
            metric="accuracy" if classification else "mae",
            repeats=IMPORTANCE_REPEATS,
            columns=permutation_importance(model, vx, vy[keep], classification, seed=seed),
        )
    elif x.ndim in (3, 4):  # images (feature vectors have no picture)
        arrays["top_images"] = x[top] if x.ndim == 4 else x[top][..., None]
        record["pixel_max"] = float(data.pixel_max or 255.0)
    _write_evaluation(run_dir, record, arrays)
    return record


def _encoding(kind, stats):
    if kind == "text":
        size = len(stats.get("vocabulary", []))
        return f"one-hot over {size} training values, and one for any other"
    fill = stats.get("fill")
    filled = f"; gaps filled with {fill:.4g} and flagged" if stats.get("missing") else ""
    if kind == "integer_category":
        return f"piecewise-linear over its {len(stats.get('values', []))} values{filled}"
    return f"piecewise-linear over training quantiles{filled}"


def _write_evaluation(run_dir, record, arrays):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / EVALUATION_JSON).write_text(json.dumps(record, indent=1, default=str))
    np.savez_compressed(run_dir / EVALUATION_NPZ, **arrays)


# -- the page -------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
.table { overflow-x: auto; max-width: 100%; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
pre { background: #f7f7f7; padding: .6em; white-space: pre-wrap; }
.note { color: #555; }
@media print { body { max-width: none; margin: 0; } h2 { page-break-after: avoid; }
               img { page-break-inside: avoid; } .table { overflow: visible; }
               table { table-layout: fixed; width: 100%; }
               td, th { overflow-wrap: anywhere; } }
"""


def _image(path, alt):
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _cell(value):
    if isinstance(value, float):
        return f'<td class="n">{value:.4g}</td>'
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f'<td class="n">{value}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _table(columns, rows):
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns or ())
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    # In a box of its own, which scrolls sideways when the table is wider than the page
    # (a table of many columns), so the page itself does not.
    return (f"<div class='table'><table>{f'<tr>{head}</tr>' if head else ''}{body}"
            "</table></div>")


def _pairs(mapping):
    return _table(None, [[k, v if not isinstance(v, (dict, list)) else json.dumps(v)]
                         for k, v in mapping.items()])


def write_report(folder, result=None):
    """Writes `report.html` into a run's directory (from its `Result`, `result`, and,
    when `train` wrote them, `evaluation.*`) or a search's project folder (from
    `search.json` and `trials.csv`); returns its path.

    Raises:
        ValueError: `folder` is neither a saved run nor a search.
    """
    folder = Path(folder)
    if (folder / "search.json").is_file():
        body = _search_sections(folder)
        title = f"Search over {json.loads((folder / 'search.json').read_text())['recipe']}"
    elif result is not None:
        title, body = _run_sections(folder, result)
    else:
        raise ValueError(
            f"{folder} is neither a run (no result.json) nor a search (no search.json): "
            "pass the --run-dir of `train` or the project folder of `tune`."
        )
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{''.join(body)}</body></html>")
    path = folder / REPORT
    path.write_text(page)
    return str(path)


def _run_sections(folder, result):
    figures = folder / "report"
    figures.mkdir(exist_ok=True)
    out = ["<h2>Test metrics</h2>",
           _pairs({k: float(v) for k, v in result.test_metrics.items()}) if result.test_metrics
           else "<p>No test split.</p>"]
    evaluation = {}
    if (folder / EVALUATION_JSON).is_file():
        evaluation = json.loads((folder / EVALUATION_JSON).read_text())
    out += _data_section(evaluation, result)
    curves = plots.learning_curves(result.history, figures / "learning_curves.png",
                                   kept_epoch=result.kept_epoch)
    out += ["<h2>Learning curves</h2>", _image(curves, "learning curves")]
    diagnosis = result.diagnosis or result.diagnose()
    out += ["<h2>Diagnosis</h2>", f"<pre>{html.escape(str(diagnosis))}</pre>"]
    if result.auto:
        steps = result.auto.get("steps", [])
        stopped = f"Stopped: {result.auto.get('stopped')}; chosen: step {result.auto.get('chosen')}."
        out.append(f"<h3>--auto steps</h3><p>{html.escape(stopped)}</p>")
        out.append(_table(["step", "diagnosis", "change", "seconds", "kept"], [
            [s.get("step"), s.get("diagnosis"), s.get("change"), s.get("seconds"), s.get("kept")]
            for s in steps]))
        if (folder / "auto.png").is_file():
            out.append(_image(folder / "auto.png", "auto steps"))
    if evaluation and (folder / EVALUATION_NPZ).is_file():
        arrays = dict(np.load(folder / EVALUATION_NPZ))
        if evaluation["task"] == "classification" and "confusion" in arrays:
            out += _classifier_sections(evaluation, arrays, figures)
        elif "prediction" in arrays:
            path = plots.regression_fit(arrays["y_true"], arrays["prediction"],
                                        figures / "regression.png")
            out += ["<h2>Predictions on the test split</h2>", _image(path, "regression")]
        if "top_rows" in evaluation:
            out += _top_rows(evaluation, arrays)
        if "importance" in evaluation:
            out += _importance(evaluation, figures)
    out += ["<h2>Settings</h2>", _pairs(dict(result.settings, **{
        "hyperparameters": result.hyperparameters}))]
    return f"Run of {result.recipe}", out


def _data_section(evaluation, result):
    out = ["<h2>Data</h2>"]
    if not evaluation:
        return out + ["<p class='note'>The run was saved without its evaluation.</p>"]
    sizes = evaluation["sizes"]
    out.append(f"<p>{html.escape(evaluation['name'])}: {sizes['train']} training, "
               f"{sizes['validation']} validation and {sizes['test']} test examples.</p>")
    if "class_counts" in evaluation:
        counts = evaluation["class_counts"]
        out.append(_table(["class", "train", "test"], [
            [n, a, b] for n, a, b in zip(evaluation["class_names"], counts["train"], counts["test"])]))
    if "columns" in evaluation:
        out.append(f"<p>Target: {html.escape(evaluation['target'])}</p>")
        out.append(_table(["input", "column", "kind", "encoding"], [
            [c["name"], c["column"], c["kind"], c["encoding"]] for c in evaluation["columns"]]))
        if evaluation.get("left_out"):
            out.append("<p>Left out:</p>" + _table(["column", "why"], list(evaluation["left_out"].items())))
    for note in evaluation.get("notes", []):
        out.append(f"<p class='note'>{html.escape(note)}</p>")
    return out


def _classifier_sections(evaluation, arrays, figures):
    names = evaluation["class_names"]
    counts = arrays["confusion"]
    out = ["<h2>Confusion matrix (test split)</h2>",
           _image(plots.confusion_matrix(counts, names, figures / "confusion.png"),
                  "confusion matrix")]
    predicted, support = counts.sum(0), counts.sum(1)
    diagonal = np.diag(counts)
    rows = [[n, float(diagonal[i] / predicted[i]) if predicted[i] else None,
             float(diagonal[i] / support[i]) if support[i] else None, int(support[i])]
            for i, n in enumerate(names)]
    out += ["<h3>Per class</h3>", _table(["class", "precision", "recall", "test examples"], rows)]
    pairs = [(int(counts[i, j]), names[i], names[j]) for i in range(len(names))
             for j in range(len(names)) if i != j and counts[i, j]]
    pairs.sort(key=lambda p: -p[0])
    out += ["<h3>Most confused</h3>",
            _table(["true", "predicted as", "times"], [[t, p, c] for c, t, p in pairs[:10]])
            if pairs else "<p>None.</p>"]
    if "top_images" in arrays:
        top = arrays["top"]
        probs = arrays["probabilities"][top]
        chosen = probs.argmax(-1)
        path = plots.top_losses(
            arrays["top_images"], [names[i] for i in arrays["y_true"][top]],
            [names[i] for i in chosen], probs[np.arange(len(top)), chosen],
            arrays["losses"][top], figures / "top_losses.png",
            pixel_max=evaluation.get("pixel_max", 255.0))
        out += ["<h2>Test images of highest loss</h2>", _image(path, "top losses")]
    return out


def _top_rows(evaluation, arrays):
    top = arrays["top"]
    rows = evaluation["top_rows"]
    if evaluation["task"] == "classification":
        names = evaluation["class_names"]
        probs = arrays["probabilities"][top]
        extra = [[names[arrays["y_true"][i]], names[p.argmax()], float(p.max()),
                  float(arrays["losses"][i])] for i, p in zip(top, probs)]
        heads = ["true", "predicted", "probability", "loss"]
    else:
        extra = [[float(arrays["y_true"][i]), float(arrays["prediction"][i]),
                  float(arrays["losses"][i])] for i in top]
        heads = ["true", "predicted", "absolute error"]
    columns = list(rows[0]) if rows else []
    return ["<h2>Test rows of highest loss</h2>",
            _table(heads + columns, [e + [r[c] for c in columns] for e, r in zip(extra, rows)])]


def _importance(evaluation, figures):
    info = evaluation["importance"]
    items = info["columns"]
    names = list(items)
    path = plots.importance(names, [items[n][0] for n in names],
                            [(items[n][1], items[n][2]) for n in names],
                            figures / "importance.png", info["metric"])
    ranked = sorted(names, key=lambda n: -items[n][0])
    return [f"<h2>Permutation importance (validation split, median of {info['repeats']} "
            "shuffles)</h2>", _image(path, "importance"),
            _table(["input", f"worsening of {info['metric']}", "low", "high"],
                   [[n, *items[n]] for n in ranked])]


def _search_sections(folder):
    import pandas as pd

    record = json.loads((folder / "search.json").read_text())
    out = ["<h2>Search</h2>", _pairs({k: v for k, v in record.items() if k != "recipe"})]
    board = folder / "trials.csv"
    if board.is_file():
        frame = pd.read_csv(board).astype(object).where(lambda f: f.notna(), None)
        out += ["<h2>Leaderboard</h2>",
                _table(list(frame.columns), frame.values.tolist())]
    if (folder / "trials.png").is_file():
        out += ["<h2>Score against each hyperparameter</h2>",
                _image(folder / "trials.png", "score against each hyperparameter")]
    return out


def search_record(result):
    """What `search.json` holds of a `SearchResult`, for the page."""
    keep = ("recipe", "objective", "best_trial_id", "best_hyperparameters", "test_metrics",
            "stop_reason", "budget", "export_path")
    return {k: getattr(result, k) for k in keep}

"""The `tabular` recipe against scikit-learn's linear and logistic regression, on real tables.

    python benchmarks/tabular.py [--seeds 3] [--out results.json]

Tables shipped with statsmodels (no network needed): `grunfeld` (investment of 11 US
firms, a text column `firm`; regression of `invest`), `fair` (a 1974 survey; regression
of `affairs`), `anes96` (the 1996 US election survey; classification of `vote`) and
`randhie` (the RAND health insurance experiment, first 5,000 rows; regression of the
number of doctor visits `mdvis`). For each seed both models see the same seeded split
(`recipes.data.load_table`): the recipe with its defaults, scikit-learn's
`LinearRegression` / `LogisticRegression` on one-hot text and small integers and
standardised numbers. The two alternate seed by seed. The table gives medians (min-max)
of the test MAE (regression, lower is better) or test accuracy (classification).
Needs scikit-learn (`pip install scikit-learn`), which the recipes do not.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
from recipes import data, tabular  # noqa: E402
from tables import frames  # noqa: E402  (benchmarks/tables.py, beside this file)

TABLES = {
    "grunfeld": ("invest", None),
    "fair": ("affairs", None),
    "anes96": ("vote", None),
    "randhie": ("mdvis", 5000),
}


def load(name):
    import statsmodels.api as sm

    target, rows = TABLES[name]
    frame = getattr(sm.datasets, name).load_pandas().data
    return frame.iloc[:rows] if rows else frame, target


def reference(splits):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = frames(splits)
    numbers = [c for c, k in splits.columns.items() if k == "number"]
    categories = [c for c, k in splits.columns.items() if k != "number"]
    encode = ColumnTransformer([
        ("numbers", StandardScaler(), numbers),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
    ])
    classify = splits.task == "classification"
    model = make_pipeline(encode, LogisticRegression(max_iter=2000) if classify else LinearRegression())
    start = time.perf_counter()
    model.fit(*parts["train"])
    seconds = time.perf_counter() - start
    x, y = parts["test"]
    predicted = model.predict(x)
    score = float((predicted == y).mean()) if classify else float(np.abs(predicted - y).mean())
    return score, seconds


def recipe(splits, seed):
    with tempfile.TemporaryDirectory() as tmp:
        result = tabular.train(data=splits, seed=seed, run_dir=tmp, verbose=0, diagnose=False)
    metric = "accuracy" if splits.task == "classification" else "mae"
    return result.test_metrics[metric], result.timings["fit_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    runs = {name: {"recipe": [], "reference": [], "recipe_s": []} for name in args.tables}
    tasks = {}
    for seed in range(args.seeds):
        for name in args.tables:
            frame, target = load(name)
            splits = data.load_table(frame=frame, target=target, seed=seed)
            tasks[name] = splits.task
            order = ("reference", "recipe") if seed % 2 else ("recipe", "reference")
            for who in order:
                score, seconds = reference(splits) if who == "reference" else recipe(splits, seed)
                runs[name][who].append(score)
                if who == "recipe":
                    runs[name]["recipe_s"].append(seconds)
            print(f"seed {seed} {name}: recipe {runs[name]['recipe'][-1]:.4g}, "
                  f"scikit-learn {runs[name]['reference'][-1]:.4g}", flush=True)

    print(f"\n{'table':<10} {'task':<15} {'metric':<9} {'recipe':<26} {'scikit-learn':<26} recipe s")
    summary = {}
    for name in args.tables:
        r = runs[name]
        metric = "accuracy" if tasks[name] == "classification" else "test MAE"
        print(f"{name:<10} {tasks[name]:<15} {metric:<9} {spread(r['recipe'], '{:.4g}'):<26} "
              f"{spread(r['reference'], '{:.4g}'):<26} {median(r['recipe_s']):.1f}")
        summary[f"{name}_recipe"] = median(r["recipe"])
        summary[f"{name}_reference"] = median(r["reference"])
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs, tasks=tasks), indent=1))


if __name__ == "__main__":
    main()

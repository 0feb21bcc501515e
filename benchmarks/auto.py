"""`train(auto=...)` against the defaults and against KerasTuner's Hyperband, same budget.

    python benchmarks/auto.py [--cases hard tables mnist] [--seeds 3] [--limit 20000]
                              [--out FILE]

Three cases, each side by side in one run, the sides alternating seed by seed:
- `hard`: the `cnn` task on the harder digits of `benchmarks/cnn_tasks.py` (MNIST
  turned, scaled, shifted, noised and patched; the first `--limit` training images),
  where its defaults underfit. The defaults train first and their wall time `T` sets
  the budget: `--auto 3T`, and Hyperband over the same recipe's search space with the
  same 3T of wall clock (trials are not started after it, and the one running stops at
  its epoch end). Test accuracy, measured once per side.
- `tables`: the `tabular` task on two real tables cut to few rows (statsmodels'
  `anes96`, 150 rows, classification of `vote`; `star98`, 100 rows and 21 columns,
  regression of `NABOVE`), where the defaults overfit: the defaults against
  `--auto 120` (seconds). Validation loss and MAE (what `--auto` chooses a regression
  by: the loss counts the L2 penalty), and the test score.
- `mnist`: `cnn_mnist`, whose defaults are already fine: `--auto` should stop after
  the first step.
Each line gives medians (min-max) over the seeds; the auto rows also say which steps
were kept and why the loop stopped.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import tensorflow as tf  # noqa: E402

from recipes import cnn, cnn_mnist, tabular  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_tasks import harder, mnist_arrays  # noqa: E402
from common import median, print_summary, spread  # noqa: E402


def hard_splits(limit, seed):
    (x, y), (xt, yt) = mnist_arrays()
    x, y, xt = harder(x[:limit], 1), y[:limit], harder(xt, 2)
    splits = cnn.recipe.load_data(x=x, y=y, seed=seed)
    return dataclasses.replace(  # the test images are MNIST's own, harder
        splits,
        train=splits.train.concatenate(splits.test),
        train_size=splits.train_size + splits.test_size,
        test=tf.data.Dataset.from_tensor_slices((xt, yt)),
        test_size=len(yt),
    )


def stop_trials_after(deadline):
    """Hyperband under a wall clock: no trial starts after `deadline`
    (`time.monotonic()`), and the running one stops at its next epoch end."""
    original = keras_tuner.Oracle.create_trial

    def create_trial(self, tuner_id):
        if time.monotonic() > deadline:
            self.max_trials = len(self.trials)  # the oracle answers STOPPED
        return original(self, tuner_id)

    keras_tuner.Oracle.create_trial = create_trial

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if time.monotonic() > deadline:
                self.model.stop_training = True

    return Stop(), lambda: setattr(keras_tuner.Oracle, "create_trial", original)


def summary_of(result):
    """One line on what `--auto` did, after its steps (printed as they were)."""
    steps = result.auto["steps"]
    for s in steps:
        val = next(v for v in (s["val_error"], s.get("val_metric"), s["val_loss"]) if v is not None)
        print(f"    step {s['step']}: {s['diagnosis'] or '-'} -> {s['change']}: "
              f"val {val:.4g}, {s['seconds']:.0f} s, {'kept' if s['kept'] else 'dropped'}")
    kept = [s["change"] for s in steps if s["kept"] and s["step"]]
    return (f"{len(steps)} steps; kept: {', '.join(kept) or 'the defaults'}; "
            f"stopped: {result.auto['stopped'][:90]}")


def hard_case(seed, limit, tmp):
    data = hard_splits(limit, seed)
    row = {}
    start = time.monotonic()
    defaults = cnn.recipe.train(data=data, seed=seed, run_dir=f"{tmp}/defaults-{seed}",
                                verbose=0, diagnose=False)
    seconds = time.monotonic() - start
    budget = 3 * seconds
    row["defaults"] = dict(acc=defaults.test_metrics["accuracy"], seconds=seconds,
                           what=f"diagnosis: {defaults.diagnose().verdict}")
    sides = ["auto", "hyperband"] if seed % 2 == 0 else ["hyperband", "auto"]
    for side in sides:
        start = time.monotonic()
        if side == "auto":
            result = cnn.recipe.train(data=data, seed=seed, run_dir=f"{tmp}/auto-{seed}",
                                      auto=budget, verbose=0, diagnose=False)
            print(f"  hard digits, --auto (seed {seed}):")
            row["auto"] = dict(acc=result.test_metrics["accuracy"], what=summary_of(result),
                               steps=result.auto["steps"])
        else:
            stop, restore = stop_trials_after(time.monotonic() + budget)
            try:
                found = cnn.recipe.search(data=data, seed=seed, tuner="hyperband",
                                          max_trials=1000, directory=f"{tmp}/hb-{seed}",
                                          callbacks=[stop], verbose=0)
            finally:
                restore()
            done = [t for t in found.trials if t["status"] == "COMPLETED"]
            best = {k: v for k, v in found.best_hyperparameters.items()
                    if k in ("depth", "filters", "batch_norm", "dropout", "learning_rate")}
            row["hyperband"] = dict(acc=found.test_metrics["accuracy"],
                                    what=f"{len(done)} trials; best {best}")
        row[side]["seconds"] = time.monotonic() - start
    row["budget"] = budget
    return row


def table_frames():
    import statsmodels.api as sm

    for name, target, rows in (("anes96", "vote", 150), ("star98", "NABOVE", 100)):
        frame = getattr(sm.datasets, name).load_pandas().data
        yield name, frame.sample(frac=1, random_state=0).iloc[:rows], target


def table_case(seed, tmp):
    rows = {}
    for name, frame, target in table_frames():
        row = {}
        sides = ["defaults", "auto"] if seed % 2 == 0 else ["auto", "defaults"]
        for side in sides:
            start = time.monotonic()
            result = tabular.train(frame=frame, target=target, seed=seed, verbose=0,
                                   diagnose=False, run_dir=f"{tmp}/{name}-{side}-{seed}",
                                   auto=120 if side == "auto" else None)
            epoch = min(range(len(result.history["val_loss"])),
                        key=result.history["val_loss"].__getitem__)
            metric = "accuracy" if "accuracy" in result.test_metrics else "mae"
            if side == "auto":
                print(f"  {name}, --auto (seed {seed}):")
            what = (summary_of(result) if side == "auto"
                    else f"diagnosis: {result.diagnose(epoch='best').verdict}")
            row[side] = dict(val_loss=result.history["val_loss"][epoch],
                             val_mae=(result.history.get("val_mae") or [None] * (epoch + 1))[epoch],
                             steps=result.auto["steps"] if result.auto else None,
                             test=result.test_metrics[metric], metric=metric,
                             seconds=time.monotonic() - start, what=what)
        rows[name] = row
    return rows


def mnist_case(seed, tmp):
    start = time.monotonic()
    result = cnn_mnist.recipe.train(seed=seed, run_dir=f"{tmp}/mnist-{seed}", auto="15m",
                                    verbose=0, diagnose=False)
    print(f"  cnn_mnist, --auto (seed {seed}):")
    return dict(acc=result.test_metrics["accuracy"], steps=len(result.auto["steps"]),
                seconds=time.monotonic() - start, what=summary_of(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["hard", "tables", "mnist"],
                        choices=["hard", "tables", "mnist"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--out")
    args = parser.parse_args()
    out, summary = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if "hard" in args.cases:
            runs = [hard_case(seed, args.limit, tmp) for seed in range(args.seeds)]
            out["hard"] = runs
            print(f"\nhard digits ({args.limit} training images), budget 3x the defaults' "
                  f"time: median {median(r['budget'] for r in runs):.0f} s")
            for side in ("defaults", "auto", "hyperband"):
                acc = spread((100 * r[side]["acc"] for r in runs), "{:.2f}")
                seconds = spread((r[side]["seconds"] for r in runs), "{:.0f}")
                print(f"  {side:<10} test acc {acc}%  {seconds} s  {runs[-1][side]['what']}")
            for side in ("defaults", "auto", "hyperband"):
                summary[f"hard_{side}_acc"] = median(r[side]["acc"] for r in runs)
        if "tables" in args.cases:
            runs = [table_case(seed, tmp) for seed in range(args.seeds)]
            out["tables"] = runs
            for name in runs[0]:
                print(f"\n{name} (few rows), auto budget 120 s")
                for side in ("defaults", "auto"):
                    cells = [r[name][side] for r in runs]
                    column = {key: [c[key] for c in cells]
                              for key in ("val_loss", "val_mae", "test", "seconds")}
                    mae = (f"  val MAE {spread(column['val_mae'], '{:.4g}')}"
                           if cells[0]["val_mae"] is not None else "")
                    print(f"  {side:<10} val loss {spread(column['val_loss'], '{:.4g}')}{mae}"
                          f"  test {cells[0]['metric']} {spread(column['test'], '{:.4g}')}"
                          f"  {spread(column['seconds'], '{:.0f}')} s  {cells[-1]['what']}")
                    summary[f"{name}_{side}_val_loss"] = median(column["val_loss"])
                    if cells[0]["val_mae"] is not None:
                        summary[f"{name}_{side}_val_mae"] = median(column["val_mae"])
                    summary[f"{name}_{side}_test"] = median(column["test"])
        if "mnist" in args.cases:
            runs = [mnist_case(seed, tmp) for seed in range(args.seeds)]
            out["mnist"] = runs
            acc = spread((100 * r["acc"] for r in runs), "{:.2f}")
            seconds = spread((r["seconds"] for r in runs), "{:.0f}")
            steps = spread((r["steps"] for r in runs), "{}")
            print(f"\ncnn_mnist --auto 15m: test acc {acc}%  {seconds} s  steps {steps}  "
                  f"{runs[-1]['what']}")
            summary["mnist_auto_steps"] = median(r["steps"] for r in runs)
            summary["mnist_auto_acc"] = median(r["acc"] for r in runs)
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(runs=out, summary=summary), indent=1,
                                             default=str))


if __name__ == "__main__":
    main()

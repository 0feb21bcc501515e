"""Which `cnn` task defaults? Candidates of similar cost, chosen on validation accuracy.

    python benchmarks/cnn_defaults.py [--seeds 1] [--kinds characters hard digits]
                                      [--candidates base bn wide48 ...]
    python benchmarks/cnn_defaults.py --recipe cnn_mnist [--candidates base bn epochs15]

On the three kinds of 10,000 images of `benchmarks/images.py` (Kuzushiji characters,
distorted digits, MNIST digits), each candidate trains the `cnn` task with the seed's
split; the reference is `base`, the task's defaults before batch norm was turned on
(`hp={"batch_norm": False}`). The table gives each candidate's validation accuracy at
its kept epoch and its training seconds (medians, min-max over seeds); the test split is
not used. The summary line gives, per candidate, the median over kinds of the gain in
validation accuracy over `base` (points) and of the time ratio.

`--recipe cnn_mnist` asks the same of the `cnn_mnist` preset's own settings (batch norm
off, 12 epochs) on all of MNIST (its 60,000 training images, the preset's seeded
validation split; the test images unused): `base` is the preset.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, print_summary, spread  # noqa: E402
from images import source  # noqa: E402
from recipes import cnn, cnn_mnist  # noqa: E402
from recipes.diagnostics import format_table  # noqa: E402

CANDIDATES = {
    "base": ({"batch_norm": False}, {}),
    "bn": ({"batch_norm": True}, {}),
    "wide48": ({"batch_norm": False, "filters": 48}, {}),
    "bn_wide40": ({"batch_norm": True, "filters": 40}, {}),
    "epochs15": ({"batch_norm": False}, {"epochs": 15}),
    "epochs16": ({"batch_norm": False}, {"epochs": 16}),
    "bn_epochs16": ({"batch_norm": True}, {"epochs": 16}),
}


RECIPES = {"cnn": cnn.recipe, "cnn_mnist": cnn_mnist.recipe}


def run(recipe, kind, name, seed, data):
    hp, settings = CANDIDATES[name]
    with tempfile.TemporaryDirectory() as tmp:
        r = recipe.train(data=data, hp=hp, seed=seed, run_dir=tmp, verbose=0, diagnose=False,
                         **settings)
    return dict(kind=kind, name=name, seed=seed, val_acc=r.history["val_accuracy"][r.kept_epoch - 1],
                seconds=r.timings["fit_seconds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--recipe", choices=list(RECIPES), default="cnn")
    parser.add_argument("--kinds", nargs="+", default=["characters", "hard", "digits"])
    parser.add_argument("--candidates", nargs="+", default=None, choices=list(CANDIDATES))
    parser.add_argument("--out", help="also append each run as a JSON line to this file")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    if args.recipe == "cnn_mnist":
        args.kinds = ["mnist"]
    if args.candidates is None:
        args.candidates = (["base", "bn", "epochs15"] if args.recipe == "cnn_mnist"
                           else [c for c in CANDIDATES if c != "epochs15"])
    rows = []
    for seed in range(args.seeds):
        for kind in args.kinds:
            data = (recipe.load_data(seed=seed) if kind == "mnist"
                    else recipe.load_data(seed=seed, **source(kind)[0]))
            # Alternate the order seed by seed: the machine's speed drifts.
            names = args.candidates if seed % 2 == 0 else args.candidates[::-1]
            for name in names:
                row = run(recipe, kind, name, seed, data)
                print(json.dumps(row), flush=True)
                rows.append(row)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    table, gains, ratios = [], {}, {}
    for kind in args.kinds:
        for name in args.candidates:
            mine = [r for r in rows if r["kind"] == kind and r["name"] == name]
            table.append([kind, name, spread([100 * r["val_acc"] for r in mine], "{:.2f}"),
                          spread([r["seconds"] for r in mine], "{:.0f}")])
            base = [r for r in rows if r["kind"] == kind and r["name"] == "base"]
            if base:
                gains.setdefault(name, []).append(100 * (
                    median(r["val_acc"] for r in mine) - median(r["val_acc"] for r in base)))
                ratios.setdefault(name, []).append(
                    median(r["seconds"] for r in mine) / median(r["seconds"] for r in base))
    print(f"{args.recipe} candidates, validation accuracy at the kept epoch, {args.seeds} seed(s), "
          f"CPU ({os.cpu_count()} cores)")
    print(format_table(["images", "candidate", "val accuracy (%)", "seconds"], table))
    summary = {}
    for n in args.candidates:
        if n in gains:
            summary.update({f"{n}_gain": median(gains[n]), f"{n}_time": median(ratios[n])})
    print_summary(summary, "{:.2f}")


if __name__ == "__main__":
    main()

"""Which `cnn` task defaults? Candidates of similar cost, chosen on validation accuracy.

    python benchmarks/cnn_defaults.py [--seeds 1] [--kinds characters hard digits]
                                      [--candidates base bn wide48 ...] [--base base]
    python benchmarks/cnn_defaults.py --kinds fashion --candidates bn dense256 ... --base bn
    python benchmarks/cnn_defaults.py --recipe cnn_mnist [--candidates base bn epochs15]

On the kinds of images of `benchmarks/images.py` (Kuzushiji characters, distorted
digits, MNIST digits: 10,000 images each; `fashion`: Fashion-MNIST's 60,000 training
images, asked for by name), each candidate trains the `cnn` task with the seed's split.
A candidate names its model, settings and augmentation in full (`candidate`: `bn`, the
task's defaults before Fashion-MNIST was a kind, changed by its arguments), so it stays
the model it was when measured after the defaults move. The reference is `--base`
(default `base`: `bn` with batch norm off, the defaults before batch norm was turned
on). The table gives each candidate's validation accuracy at its kept epoch and its
training seconds (`fit_seconds`; medians, min-max over seeds); the test split is not
used. For a model with the mirror average (`tta`, on where training flips), the table
also gives the validation accuracy of the same weights without it. The summary line
gives, per candidate, the median over kinds of the gain in validation accuracy over the
reference (points) and of the time ratio.

`--recipe cnn_mnist` asks the same of the `cnn_mnist` preset's own settings (batch norm
off, 12 epochs) on all of MNIST (its 60,000 training images, the preset's seeded
validation split; the test images unused): `base` is the preset.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median, print_summary, spread  # noqa: E402
from images import source  # noqa: E402
from recipes import cnn, cnn_mnist  # noqa: E402
from recipes.diagnostics import format_table  # noqa: E402

# The `cnn` task's defaults before Fashion-MNIST was one of the kinds (issue 37). Every
# candidate names its model and training in full, so that it stays the one measured
# when the defaults move: (hyperparameters, settings, the recipe's `augment_options`).
BEFORE_HP = {"depth": 1, "filters": 32, "batch_norm": True, "dropout": 0.3, "dense": 0,
             "label_smoothing": 0.0, "tta": False}
BEFORE_SETTINGS = {"epochs": 12}
BEFORE_AUGMENT = {"digits": dict(rotation=5.0, translation=0.05, zoom=0.05),
                  "photos": dict(translation=0.05, zoom=0.05)}


def candidate(augment=None, epochs=12, **hp):
    """`(hp, settings, augment_options)`: the defaults before, changed by the arguments."""
    augment = {**BEFORE_AUGMENT, **(augment or {})}
    return {**BEFORE_HP, **hp}, {**BEFORE_SETTINGS, "epochs": epochs}, augment


# The first comparison, on the three kinds of 10,000 images: batch norm turned on.
FIRST = ("base", "bn", "wide48", "bn_wide40", "epochs16", "bn_epochs16")
CANDIDATES = {
    "base": candidate(batch_norm=False),
    "bn": candidate(),  # the defaults before issue 37
    "wide48": candidate(batch_norm=False, filters=48),
    "bn_wide40": candidate(filters=40),
    "epochs15": candidate(batch_norm=False, epochs=15),
    "epochs16": candidate(batch_norm=False, epochs=16),
    "bn_epochs16": candidate(epochs=16),
    # Screened on Fashion-MNIST against `bn`, the best then checked on the three kinds
    # (issue 37). depth2 and wide48_bn were not trained: their steps cost several times
    # bn's (benchmarks/README.md).
    "smooth": candidate(label_smoothing=0.1),
    "erase": candidate(augment={"photos": dict(translation=0.05, zoom=0.05, erasing=0.5)}),
    "dense256": candidate(dense=256),
    "dense256_epochs14": candidate(dense=256, epochs=14),  # the defaults of issue 37 ...
    # ... and with the mirror average where training flips (the defaults since): each run
    # also gives the validation accuracy of the same weights without it (`val_plain`).
    "tta": candidate(dense=256, epochs=14, tta=True),
    "drop10": candidate(dropout=0.1),
    "depth2": candidate(depth=2),
    "wide48_bn": candidate(filters=48),
}


RECIPES = {"cnn": cnn.recipe, "cnn_mnist": cnn_mnist.recipe}


def run(recipe, kind, name, seed, data):
    hp, settings, augment = CANDIDATES[name]
    if recipe.name == "cnn_mnist":  # its own model: a candidate sets batch norm and epochs
        hp = {k: v for k, v in hp.items() if k == "batch_norm"}
        settings = {k: v for k, v in settings.items() if v != BEFORE_SETTINGS.get(k)}
    else:
        recipe = copy.copy(recipe)
        recipe.augment_options = augment
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        r = recipe.train(data=data, hp=hp, seed=seed, run_dir=tmp, verbose=0, diagnose=False,
                         **settings)
    kept = r.kept_epoch - 1
    extra = {}
    if any(type(layer).__name__ == "MirrorBatch" for layer in r.model.layers):
        plain = recipe.build_model({**hp, "tta": False}, data=data)
        plain.set_weights(r.model.get_weights())
        x, y = data.arrays("validation")
        predicted = plain.predict(x.astype("float32"), batch_size=512, verbose=0).argmax(1)
        extra["val_plain"] = float((predicted == y).mean())
    return dict(kind=kind, name=name, seed=seed, val_acc=r.history["val_accuracy"][kept], **extra,
                train_acc=r.history["accuracy"][kept], epoch=kept + 1,
                seconds=r.timings["fit_seconds"], wall=time.perf_counter() - start,
                epoch_seconds=[round(s, 1) for s in r.timings.get("epoch_seconds") or ()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--recipe", choices=list(RECIPES), default="cnn")
    parser.add_argument("--kinds", nargs="+", default=["characters", "hard", "digits"])
    parser.add_argument("--candidates", nargs="+", default=None, choices=list(CANDIDATES))
    parser.add_argument("--base", default="base", choices=list(CANDIDATES),
                        help="the candidate the others are compared with")
    parser.add_argument("--out", help="also append each run as a JSON line to this file")
    parser.add_argument("--rows", help="train nothing: tabulate the runs of this --out file")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    if args.recipe == "cnn_mnist":
        args.kinds = ["mnist"]
    if args.candidates is None:
        args.candidates = (["base", "bn", "epochs15"] if args.recipe == "cnn_mnist"
                           else list(FIRST))
    rows = []
    if args.rows:  # runs made one at a time, e.g. each under its own lock
        rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines() if line]
        rows = [r for r in rows if r["seed"] < args.seeds]
    for seed in range(0 if args.rows else args.seeds):
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
            if not mine:
                continue
            plain = [100 * r["val_plain"] for r in mine if "val_plain" in r]
            table.append([kind, name, spread([100 * r["val_acc"] for r in mine], "{:.2f}"),
                          spread(plain, "{:.2f}") if plain else "-",
                          spread([r["seconds"] for r in mine], "{:.0f}")])
            base = [r for r in rows if r["kind"] == kind and r["name"] == args.base]
            if base:
                gains.setdefault(name, []).append(100 * (
                    median(r["val_acc"] for r in mine) - median(r["val_acc"] for r in base)))
                ratios.setdefault(name, []).append(
                    median(r["seconds"] for r in mine) / median(r["seconds"] for r in base))
    print(f"{args.recipe} candidates, validation accuracy at the kept epoch, {args.seeds} seed(s), "
          f"CPU ({os.cpu_count()} cores)")
    print(format_table(["images", "candidate", "val accuracy (%)",
                        "the same weights without the mirror average (%)", "seconds"], table))
    summary = {}
    for n in args.candidates:
        if n in gains:
            summary.update({f"{n}_gain": median(gains[n]), f"{n}_time": median(ratios[n])})
    print_summary(summary, "{:.2f}")


if __name__ == "__main__":
    main()

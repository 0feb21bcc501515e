"""The `cnn` task's defaults and `--auto` on three kinds of images, against keras.io's convnet.

    python benchmarks/images.py [--seeds 3] [--kinds digits characters hard] [--auto 3]
                                [--out FILE]
    python benchmarks/images.py --seeds 1 --kinds fashion --auto 0

Three kinds of 28x28 grayscale images, 10 classes, 10,000 images each, from which the
`cnn` task carves its seeded splits (10% test, then 10% of the rest for validation):
- `digits`: the first 10,000 MNIST training images;
- `characters`: the Kuzushiji-MNIST test set (cursive Japanese characters, the idx files
  in `$RECIPES_DATA_DIR/kmnist-test/`), real images that are not digits;
- `hard`: the first 10,000 MNIST training images turned, scaled, shifted, noised and
  patched (`cnn_tasks.harder`).
A fourth kind, `fashion`, is asked for by name only (it trains on six times the images, so
a run takes several times as long): Fashion-MNIST's 60,000 training images (the task's
seeded 10% validation split carved from them) and its own 10,000 test images. A fifth,
`signs`, also by name: the folder `$RECIPES_DATA_DIR/sign-language-digits` (2,062 colour
JPEG photos of hands showing 0-9, 100x100 pixels, read as a user's folder is; the task's
seeded splits).
On each, with the seed's split, in an order that alternates seed by seed: keras.io's
"Simple MNIST convnet" (15 epochs, `cnn_tasks.reference_model`), the `cnn` task with its
defaults, and `cnn.train(auto=...)` with a budget of 3x the defaults' time (`--auto X`: X times;
`--auto 0` leaves `--auto` out). The table
gives the median (min-max) test accuracy and seconds; the summary line the medians.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from cnn_tasks import harder, mnist_arrays, train, train_reference  # noqa: E402
from common import median, print_summary, spread  # noqa: E402
from recipes import cnn  # noqa: E402

KINDS = ("digits", "characters", "hard")
# Fashion-MNIST trains on 60,000 images, six times the others, and the sign-language
# photos are an easy set (one hand on both sides of a random split): asked for by name.
ALL_KINDS = (*KINDS, "fashion", "signs")
N = 10_000


def data_dir():
    return Path(os.environ.get("RECIPES_DATA_DIR", "../shared/datasets"))


def kmnist():
    """The Kuzushiji-MNIST test set, `(images (n, 28, 28, 1) uint8, labels)`."""
    root = data_dir() / "kmnist-test"
    with gzip.open(root / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(root / "t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype("int64")
    return x, y


def source(kind):
    """`(data options, None)`: the kind's images (see the docstring): 10,000 as arrays,
    or Fashion-MNIST by its TFDS name."""
    if kind == "fashion":
        return dict(dataset="fashion_mnist"), None
    if kind == "signs":
        return dict(images=data_dir() / "sign-language-digits"), None
    if kind == "characters":
        x, y = kmnist()
    else:
        (x, y), _ = mnist_arrays()
        x, y = x[:N], y[:N]
        if kind == "hard":
            x = harder(x, 1)
    return dict(x=x, y=y), None


def auto(src, seed, budget, tmp):
    splits = cnn.recipe.load_data(seed=seed, **src[0])
    start = time.perf_counter()
    result = cnn.train(data=splits, seed=seed, auto=budget, run_dir=Path(tmp) / f"auto-{seed}",
                       verbose=0, diagnose=False)
    steps = [s["change"] for s in result.auto["steps"] if s.get("kept")]
    return result.test_metrics["accuracy"], time.perf_counter() - start, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=ALL_KINDS)
    parser.add_argument("--auto", type=float, default=3.0,
                        help="--auto's budget in multiples of the defaults' seconds; 0: no --auto")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            src = source(kind)
            r = runs[kind] = {}
            folder = Path(tmp) / kind  # runs of another kind are not resumed
            for seed in range(args.seeds):
                order = ("reference", "cnn") if seed % 2 else ("cnn", "reference")
                for who in order:
                    if who == "cnn":
                        acc, seconds, _ = train(cnn.recipe, src, seed, folder)
                    else:
                        acc, seconds = train_reference(src, seed)
                    r.setdefault(who, []).append(acc)
                    r.setdefault(f"{who}_s", []).append(seconds)
                line = (f"{kind} seed {seed}: keras.io {r['reference'][-1]:.4f} "
                        f"({r['reference_s'][-1]:.0f} s), cnn {r['cnn'][-1]:.4f} "
                        f"({r['cnn_s'][-1]:.0f} s)")
                if args.auto:
                    budget = args.auto * r["cnn_s"][-1]
                    acc, seconds, kept = auto(src, seed, budget, folder)
                    r.setdefault("auto", []).append(acc)
                    r.setdefault("auto_s", []).append(seconds)
                    r.setdefault("auto_kept", []).append(kept)
                    line += (f", auto {acc:.4f} ({seconds:.0f} s of {budget:.0f}; "
                             f"kept: {', '.join(kept)})")
                print(line, flush=True)

    pct, sec = "{:.2%}", "{:.0f}"  # 99.12%, 137 (seconds)
    who = (("reference", "keras.io"), ("cnn", "cnn defaults"), ("auto", f"cnn --auto {args.auto:g}x"))
    who = who if args.auto else who[:2]
    print(f"\n{'images':<11} " + " ".join(f"{label + ' accuracy':<26} {'s':<12}" for _, label in who))
    summary = {}
    for kind, r in runs.items():
        print(f"{kind:<11} " + " ".join(f"{spread(r[k], pct):<26} {spread(r[k + '_s'], sec):<12}"
                                       for k, _ in who))
        for k, _ in who:
            summary[f"{kind}_{k}_acc"] = median(r[k])
            summary[f"{kind}_{k}_s"] = median(r[f"{k}_s"])
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

"""The `cnn` task's defaults on image data they were not tuned on, against keras.io's convnet.

    python benchmarks/cnn_tasks.py [--seeds 3] [--datasets hard folder small] [--out FILE]

No dataset harder than MNIST can be downloaded on this project's machines, so the harder
data is made from MNIST (held-out data, not used to choose any default):
- `folder`: MNIST written out as PNG files, one folder per class, read through the
  image-folder path (`cnn.train(images=..., test_images=...)`).
- `hard`: every MNIST image (train and test alike) turned by up to 30 degrees, scaled by
  0.8-1.2, shifted by up to 3 pixels, with Gaussian pixel noise (sd 40) and a random 8x8
  patch blanked; fixed once per image by a seed, as a dataset would be.
- `small`: the first 5,000 MNIST training images only.
Both train on the same training and validation images and are tested on the same test
images: the `cnn` task with its defaults (`cnn.train(...)`, nothing set), and the plain
Keras reference, keras.io's "Simple MNIST convnet" (conv 32/64, dropout 0.5, Adam, batch
128, 15 epochs, pixels / 255). The two alternate seed by seed. The table gives the median
(min-max) test accuracy and training seconds, and the cnn run's own diagnosis.

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

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
from recipes import cnn, data  # noqa: E402


def mnist_arrays():
    train = data.load("mnist", validation_split=0)
    x, y = train.arrays("train")
    xt, yt = train.arrays("test")
    return (x, y), (xt, yt)


def harder(x, seed):
    """The `hard` transformation, fixed per image (see the module docstring)."""
    import keras

    rng = np.random.default_rng(seed)
    warp = keras.Sequential([
        keras.layers.RandomRotation(30 / 360, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom(0.2, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomTranslation(3 / 28, 3 / 28, fill_mode="constant", seed=seed + 2),
    ])
    out = []
    for start in range(0, len(x), 4096):
        batch = warp(x[start:start + 4096].astype("float32"), training=True)
        out.append(keras.ops.convert_to_numpy(batch))
    out = np.concatenate(out) + rng.normal(0, 40, x.shape)
    for image, (i, j) in zip(out, rng.integers(0, 20, (len(x), 2))):
        image[i:i + 8, j:j + 8] = 0
    return np.clip(out, 0, 255).round().astype("uint8")


def write_folder(x, y, root):
    from PIL import Image

    for i, (image, label) in enumerate(zip(x, y)):
        folder = Path(root) / f"{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(folder / f"{i:05d}.png")


def sources(name, arrays, tmp):
    """`(data options, test arrays or None)` of a benchmark dataset."""
    (x, y), (xt, yt) = arrays
    if name == "folder":
        write_folder(x, y, Path(tmp) / "train")
        write_folder(xt, yt, Path(tmp) / "test")
        return dict(images=Path(tmp) / "train", test_images=Path(tmp) / "test"), None
    if name == "hard":
        x, xt = harder(x, 1), harder(xt, 2)
    if name == "small":
        x, y = x[:5000], y[:5000]
    return dict(x=x, y=y), (xt, yt)


def train(recipe, source, seed, tmp):
    options, test = source
    splits = recipe.load_data(seed=seed, **options)
    if test is not None:
        # MNIST's own test images are the test split; the carved one trains too.
        splits = dataclasses.replace(
            splits,
            train=splits.train.concatenate(splits.test),
            train_size=splits.train_size + splits.test_size,
            test=tf.data.Dataset.from_tensor_slices(test),
            test_size=len(test[1]),
        )
    start = time.perf_counter()
    result = recipe.train(data=splits, seed=seed, run_dir=Path(tmp) / f"{recipe.name}-{seed}",
                          verbose=0, diagnose=False)
    return result.test_metrics["accuracy"], time.perf_counter() - start, result


def reference_model(shape, classes):
    """keras.io/examples/vision/mnist_convnet, unchanged but for the shapes."""
    return keras.Sequential([
        keras.Input(shape=shape),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(classes, activation="softmax"),
    ])


def train_reference(source, seed, epochs=15):
    options, test = source
    splits = cnn.recipe.load_data(seed=seed, **options)
    x, y = splits.arrays("train")
    xv, yv = splits.arrays("validation")
    if test is None:
        xt, yt = splits.arrays("test")
    else:
        xt, yt = test
        x2, y2 = splits.arrays("test")  # the carved test split trains, as for the recipe
        x, y = np.concatenate([x, x2]), np.concatenate([y, y2])
    keras.utils.set_random_seed(seed)
    model = reference_model(splits.input_shape, splits.num_classes)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x.astype("float32"), y, batch_size=128, epochs=epochs,
              validation_data=(xv.astype("float32"), yv), verbose=0)
    seconds = time.perf_counter() - start
    _, acc = model.evaluate(xt.astype("float32"), yt, verbose=0)
    return acc, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["hard", "folder", "small"],
                        choices=["hard", "folder", "small"])
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()

    arrays = mnist_arrays()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            source = sources(name, arrays, Path(tmp) / name)
            runs[name] = {"cnn": [], "reference": [], "cnn_s": [], "reference_s": [], "verdict": []}
            for seed in range(args.seeds):
                for who in (("cnn", "reference") if seed % 2 == 0 else ("reference", "cnn")):
                    if who == "cnn":
                        acc, seconds, result = train(cnn.recipe, source, seed, tmp)
                        runs[name]["verdict"].append(result.diagnose().verdict)
                    else:
                        acc, seconds = train_reference(source, seed)
                    runs[name][who].append(acc)
                    runs[name][f"{who}_s"].append(seconds)
                    print(f"{name} seed {seed} {who}: {acc:.4f} in {seconds:.0f} s", flush=True)

    pct, sec = "{:.2%}", "{:.0f}"  # 99.12%, 137 (seconds)
    print(f"\n{'data':<8} {'cnn accuracy':<28} {'cnn s':<16} {'keras.io accuracy':<28} {'keras.io s':<16} cnn diagnosis")
    summary = {}
    for name, r in runs.items():
        print(f"{name:<8} {spread(r['cnn'], pct):<28} {spread(r['cnn_s'], sec):<16} "
              f"{spread(r['reference'], pct):<28} {spread(r['reference_s'], sec):<16} "
              f"{r['verdict'][0]}")
        summary[f"{name}_cnn_acc"] = median(r["cnn"])
        summary[f"{name}_reference_acc"] = median(r["reference"])
        summary[f"{name}_cnn_s"] = median(r["cnn_s"])
        summary[f"{name}_reference_s"] = median(r["reference_s"])
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

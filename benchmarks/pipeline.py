"""Is the MNIST input pipeline fast enough to keep cnn_mnist's training step busy?

    python benchmarks/pipeline.py [--batch-size 128] [--limit 20000] [--steps 30]

In one run, examples per second of:
- the input pipeline alone (`recipes.data.make_pipeline` over `recipes.data.load`),
  without and with the `digits` augmentation, iterated for one epoch after a warm-up
  epoch that fills its cache;
- the image-folder path: the same images written as PNG files, one folder per class,
  read by `recipes.data.load_images(images=...)` (`image_dataset_from_directory`) into
  the augmented pipeline: its first epoch (decoding every file while filling the cache)
  and a later one (from the cache);
- cnn_mnist's training step, fed the same (augmented) batches cached in memory, so it
  measures what training consumes, with no input cost; timed after a warm-up pass that
  traces the graph.
Prints one table and whether the augmented pipeline delivers at least 3x what training
consumes (the design's "the input pipeline must never be the bottleneck").

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import recipes  # noqa: E402
from common import print_summary  # noqa: E402
from recipes import data  # noqa: E402

MARGIN = 3.0


def examples_per_second(run):
    """Runs `run()` (which returns an example count) once to warm up, then times it."""
    run()
    start = time.perf_counter()
    n = run()
    return n / (time.perf_counter() - start)


def iterate(ds):
    return sum(int(tf.shape(x)[0]) for x, _ in ds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=20_000, help="MNIST training examples")
    parser.add_argument("--steps", type=int, default=30, help="training steps timed")
    args = parser.parse_args()

    splits = data.load("mnist", limit=args.limit)
    plain = data.make_pipeline(splits.train, args.batch_size, seed=0)
    augmented = data.make_pipeline(splits.train, args.batch_size, augment="digits", seed=0)

    recipe = recipes.get("cnn_mnist")
    model = recipe.compile(recipe.build_model())
    first = splits.train.take(args.steps * args.batch_size)
    batches = data.make_pipeline(first, args.batch_size, augment="digits", seed=0)
    batches = batches.cache()
    iterate(batches)  # Fill the in-memory cache.

    def train():
        model.fit(batches, epochs=1, shuffle=False, verbose=0)
        return args.steps * args.batch_size

    rows = [
        ("pipeline, no augmentation", examples_per_second(lambda: iterate(plain))),
        ("pipeline, digits augmentation", examples_per_second(lambda: iterate(augmented))),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        x, y = splits.arrays("train")
        for i, (image, label) in enumerate(zip(x, y)):
            (Path(tmp) / str(label)).mkdir(exist_ok=True)
            Image.fromarray(image[..., 0]).save(Path(tmp) / str(label) / f"{i:05d}.png")
        folder = data.load_images(images=tmp, validation_split=0.0, test_split=0.01)
        from_files = data.make_pipeline(folder.train, args.batch_size, augment="digits", seed=0)
        start = time.perf_counter()
        n = iterate(from_files)
        rows.append(("image folder, first epoch (decoding PNGs)", n / (time.perf_counter() - start)))
        rows.append(("image folder, later epochs (cached)", examples_per_second(lambda: iterate(from_files))))
    rows.append(("cnn_mnist training step (cached batches)", examples_per_second(train)))

    device = ", ".join(d.name for d in tf.config.list_logical_devices("GPU")) or (
        f"CPU ({os.cpu_count()} cores)"
    )
    print(
        f"MNIST input pipeline vs cnn_mnist training: batch {args.batch_size}, "
        f"{splits.train_size:,} training examples, {device}"
    )
    print(f"{'':<42} {'examples/s':>12}")
    for name, rate in rows:
        print(f"{name:<42} {rate:>12,.0f}")
    consumed = rows[-1][1]
    ratio, first, cached = (rows[i][1] / consumed for i in (1, 2, 3))
    for name, r in [("augmented pipeline", ratio), ("image folder, first epoch", first),
                    ("image folder, cached", cached)]:
        verdict = "yes" if r >= MARGIN else "NO: the input pipeline is a bottleneck"
        print(f"{name} / training = {r:.1f}x; >= {MARGIN:g}x: {verdict}")
    print_summary(dict(pipeline_ratio=ratio, folder_first_epoch_ratio=first,
                       folder_cached_ratio=cached, training_examples_per_s=f"{consumed:.0f}"),
                  "{:.3g}")


if __name__ == "__main__":
    main()

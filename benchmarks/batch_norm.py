"""`layers.FusedBatchNormalization` against `keras.layers.BatchNormalization` in the
`cnn` task's model: training time per step, the same model otherwise.

    python benchmarks/batch_norm.py [--seeds 3] [--steps 60] [--out FILE]

For each kind of input (28x28 grayscale, 10 classes, as MNIST; 32x32 colour, 10
classes, as CIFAR-10) the `cnn` task builds its default model (batch norm on); the
reference is the same model with every fused layer replaced by Keras's own, with the
same weights. Each trains `--steps` steps of batch 128 on random images with `fit` (after
two warm-up steps that trace the function), the two alternating seed by seed; the table
gives the median (min-max) milliseconds per step and their ratio. That the two compute
the same is checked by `tests/layers/test_batch_norm.py`, not here.

Ends with one `summary: key=value ...` line (`common.print_summary`).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import median, print_summary, spread  # noqa: E402
from layers import FusedBatchNormalization  # noqa: E402
from recipes import cnn  # noqa: E402
from recipes.data import Splits  # noqa: E402

SHAPES = {"gray28": (28, 28, 1), "colour32": (32, 32, 3)}


def models(shape):
    """The `cnn` default model for `shape` and its copy with Keras's batch norm."""
    data = Splits(name="bench", train=None, validation=None, test=None, input_shape=shape,
                  num_classes=10)
    fused = cnn.recipe.build_model(data=data)

    def plain(layer):
        if isinstance(layer, FusedBatchNormalization):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    reference = keras.models.clone_model(fused, clone_function=plain)
    reference.set_weights(fused.get_weights())
    for m in (fused, reference):
        m.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return {"fused": fused, "keras": reference}


def step_ms(model, x, y, steps):
    """Milliseconds per step of `model.fit` on batches of 128 from `(x, y)`, after two
    steps that trace the training function."""
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(128).repeat().prefetch(2)
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return 1000 * (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    runs = {}
    for name in args.shapes:
        shape = SHAPES[name]
        r = runs[name] = {"fused": [], "keras": []}
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            rng = np.random.default_rng(seed)
            x = rng.integers(0, 256, (1024, *shape)).astype("float32")
            y = rng.integers(0, 10, 1024)
            pair = models(shape)
            order = ("fused", "keras") if seed % 2 == 0 else ("keras", "fused")
            for who in order:
                r[who].append(step_ms(pair[who], x, y, args.steps))
            print(f"{name} seed {seed}: fused {r['fused'][-1]:.1f} ms, keras "
                  f"{r['keras'][-1]:.1f} ms per step", flush=True)
            keras.backend.clear_session()
    print(f"\n{'input':<10} {'fused ms/step':<20} {'keras ms/step':<20} ratio")
    summary = {}
    for name, r in runs.items():
        ratio = median(r["fused"]) / median(r["keras"])
        print(f"{name:<10} {spread(r['fused'], '{:.1f}'):<20} {spread(r['keras'], '{:.1f}'):<20} "
              f"{ratio:.3f}")
        summary.update({f"{name}_fused_ms": median(r["fused"]),
                        f"{name}_keras_ms": median(r["keras"]), f"{name}_ratio": ratio})
    print_summary(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(summary=summary, runs=runs), indent=1))


if __name__ == "__main__":
    main()

"""Cost of the top Hessian eigenvalues of a ~1M-parameter model, in gradients.

    python benchmarks/hessian.py [--k 5] [--batch-size 256]

Times, on one batch of MNIST-shaped inputs: one gradient (the reference), one
Hessian-vector product, Lanczos for the `k` largest (and smallest) eigenvalues with the
default number of steps, and Hutchinson's trace with 20 probes. Prints one table; each
time is the median of a few runs after a warm-up (graph tracing excluded).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from recipes.diagnostics import hessian  # noqa: E402


def build_model():
    """An MLP on 28x28 inputs: 784 -> 1024 -> 256 -> 10, about 1.07M parameters."""
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def median_seconds(fn, repeats):
    fn()  # warm-up: traces the graphs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = build_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 784)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    op = hessian.Hessian(model, x, y, loss)
    steps = hessian.default_num_steps(args.k, op.size)
    v = rng.normal(size=op.size)

    found = {}

    def top_k():
        found["run"] = hessian.lanczos(op.matvec, op.size, steps)

    def trace():
        op.trace(num_probes=20)

    fast, slow = args.repeats * 3, args.repeats
    rows = [
        ("one gradient", 0, median_seconds(op.loss_and_gradient, fast)),
        ("one Hessian-vector product", 1, median_seconds(lambda: op.matvec(v), fast)),
        (f"top {args.k} eigenvalues (Lanczos)", steps, median_seconds(top_k, slow)),
        ("trace (Hutchinson, 20 probes)", 20, median_seconds(trace, slow)),
    ]
    run = found["run"]
    top = run.values[::-1][: args.k]
    # The true residual of the top Ritz pair, one more product (not the Lanczos bound).
    vector = run.vector(-1)
    residual = np.linalg.norm(op.matvec(vector) - top[0] * vector) / abs(top[0])

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(
        f"Hessian of a {op.size:,}-parameter MLP, batch {args.batch_size}, "
        f"float32, {device}"
    )
    print(f"{'computation':<34}{'HVPs':>6}{'seconds':>10}{'x gradient':>12}")
    gradient_seconds = rows[0][2]
    for name, hvps, seconds in rows:
        print(f"{name:<34}{hvps:>6}{seconds:>10.3f}{seconds / gradient_seconds:>12.1f}")
    print(f"top {args.k} eigenvalues: {', '.join(f'{t:.4g}' for t in top)}")
    print(f"relative residual ||Hv - lv|| / |l| of the largest: {residual:.1e}")


if __name__ == "__main__":
    main()

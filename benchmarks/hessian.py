"""Cost of the top Hessian eigenvalues of a ~1M-parameter model, in gradients.

    python benchmarks/hessian.py [--k 5] [--batch-size 256] [--tolerance 1e-4] [--out FILE]

Times, on one batch of MNIST-shaped inputs: one gradient (the reference), one
Hessian-vector product, Lanczos for the `k` largest eigenvalues with the default number
of steps (`4k + 20`, what `critical_point` runs for both ends) and with the early stop
(until the top `k` Ritz pairs reach a relative residual of `--tolerance`), with partial
reorthogonalisation and, alternating with it, with full reorthogonalisation, and
Hutchinson's trace with 20 probes. Each time is the median of a few runs after a warm-up
(graph tracing excluded), in gradient-equivalents, split into the Hessian-vector
products and the overhead around them. The true relative residual of each reported pair
is measured with one more product each. Ends with `summary: ...`; `--out FILE` writes it
as JSON.
"""

import argparse
import json
import os
import time
from pathlib import Path

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
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--out", help="also write the summary as JSON here")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = build_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 784)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    op = hessian.Hessian(model, x, y, loss)
    steps = hessian.default_num_steps(args.k, op.size)
    v = rng.normal(size=op.size).astype(op.dtype)
    found = {}

    def fixed():
        found["fixed"] = hessian.lanczos(op.matvec, op.size, steps, dtype=op.dtype)

    def early():
        found["early"] = hessian.lanczos(op.matvec, op.size, steps, k=args.k, which="top",
                                         tolerance=args.tolerance, dtype=op.dtype)

    def early_full():  # the reference: every vector against the whole basis
        found["full"] = hessian.lanczos(op.matvec, op.size, steps, k=args.k, which="top",
                                        tolerance=args.tolerance, reorthogonalize="full",
                                        dtype=op.dtype)

    fast, slow = args.repeats * 3, args.repeats
    gradient = median_seconds(op.loss_and_gradient, fast)
    product = median_seconds(lambda: op.matvec(v), fast)
    t_fixed = median_seconds(fixed, slow)
    t_early, t_full = [], []
    for _ in range(slow):  # the two alternate
        t_early.append(median_seconds(early, 1))
        t_full.append(median_seconds(early_full, 1))
    t_early, t_full = float(np.median(t_early)), float(np.median(t_full))
    t_trace = median_seconds(lambda: op.trace(num_probes=20), slow)
    hvps = {"fixed": steps, "early": len(found["early"].values),
            "full": len(found["full"].values)}
    rows = [
        ("one gradient", 0, gradient),
        ("one Hessian-vector product", 1, product),
        (f"top {args.k}, {steps} steps (fixed)", hvps["fixed"], t_fixed),
        (f"top {args.k}, early stop, full reorth.", hvps["full"], t_full),
        (f"top {args.k}, early stop at {args.tolerance:g}", hvps["early"], t_early),
        ("trace (Hutchinson, 20 probes)", 20, t_trace),
    ]
    run = found["early"]
    top = run.values[::-1][: args.k]
    residuals = []
    for i in range(1, args.k + 1):  # true residuals, one more product each
        vector = run.vector(-i)
        residuals.append(np.linalg.norm(op.matvec(vector) - run.values[-i] * vector)
                         / abs(run.values[-i]))
    fixed_top = found["fixed"].values[::-1][: args.k]

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(f"Hessian of a {op.size:,}-parameter MLP, batch {args.batch_size}, float32, {device}")
    print(f"{'computation':<36}{'HVPs':>6}{'seconds':>10}{'x gradient':>12}"
          f"{'of it HVPs':>12}{'overhead':>10}")
    for name, count, seconds in rows:
        in_hvps = count * product / gradient
        print(f"{name:<36}{count:>6}{seconds:>10.3f}{seconds / gradient:>12.1f}"
              f"{in_hvps:>12.1f}{seconds / gradient - in_hvps:>10.1f}")
    print(f"top {args.k} eigenvalues: {', '.join(f'{t:.6g}' for t in top)}")
    print(f"  same, {steps} fixed steps: {', '.join(f'{t:.6g}' for t in fixed_top)}")
    print(f"full passes over the basis: {found['early'].reorthogonalizations} of "
          f"{hvps['early']} steps (partial), {found['full'].reorthogonalizations} (full)")
    print(f"relative residuals ||Hv - lv|| / |l|: {', '.join(f'{r:.1e}' for r in residuals)}")
    summary = dict(
        hvp_per_gradient=product / gradient,
        early_gradient_equivalents=t_early / gradient, early_hvps=hvps["early"],
        early_overhead=t_early / gradient - hvps["early"] * product / gradient,
        full_reorth_gradient_equivalents=t_full / gradient,
        reorthogonalizations=found["early"].reorthogonalizations,
        fixed_gradient_equivalents=t_fixed / gradient, fixed_hvps=hvps["fixed"],
        max_relative_residual=max(residuals),
    )
    print("summary: " + " ".join(f"{k}={v:.4g}" for k, v in summary.items()))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from callbacks import InverseSqrt, OneCycle, WarmUp, WarmUpCosine


def values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def cosine(step, peak, decay_steps, alpha=0.0):
    t = min(step, decay_steps) / decay_steps
    return peak * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)))


def one_cycle_reference(step, max_lr, total_steps, pct_start, div_factor, final_div):
    """PyTorch's `OneCycleLR.get_lr` (two phases, cosine), transcribed."""
    initial = max_lr / div_factor
    phases = [
        (pct_start * total_steps - 1, initial, max_lr),
        (total_steps - 1, max_lr, initial / final_div),
    ]
    start_step = 0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            return end_lr + (start_lr - end_lr) / 2 * (math.cos(math.pi * pct) + 1)
        start_step = end_step


def test_warmup_to_a_constant():
    schedule = WarmUp(0.5, warmup_steps=4, initial=0.1)
    steps = [0, 1, 2, 3, 4, 5, 1000]
    expected = [0.1 + 0.4 * s / 4 for s in steps[:4]] + [0.5, 0.5, 0.5]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "after, closed_form",
    [
        (
            keras.optimizers.schedules.CosineDecay(1.0, decay_steps=10, alpha=0.1),
            lambda s: cosine(s, 1.0, 10, alpha=0.1),
        ),
        (
            keras.optimizers.schedules.ExponentialDecay(0.8, 10, decay_rate=0.5),
            lambda s: 0.8 * 0.5 ** (s / 10),
        ),
        (
            keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.6, 0.2]),
            lambda s: 0.6 if s <= 3 else 0.2,
        ),
        (
            WarmUp(0.3, warmup_steps=2, initial=0.9),  # Nested: lr(0) = 0.9.
            lambda s: 0.9 - 0.3 * s if s < 2 else 0.3,
        ),
    ],
    ids=["cosine", "exponential", "piecewise", "warmup"],
)
def test_warmup_hands_over_to_a_schedule(after, closed_form):
    warmup_steps, initial = 5, 0.05
    schedule = WarmUp(after, warmup_steps=warmup_steps, initial=initial)
    target = closed_form(0)
    steps = np.arange(20)
    expected = [
        initial + (target - initial) * s / warmup_steps
        if s < warmup_steps
        else closed_form(s - warmup_steps)
        for s in steps
    ]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-5)
    # The handover is continuous: warm-up ends where `after` starts.
    assert float(schedule(warmup_steps)) == pytest.approx(target, rel=1e-6)


@pytest.mark.parametrize(
    "step",
    [tf.constant(7, tf.int64), tf.constant(7.0), keras.Variable(7, dtype="int64")],
    ids=["int64", "float32", "variable"],
)
def test_schedules_take_tensor_steps(step):
    schedule = WarmUp(
        keras.optimizers.schedules.CosineDecay(1.0, decay_steps=10), warmup_steps=5
    )
    assert float(schedule(step)) == pytest.approx(cosine(2, 1.0, 10), rel=1e-6)
    assert float(OneCycle(1.0, 20)(step)) == pytest.approx(
        one_cycle_reference(7, 1.0, 20, 0.3, 25.0, 1e4), rel=1e-5
    )


def test_warmup_with_no_warmup_steps_is_after():
    after = keras.optimizers.schedules.CosineDecay(1.0, decay_steps=10)
    steps = np.arange(12)
    np.testing.assert_allclose(
        values(WarmUp(after, warmup_steps=0), steps), values(after, steps), rtol=1e-6
    )


def test_warmup_cosine():
    peak, total, warmup, alpha = 2.0, 12, 4, 0.1
    schedule = WarmUpCosine(peak, total_steps=total, warmup_steps=warmup, alpha=alpha)
    steps = np.arange(16)
    expected = [
        cosine(s - warmup, peak, total - warmup, alpha) if s >= warmup
        else peak * s / warmup
        for s in steps
    ]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-5)
    assert float(schedule(warmup)) == pytest.approx(peak)
    assert float(schedule(total)) == pytest.approx(alpha * peak)
    assert float(schedule(total + 100)) == pytest.approx(alpha * peak)


def test_inverse_sqrt():
    d_model, warmup = 64, 10
    schedule = InverseSqrt(d_model, warmup_steps=warmup, scale=2.0)
    steps = np.array([1, 2, 5, 9, 10, 11, 40, 1000])
    expected = 2.0 * d_model**-0.5 * np.minimum(steps**-0.5, steps * warmup**-1.5)
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-5)
    # Step 0 is the limit of the formula, without dividing by zero.
    assert float(schedule(0)) == 0.0
    peak = 2.0 * (d_model * warmup) ** -0.5
    assert values(schedule, np.arange(100)).max() == pytest.approx(peak, rel=1e-6)
    assert float(schedule(warmup)) == pytest.approx(peak, rel=1e-6)


@pytest.mark.parametrize(
    "max_lr, total, pct_start, div_factor, final_div",
    [(1.0, 100, 0.3, 25.0, 1e4), (0.01, 37, 0.25, 10.0, 100.0)],
)
def test_one_cycle_matches_pytorch(max_lr, total, pct_start, div_factor, final_div):
    schedule = OneCycle(max_lr, total, pct_start, div_factor, final_div)
    steps = np.arange(total)
    expected = [
        one_cycle_reference(s, max_lr, total, pct_start, div_factor, final_div)
        for s in steps
    ]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-4)
    assert float(schedule(0)) == pytest.approx(max_lr / div_factor)
    assert float(schedule(pct_start * total - 1)) == pytest.approx(max_lr, rel=1e-6)
    end = max_lr / div_factor / final_div
    assert float(schedule(total - 1)) == pytest.approx(end, rel=1e-4)
    assert float(schedule(total + 50)) == pytest.approx(end, rel=1e-4)


SCHEDULES = [
    WarmUp(0.5, warmup_steps=3, initial=0.1),
    WarmUp(keras.optimizers.schedules.CosineDecay(0.5, 10, alpha=0.2), warmup_steps=3),
    WarmUp(WarmUpCosine(0.5, total_steps=10, warmup_steps=2), warmup_steps=3),
    WarmUpCosine(0.5, total_steps=10, warmup_steps=3, alpha=0.1),
    InverseSqrt(16, warmup_steps=3, scale=0.5),
    OneCycle(0.5, total_steps=10, pct_start=0.4, div_factor=5.0, final_div_factor=50.0),
]
SCHEDULE_IDS = [
    "warmup",
    "warmup_cosine_decay",
    "warmup_nested",
    "warmup_cosine",
    "inverse_sqrt",
    "one_cycle",
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=SCHEDULE_IDS)
def test_config_round_trip(schedule):
    steps = np.arange(14)
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    np.testing.assert_array_equal(values(clone, steps), values(schedule, steps))

    config = keras.optimizers.schedules.serialize(schedule)
    assert config["registered_name"] == f"recipes>{type(schedule).__name__}"
    restored = keras.optimizers.schedules.deserialize(config)
    assert type(restored) is type(schedule)
    np.testing.assert_array_equal(values(restored, steps), values(schedule, steps))


@pytest.mark.parametrize("schedule", SCHEDULES, ids=SCHEDULE_IDS)
def test_saved_model_file_restores_the_schedule(schedule, tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), batch_size=2, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)

    loaded = keras.saving.load_model(path)
    lr_config = loaded.optimizer.get_config()["learning_rate"]
    assert lr_config["class_name"] == type(schedule).__name__
    assert int(loaded.optimizer.iterations) == 2
    for step in range(14):
        model.optimizer.iterations.assign(step)
        loaded.optimizer.iterations.assign(step)
        assert float(loaded.optimizer.learning_rate) == float(
            model.optimizer.learning_rate
        )


@pytest.mark.parametrize(
    "build, received",
    [
        (lambda: WarmUp(0.1, warmup_steps=-1), "warmup_steps=-1"),
        (lambda: WarmUp(0.1, warmup_steps=2.5), "warmup_steps=2.5"),
        (lambda: WarmUp("cosine", warmup_steps=2), "after='cosine'"),
        (lambda: WarmUp(-0.1, warmup_steps=2), "after=-0.1"),
        (lambda: WarmUp(0.1, warmup_steps=2, initial=-1.0), "initial=-1.0"),
        (lambda: WarmUpCosine(0.0, 10, 2), "peak=0.0"),
        (lambda: WarmUpCosine(1.0, 10, -1), "warmup_steps=-1"),
        (lambda: WarmUpCosine(1.0, 5, 5), "total_steps=5, warmup_steps=5"),
        (lambda: WarmUpCosine(1.0, 10, 2, alpha=1.5), "alpha=1.5"),
        (lambda: InverseSqrt(0, 10), "d_model=0"),
        (lambda: InverseSqrt(64, warmup_steps=0), "warmup_steps=0"),
        (lambda: InverseSqrt(64, 10, scale=-2.0), "scale=-2.0"),
        (lambda: OneCycle(0.0, 10), "max_lr=0.0"),
        (lambda: OneCycle(1.0, 0), "total_steps=0"),
        (lambda: OneCycle(1.0, 10, pct_start=1.0), "pct_start=1.0"),
        (lambda: OneCycle(1.0, 3, pct_start=0.3), "pct_start=0.3, total_steps=3"),
        (lambda: OneCycle(1.0, 10, div_factor=0), "div_factor=0"),
        (lambda: OneCycle(1.0, 10, final_div_factor=-1), "final_div_factor=-1"),
    ],
)
def test_bad_arguments_name_the_value(build, received):
    with pytest.raises(ValueError, match=f"Received: {received}"):
        build()

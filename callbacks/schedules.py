"""Learning-rate schedules: linear warm-up, warm-up + cosine, inverse sqrt, 1cycle.

Keras ships cosine, exponential, polynomial and piecewise schedules, and `CosineDecay`
has a warm-up of its own, but no warm-up that wraps *any* schedule, no Transformer
inverse-square-root schedule and no 1cycle policy; those are written here, on
`keras.optimizers.schedules.LearningRateSchedule` and `keras.ops`, so they accept the
optimizer's step as a tensor and save with the optimizer in `.keras` files.

Step convention, shared by every schedule here: `step` is the optimizer's
`iterations`, 0 for the first update, and the learning rate returned for `step` is the
one that update uses.
"""

import math

import keras
from keras import ops

from callbacks._checks import is_int, is_number, require

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


def _check_warmup_steps(warmup_steps, minimum=0):
    require(
        is_int(warmup_steps) and warmup_steps >= minimum,
        f"`warmup_steps` must be an integer >= {minimum}.",
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="recipes")
class WarmUp(LearningRateSchedule):
    """Linear warm-up in front of a constant learning rate or any other schedule.

    For `step < warmup_steps` the learning rate rises linearly from `initial` to
    `target`, the value `after` starts from:

    ```
    lr(step) = initial + (target - initial) * step / warmup_steps
    target = after(0) if after is a schedule else after
    ```

    From `step = warmup_steps` on, `after` takes over on its own clock, restarted at
    zero: `lr(step) = after(step - warmup_steps)`. So `lr(0) = initial`, the curve is
    continuous at the handover (`lr(warmup_steps) = after(0) = target`), and `after`
    runs its full course after the warm-up instead of losing its first
    `warmup_steps` steps. `warmup_steps=0` gives `after` unchanged. With the
    default `initial=0.0` the first update has a learning rate of 0, as with the
    warm-up of Keras's `CosineDecay`.

    Args:
        after: The learning rate after warm-up: a non-negative float, or any
            `keras.optimizers.schedules.LearningRateSchedule` (Keras's own
            included, e.g. `keras.optimizers.schedules.CosineDecay`).
        warmup_steps: Number of optimizer steps the warm-up lasts, an integer
            >= 0.
        initial: Learning rate at step 0. Defaults to `0.0`.

    Example:

    ```python
    decay = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=9_000)
    schedule = WarmUp(decay, warmup_steps=1_000)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    ```
    """

    def __init__(self, after, warmup_steps, initial=0.0):
        super().__init__()
        is_schedule = isinstance(after, LearningRateSchedule)
        require(
            is_schedule or (is_number(after) and after >= 0),
            "`after` must be a non-negative float or a "
            "`keras.optimizers.schedules.LearningRateSchedule`.",
            after=after,
        )
        _check_warmup_steps(warmup_steps)
        require(
            is_number(initial) and initial >= 0,
            "`initial` must be a float >= 0.",
            initial=initial,
        )
        self.after = after if is_schedule else float(after)
        self.warmup_steps = warmup_steps
        self.initial = float(initial)

    def __call__(self, step):
        dtype = keras.config.floatx()
        if isinstance(self.after, LearningRateSchedule):
            target = ops.cast(self.after(0), dtype)
            after_step = ops.maximum(ops.subtract(step, self.warmup_steps), 0)
            after = ops.cast(self.after(after_step), dtype)
        else:
            target = after = ops.convert_to_tensor(self.after, dtype)
        step = ops.cast(step, dtype)
        fraction = step / max(self.warmup_steps, 1)
        warm = self.initial + (target - self.initial) * fraction
        return ops.where(step < self.warmup_steps, warm, after)

    def get_config(self):
        after = self.after
        if isinstance(after, LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {
            "after": after,
            "warmup_steps": self.warmup_steps,
            "initial": self.initial,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["after"], dict):
            config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="recipes")
class WarmUpCosine(LearningRateSchedule):
    """Linear warm-up from 0 to `peak`, then cosine decay to `alpha * peak`.

    ```
    lr(step) = peak * step / warmup_steps                    step < warmup_steps
    lr(step) = peak * (alpha + (1 - alpha) * (1 + cos(pi * t)) / 2)
               with t = min(step - warmup_steps, decay_steps) / decay_steps
               and decay_steps = total_steps - warmup_steps   otherwise
    ```

    It is `WarmUp(keras.optimizers.schedules.CosineDecay(peak, decay_steps, alpha),
    warmup_steps)`: the learning rate peaks at `step = warmup_steps`, reaches
    `alpha * peak` at `step = total_steps` and stays there.

    Args:
        peak: Learning rate at the end of the warm-up, a float > 0.
        total_steps: Step at which the decay ends, an integer > `warmup_steps`.
        warmup_steps: Number of warm-up steps, an integer >= 0.
        alpha: Final learning rate as a fraction of `peak`, in `[0, 1]`.
            Defaults to `0.0`.

    Example:

    ```python
    schedule = WarmUpCosine(peak=1e-3, total_steps=10_000, warmup_steps=500)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    ```
    """

    def __init__(self, peak, total_steps, warmup_steps, alpha=0.0):
        super().__init__()
        require(is_number(peak) and peak > 0, "`peak` must be a float > 0.", peak=peak)
        _check_warmup_steps(warmup_steps)
        require(
            is_int(total_steps) and total_steps > warmup_steps,
            "`total_steps` must be an integer greater than `warmup_steps`.",
            total_steps=total_steps,
            warmup_steps=warmup_steps,
        )
        require(
            is_number(alpha) and 0 <= alpha <= 1,
            "`alpha` must be a float in [0, 1].",
            alpha=alpha,
        )
        self.peak = float(peak)
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.alpha = float(alpha)
        decay = keras.optimizers.schedules.CosineDecay(
            self.peak, total_steps - warmup_steps, alpha=self.alpha
        )
        self._schedule = WarmUp(decay, warmup_steps)

    def __call__(self, step):
        return self._schedule(step)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "alpha": self.alpha,
        }


@keras.saving.register_keras_serializable(package="recipes")
class InverseSqrt(LearningRateSchedule):
    """The Transformer schedule: linear warm-up, then decay as `1 / sqrt(step)`.

    From "Attention Is All You Need" (Vaswani et al., 2017), section 5.3:

    ```
    lr(step) = scale * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)
    ```

    The peak, `scale * (d_model * warmup_steps)**-0.5`, is at `step = warmup_steps`.
    The paper counts steps from 1; here `step` is the optimizer's 0-based step, used
    as is, so `lr(0) = 0` (the limit of the formula, computed without dividing by
    zero), exactly like `WarmUp(..., initial=0.0)`, and the peak and handover fall
    on the same step as in `WarmUp`.

    Args:
        d_model: Width of the model, the paper's `d_model`, an integer > 0.
        warmup_steps: Step of the peak, an integer > 0. Defaults to `4000`,
            the paper's value.
        scale: Factor on the whole curve; sets the peak without changing its
            shape. Defaults to `1.0`, the paper's value.

    Example:

    ```python
    schedule = InverseSqrt(d_model=512, warmup_steps=4000)
    optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    ```
    """

    def __init__(self, d_model, warmup_steps=4000, scale=1.0):
        super().__init__()
        require(
            is_int(d_model) and d_model > 0,
            "`d_model` must be an integer > 0.",
            d_model=d_model,
        )
        _check_warmup_steps(warmup_steps, minimum=1)
        require(
            is_number(scale) and scale > 0, "`scale` must be a float > 0.", scale=scale
        )
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = float(scale)

    def __call__(self, step):
        step = ops.cast(step, keras.config.floatx())
        decay = ops.rsqrt(ops.maximum(step, 1.0))
        warm = step * self.warmup_steps**-1.5
        return self.scale * self.d_model**-0.5 * ops.minimum(decay, warm)

    def get_config(self):
        return {
            "d_model": self.d_model,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }


@keras.saving.register_keras_serializable(package="recipes")
class OneCycle(LearningRateSchedule):
    """The 1cycle policy, as PyTorch's `OneCycleLR` with cosine annealing.

    Two cosine phases (Smith & Topin, 2018; fastai's `fit_one_cycle`):

    ```
    start = max_lr / div_factor           end = start / final_div_factor
    peak_step = pct_start * total_steps - 1
    cos_anneal(a, b, t) = b + (a - b) * (1 + cos(pi * t)) / 2
    lr(step) = cos_anneal(start, max_lr, step / peak_step)            step <= peak_step
    lr(step) = cos_anneal(max_lr, end,
                          (step - peak_step) / (total_steps - 1 - peak_step))  after
    ```

    The steps match `torch.optim.lr_scheduler.OneCycleLR(three_phase=False,
    anneal_strategy="cos")`: `lr(0) = start` and `lr(total_steps - 1) = end`. Where
    PyTorch raises past `total_steps`, the learning rate here stays at `end`.

    Args:
        max_lr: Peak learning rate, a float > 0.
        total_steps: Length of the cycle in optimizer steps, an integer > 0.
        pct_start: Fraction of the cycle spent increasing the learning rate,
            in `(0, 1)`, with `pct_start * total_steps > 1`. Defaults to `0.3`.
        div_factor: `max_lr / div_factor` is the starting learning rate.
            Defaults to `25.0`.
        final_div_factor: The final learning rate is the starting one divided
            by `final_div_factor`. Defaults to `1e4`.

    Example:

    ```python
    steps = epochs * steps_per_epoch
    optimizer = keras.optimizers.SGD(OneCycle(0.1, total_steps=steps), momentum=0.9)
    ```
    """

    def __init__(
        self,
        max_lr,
        total_steps,
        pct_start=0.3,
        div_factor=25.0,
        final_div_factor=1e4,
    ):
        super().__init__()
        require(
            is_number(max_lr) and max_lr > 0,
            "`max_lr` must be a float > 0.",
            max_lr=max_lr,
        )
        require(
            is_int(total_steps) and total_steps > 0,
            "`total_steps` must be an integer > 0.",
            total_steps=total_steps,
        )
        require(
            is_number(pct_start) and 0 < pct_start < 1,
            "`pct_start` must be a float in (0, 1).",
            pct_start=pct_start,
        )
        require(
            pct_start * total_steps > 1,
            "The warm-up phase needs more than one step: "
            "`pct_start * total_steps` must be > 1.",
            pct_start=pct_start,
            total_steps=total_steps,
        )
        require(
            is_number(div_factor) and div_factor > 0,
            "`div_factor` must be a float > 0.",
            div_factor=div_factor,
        )
        require(
            is_number(final_div_factor) and final_div_factor > 0,
            "`final_div_factor` must be a float > 0.",
            final_div_factor=final_div_factor,
        )
        self.max_lr = float(max_lr)
        self.total_steps = total_steps
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        start = self.max_lr / self.div_factor
        end = start / self.final_div_factor
        last = self.total_steps - 1
        peak = self.pct_start * self.total_steps - 1
        step = ops.clip(ops.cast(step, keras.config.floatx()), 0, last)
        rising = step <= peak
        t = ops.where(rising, step / peak, (step - peak) / (last - peak))
        from_lr = ops.where(rising, start, self.max_lr)
        to_lr = ops.where(rising, self.max_lr, end)
        return to_lr + (from_lr - to_lr) * (1 + ops.cos(math.pi * t)) / 2

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


@keras.saving.register_keras_serializable(package="recipes")
class FineTuneCosine(LearningRateSchedule):
    """Two warm-up + cosine phases: a new head, then the whole network at a lower rate.

    The schedule of fine-tuning a pretrained network (fastai's `fine_tune`): the first
    `head_steps` steps train the head alone (the backbone frozen, see
    `callbacks.FineTune`), the rest the whole network at `factor` times the rate:

    ```
    lr(step) = WarmUpCosine(peak, head_steps, warmup_steps)(step)       step < head_steps
    lr(step) = WarmUpCosine(factor * peak, total_steps - head_steps,
                            (total_steps - head_steps) // 10)(step - head_steps)
    ```

    (the first phase's warm-up is at most `head_steps - 1` steps; with
    `total_steps == head_steps` there is no second phase).

    Args:
        peak: the first phase's peak learning rate, a float > 0.
        head_steps: steps of the first phase, an integer >= 1.
        total_steps: steps of both phases, an integer >= `head_steps`.
        warmup_steps: the first phase's warm-up steps, an integer >= 0.
        factor: the second phase's peak as a fraction of `peak`, in (0, 1].
            Defaults to `0.1`.

    Example:

    ```python
    schedule = FineTuneCosine(peak=1e-3, head_steps=500, total_steps=2000, warmup_steps=50)
    float(schedule(500))  # the second phase starts its warm-up: 0.0
    ```
    """

    def __init__(self, peak, head_steps, total_steps, warmup_steps, factor=0.1):
        super().__init__()
        require(is_number(peak) and peak > 0, "`peak` must be a float > 0.", peak=peak)
        require(is_int(head_steps) and head_steps >= 1, "`head_steps` must be an integer >= 1.",
                head_steps=head_steps)
        require(is_int(total_steps) and total_steps >= head_steps,
                "`total_steps` must be an integer >= `head_steps`.",
                total_steps=total_steps, head_steps=head_steps)
        _check_warmup_steps(warmup_steps)
        require(is_number(factor) and 0 < factor <= 1, "`factor` must be in (0, 1].",
                factor=factor)
        self.peak, self.factor = float(peak), float(factor)
        self.head_steps, self.total_steps, self.warmup_steps = head_steps, total_steps, warmup_steps
        self._head = WarmUpCosine(self.peak, head_steps, min(warmup_steps, head_steps - 1))
        rest = total_steps - head_steps
        self._whole = (WarmUpCosine(self.peak * self.factor, rest, rest // 10)
                       if rest else None)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        head = self._head(ops.minimum(step, self.head_steps))
        if self._whole is None:
            return head
        whole = self._whole(ops.maximum(step - self.head_steps, 0.0))
        return ops.where(step < self.head_steps, head, whole)

    def get_config(self):
        return {
            "peak": self.peak,
            "head_steps": self.head_steps,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "factor": self.factor,
        }

"""Wall-clock budgets: `--auto BUDGET` for a training loop, `--budget` for a search.

    seconds = parse_budget("30m")           # 1800.0
    budget = Budget.begin(1800, project_dir)
    budget.guard(tuner.oracle)              # no trial starts that would not fit
    model.fit(..., callbacks=[Deadline(budget.deadline, clock)])

`Deadline` ends training at the end of the epoch after which one more epoch (of the
median length so far) would end past its deadline.

`Budget` holds wall-clock seconds for a whole KerasTuner search, counted across runs of
it (a resumed search goes on with what its earlier runs left) in
`<project>/budget.json`. The oracle (in the chief, with `workers=N`) starts a trial only
while the median wall time of the finished trials fits in what is left (the first trial
always starts), and each trial trains under a `Deadline`. A search's times come from
`clock`, the machine's wall clock, shared by the processes of a search on one machine;
tests replace it.
"""

import json
import math
import re
import statistics
import time
from pathlib import Path

import keras
import keras_tuner

STOPPED = keras_tuner.engine.trial.TrialStatus.STOPPED
COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED
FILE = "budget.json"
_UNITS = {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600}


def clock():
    """Seconds on the wall clock (`time.time`): comparable across processes."""
    return time.time()


class Budget:
    """A search's wall-clock budget, kept in `<project_dir>/budget.json` across runs.

    `Budget.begin` starts one in the process that runs `search`; the processes of a
    search (`workers=N`) rebuild it from `as_plan()`, so that all share one deadline.

    Args:
        seconds: the budget for the whole search, every run of it together.
        project_dir: the search's folder; `budget.json` there holds what the runs
            spent (`spent`), each finished trial's wall seconds (`trials`) and why
            the search stopped (`stop_reason`).
        spent_before: seconds spent by earlier runs of the search.
        started: when this run started, on `clock`. Defaults to now.
    """

    def __init__(self, seconds, project_dir, spent_before=0.0, started=None):
        self.seconds = float(seconds)
        self.project_dir = Path(project_dir)
        self.path = self.project_dir / FILE
        self.spent_before = float(spent_before)
        self.started = clock() if started is None else float(started)
        self.trials = dict(self.read(project_dir).get("trials", {}))
        self.stop_reason = None
        # Absolute, so that every process of the search stops at the same moment.
        self.deadline = self.started + self.seconds - self.spent_before
        self._begun = {}

    @classmethod
    def begin(cls, seconds, project_dir, fresh=False):
        """A budget of `seconds` for the search in `project_dir`, less what its earlier
        runs spent (nothing when `fresh`: an overwritten search)."""
        path = Path(project_dir) / FILE
        if fresh:
            path.unlink(missing_ok=True)
        return cls(seconds, project_dir, cls.read(project_dir).get("spent", 0.0))

    def as_plan(self):
        """What another process of the search needs to rebuild this budget."""
        return dict(seconds=self.seconds, project_dir=str(self.project_dir),
                    spent_before=self.spent_before, started=self.started)

    @property
    def spent(self):
        return self.spent_before + clock() - self.started

    def left(self):
        return self.deadline - clock()

    def estimate(self):
        """The median wall seconds of the finished trials, or `None` before any."""
        return statistics.median(self.trials.values()) if self.trials else None

    def refuses(self):
        """Why no new trial may start now, or `None` when one may."""
        left = self.left()
        if left <= 0:
            return f"the budget of {self.seconds:.0f} s is spent"
        estimate = self.estimate()
        if estimate is not None and estimate > left:
            return (
                f"budget: a trial takes about {estimate:.0f} s (the median so far) and "
                f"{left:.0f} s are left"
            )
        return None

    def guard(self, oracle):
        """Makes `oracle` refuse new trials that would not fit, and record each
        trial's wall time and the spent budget in `budget.json`."""
        create, end = oracle.create_trial, oracle.end_trial

        def create_trial(tuner_id):
            if tuner_id not in oracle.ongoing_trials:
                reason = self.refuses()
                if reason is not None:
                    self.stop_reason = reason
                    self.save()
                    space = oracle.hyperparameters.copy()
                    return keras_tuner.engine.trial.Trial(space, status=STOPPED)
            trial = create(tuner_id)
            if trial.status == "RUNNING":
                self._begun.setdefault(trial.trial_id, clock())
            self.save()
            return trial

        def end_trial(trial, *args, **kwargs):
            begun = self._begun.pop(trial.trial_id, None)
            if begun is not None and trial.status == COMPLETED:
                self.trials[trial.trial_id] = clock() - begun
            result = end(trial, *args, **kwargs)
            self.save()
            return result

        oracle.create_trial, oracle.end_trial = create_trial, end_trial

    def save(self):
        record = dict(seconds=self.seconds, spent=self.spent, trials=self.trials,
                      stop_reason=self.stop_reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(record, indent=1))
        partial.replace(self.path)

    @classmethod
    def read(cls, project_dir):
        """`budget.json` of a search as a dict, or `{}` for a search without a budget."""
        path = Path(project_dir) / FILE
        return json.loads(path.read_text()) if path.is_file() else {}


def parse_budget(budget, name="budget"):
    """Seconds of a budget: a number of seconds, or text such as `"900"`, `"90s"`,
    `"15m"`, `"1.5h"`; `name` is the argument's, for the error (`None`: no name).

    Example:

    >>> parse_budget("15m")
    900.0
    """
    seconds = None
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        seconds = float(budget)
    elif isinstance(budget, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h)?\s*", budget)
        if match:
            seconds = float(match[1]) * _UNITS[match[2]]
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            "A budget is a positive number of seconds or a duration such as '90s', "
            f"'15m' or '1h'. Received: {f'{name}=' if name else ''}{budget!r}"
        )
    return seconds


class Deadline(keras.callbacks.Callback):
    """Stops training after the epoch that leaves too little time for one more (of the
    median length so far); `fired` says whether it did, `seconds` holds each epoch's.

    Args:
        deadline: the moment, on `clock`, by which training must end.
        clock: a function returning seconds. Defaults to `time.monotonic`.
    """

    def __init__(self, deadline, clock=time.monotonic):
        super().__init__()
        self.deadline, self.clock = deadline, clock
        self.fired, self.seconds = False, []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.seconds.append(now - self._start)
        if now + statistics.median(self.seconds) > self.deadline:
            self.fired = True
            self.model.stop_training = True

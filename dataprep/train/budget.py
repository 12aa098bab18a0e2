"""``--time-budget``: size the run (epochs, the cosine's length, the
evaluations) to the time the user can wait, from the measured speed of the
first steps.

::

    epoch 1, after PROBE_STEPS steps   seconds per step s (the first step, which traces, left out)
      plan: E = epochs done + floor(remaining / (N s + c / k))     N steps per epoch, c one
                                                                  evaluation, k epochs between them
      -> schedule.set_total_steps(E N), report.epochs = E, report.eval_every = k
    every epoch end in the first quarter of the plan, and after the first evaluation:
                                  plan again with the measured epochs and evaluation
    every epoch end:  stop when the next epoch (and its evaluation) would overrun the budget

Two clocks: ``wall`` counts everything from the start of ``train`` (model
building, tracing, evaluations, checkpoints) and keeps one evaluation in
reserve for the end; ``cpu-steps`` counts only the CPU time
(``time.process_time``) of the training steps, input pipeline and tracing
included, evaluations not — what a benchmark on a shared machine compares
(``benchmarks/train_real.py``).
"""

from __future__ import annotations

import math
import re
import time
from typing import Callable

import keras

from dataprep.errors import UsageError

#: Steps of the first epoch timed before the plan (the first one, which traces, not counted).
PROBE_STEPS = 8
#: Before the first evaluation is timed: an evaluation image costs this fraction of a training image
#: (a forward pass in inference mode, or in training mode for precise BN, without the backward pass).
EVAL_IMAGE_COST = 0.4
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds of ``30m``, ``90s``, ``1.5h`` or ``1h30m``; a bare number is minutes
    (``--time-budget 30`` most plausibly means half an hour)."""
    value = str(text).strip().lower()
    try:
        return _positive(float(value) * 60.0, text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smh])", value)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smh])", "", value).strip():
        raise UsageError(f"--time-budget: expected a duration such as 30m, 90s, 1.5h or 1h30m, got {text!r}")
    return _positive(sum(float(n) * _UNITS[u] for n, u in parts), text)


def _positive(seconds: float, text) -> float:
    if not seconds > 0 or not math.isfinite(seconds):
        raise UsageError(f"--time-budget: expected a positive duration, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.0f} s"


class TimeBudget(keras.callbacks.Callback):
    """Plan and hold a run to ``budget`` seconds of ``clock`` (see the module docstring).

    ``report`` is the run's :class:`~dataprep.train.trainer.EpochReport` (its
    ``epochs`` and ``eval_every`` are set by the plan); ``schedule`` the
    optimizer's :class:`~dataprep.train.optim.WarmupCosine`; ``eval_images``
    the images one evaluation reads (the eval split plus precise BN's);
    ``auto_eval``: choose ``eval_every`` (about ``evals_per_run`` evaluations).
    """

    def __init__(self, budget: float, clock: str, steps: int, batch_size: int, schedule, report,
                 eval_images: int = 0, auto_eval: bool = True, evals_per_run: int = 8, start: float | None = None,
                 log: Callable[[str], None] = print):
        super().__init__()
        self.budget, self.clock, self.steps, self.batch_size = budget, clock, steps, batch_size
        self.schedule, self.report, self.log = schedule, report, log
        self.eval_images, self.auto_eval, self.evals_per_run = eval_images, auto_eval, evals_per_run
        self._now = time.process_time if clock == "cpu-steps" else time.perf_counter
        self._start = self._now() if start is None or clock == "cpu-steps" else start
        self.step_seconds = 0.0  # cpu-steps: CPU time of the finished epochs' steps
        self.per_step: float | None = None
        self.eval_cost: float | None = None  # measured (wall clock only)
        self.epoch_costs: list[float] = []
        self.planned_epochs: int | None = None
        self.plans: list[dict] = []
        self.stopped_by_budget = False
        self._epoch = 0
        self._epoch_begin = self._first_step_end = self._last_step_end = 0.0

    # ------------------------------------------------------------ clock
    def used(self) -> float:
        """Budget used so far."""
        if self.clock == "cpu-steps":
            return self.step_seconds + max(0.0, self._last_step_end - self._epoch_begin)
        return self._now() - self._start

    # ------------------------------------------------------------- plan
    def _eval_cost(self) -> float:
        if self.clock == "cpu-steps" or not self.eval_images:
            return 0.0
        if self.eval_cost is not None:
            return self.eval_cost
        return self.eval_images / self.batch_size * (self.per_step or 0.0) * EVAL_IMAGE_COST

    def plan(self, epochs_begun: int, steps_left_in_epoch: int, epoch_cost: float) -> int:
        """Epochs in all that fit the budget (``epochs_begun``: done or under way); sets the
        schedule and the report."""
        eval_cost = self._eval_cost()
        remaining = self.budget - self.used() - steps_left_in_epoch * (self.per_step or 0.0) - eval_cost
        every = self.report.eval_every or 0
        for _ in range(3):  # the interval depends on the epochs, which depend on the evaluations' cost
            per_epoch = epoch_cost + (eval_cost / every if every else 0.0)
            more = int(max(0.0, remaining) // per_epoch) if per_epoch > 0 else 0
            epochs = max(1, epochs_begun + more)
            if self.auto_eval:
                every = max(1, math.ceil(epochs / self.evals_per_run))
        self.report.eval_every = every
        self.report.epochs = epochs
        self.schedule.set_total_steps(epochs * self.steps)
        self.planned_epochs = epochs
        self.plans.append({"epochs_begun": epochs_begun, "seconds_per_step": self.per_step,
                           "seconds_per_epoch": epoch_cost, "seconds_per_evaluation": eval_cost,
                           "epochs": epochs, "eval_every": every, "used": self.used()})
        return epochs

    def _describe(self, epochs: int) -> str:
        every = self.report.eval_every
        evals = f", an evaluation every {every} epoch{'s' if every != 1 else ''}" if every else ""
        plural = "s" if epochs != 1 else ""
        return (f"{epochs} epoch{plural}{evals} ({self.per_step:.2f} s per step of {self.batch_size}, "
                f"{format_duration(self.budget)} {'of CPU in the training steps' if self.clock == 'cpu-steps' else ''}"
                .rstrip() + ")")

    # -------------------------------------------------------- callbacks
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_begin = self._last_step_end = self._now()
        self._first_step_end = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = self._last_step_end = self._now()
        if batch == 0:
            self._first_step_end = now
            return
        if self.planned_epochs is None and (batch == min(PROBE_STEPS, self.steps - 1)):
            self.per_step = (now - self._first_step_end) / batch
            epochs = self.plan(self._epoch + 1, self.steps - batch - 1, self.steps * self.per_step)
            self.log("Time budget: " + self._describe(epochs))

    def on_epoch_end(self, epoch, logs=None):
        now = self._now()
        cost = self._last_step_end - self._epoch_begin
        self.step_seconds += cost
        first_step_end, self._epoch_begin = self._first_step_end, self._last_step_end  # counted once
        if epoch == 0 and self.steps > 1:  # without the first step, which traced the model
            self.epoch_costs.append((self._last_step_end - first_step_end) * self.steps / (self.steps - 1))
        elif epoch > 0:
            self.epoch_costs.append(cost)
        first_eval = False
        if self.report.last_evaluation_epoch == epoch + 1 and self.clock != "cpu-steps":
            first_eval = self.eval_cost is None
            self.eval_cost = now - self._last_step_end
        if self.planned_epochs is None:  # one step per epoch: plan from the whole first epoch
            self.per_step = cost / self.steps
            self.log("Time budget: " + self._describe(self.plan(epoch + 1, 0, cost)))
        elif epoch + 1 <= max(1, self.planned_epochs // 4) or first_eval:
            per_epoch = sum(self.epoch_costs) / len(self.epoch_costs)
            self.per_step = per_epoch / self.steps
            before = self.planned_epochs
            if self.plan(epoch + 1, 0, per_epoch) != before:
                self.log(f"Time budget: re-planned with the measured speed: {self._describe(self.planned_epochs)}")
        if epoch + 1 >= self.planned_epochs:
            self.model.stop_training = True
            return
        next_cost = (self.epoch_costs[-1] if self.epoch_costs else cost)
        due = self.report.eval_every and (epoch + 2) % self.report.eval_every == 0
        if self.used() + next_cost + (self._eval_cost() if due else 0.0) > self.budget:
            self.stopped_by_budget = True
            self.model.stop_training = True
            self.log(f"Time budget: stopping after epoch {epoch + 1} of {self.planned_epochs}: the next one "
                     f"would overrun {format_duration(self.budget)}")

    def to_dict(self) -> dict:
        return {"budget_seconds": self.budget, "clock": self.clock, "used_seconds": self.used(),
                "planned_epochs": self.planned_epochs, "stopped_by_budget": self.stopped_by_budget,
                "plans": self.plans}

"""Parsing of temperature (``ent_coef``) and ``target_entropy`` arguments.

Shared by SoftDQN, EntropyPPO and the extended SAC so that the three accept the
same forms:

* ``ent_coef``: a positive float, a schedule (callable of ``progress_remaining``
  or a string, see :mod:`sb3_softopt.common.schedules`), or ``"auto"`` /
  ``"auto_<init>"`` (learned by gradient descent on ``log(alpha)``).
* ``target_entropy``: a float, a schedule, or ``"auto"`` (an algorithm-specific
  default, e.g. ``-dim(A)`` for SAC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch as th

from sb3_softopt.common.checks import FLOAT32_MAX, FLOAT32_TINY
from sb3_softopt.common.schedules import (
    Schedule,
    ScheduleError,
    ScheduleLike,
    check_schedule_range,
    make_schedule,
)


#: The default target entropy on discrete-type action spaces, as a fraction of the uniform
#: policy's (``log |A|``): SoftDQN, EntropyPPO and discrete SAC share it (docs/soft_dqn.md, docs/sac.md).
DEFAULT_TARGET_ENTROPY_RATIO = 0.3


@dataclass(frozen=True)
class TemperatureConfig:
    """What an ``ent_coef`` argument means.

    :param auto: whether alpha is learned against a target entropy
    :param init_value: alpha at the start of training
    :param schedule: the fixed schedule of alpha when ``auto`` is False
    """

    auto: bool
    init_value: float
    schedule: Optional[Schedule] = None


def parse_temperature(value: ScheduleLike, name: str = "ent_coef", allow_zero: bool = False) -> TemperatureConfig:
    """Interpret an ``ent_coef`` argument.

    :param value: ``"auto"``, ``"auto_<init>"``, a number, schedule string or callable
    :param name: parameter name for error messages
    :param allow_zero: accept alpha = 0 (the "extension off" setting of EntropyPPO)
    :raises ValueError: alpha <= 0 (or < 0 with ``allow_zero``), malformed strings
    """
    if isinstance(value, str) and value.strip().lower().startswith("auto"):
        text = value.strip().lower()
        init = 1.0
        if text != "auto":
            if not text.startswith("auto_"):
                raise ScheduleError(f"{name}={value!r}: expected 'auto' or 'auto_<initial value>'")
            try:
                init = float(text[len("auto_") :])
            except ValueError:
                raise ScheduleError(f"{name}={value!r}: cannot read the initial value after 'auto_'") from None
        # log(alpha) is learned in float32: inf, 1e400 (= inf) or 1e-50 (= 0) would make it +-inf.
        if not FLOAT32_TINY <= init <= FLOAT32_MAX:
            raise ValueError(
                f"{name}={value!r}: the initial temperature must be in [{FLOAT32_TINY:.3g}, {FLOAT32_MAX:.3g}] "
                "(a positive, finite float32)"
            )
        return TemperatureConfig(auto=True, init_value=init)
    schedule = make_schedule(value, name=name)
    if allow_zero:
        check_schedule_range(schedule, name, non_negative=True)
    else:
        check_schedule_range(schedule, name, positive=True)
    for p in (1.0, 0.5, 0.0):
        if schedule(p) > FLOAT32_MAX:
            raise ValueError(f"{name} must be <= {FLOAT32_MAX:.3g} (a finite float32), got {schedule(p)} at progress_remaining={p}")
    return TemperatureConfig(auto=False, init_value=schedule(1.0), schedule=schedule)


def parse_target_entropy(value: ScheduleLike, auto_value: float, name: str = "target_entropy") -> Schedule:
    """Interpret a ``target_entropy`` argument; ``"auto"`` becomes the constant ``auto_value``."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return make_schedule(float(auto_value), name=name)
    schedule = make_schedule(value, name=name)
    check_schedule_range(schedule, name)
    return schedule


class ScalarAdam:
    """``torch.optim.Adam`` on a one-element parameter, stepped in Python floats.

    A learned temperature is updated once per gradient step, and a one-element tensor update
    costs a dozen tiny torch ops (~40-50 us on a CPU), a tenth of a small network's whole
    gradient step. This class reads the parameter and the optimizer's state once, runs Adam's
    arithmetic in Python floats (double precision, so it agrees with torch's float32 Adam to
    float32 rounding) and writes parameter and state back in :meth:`commit`. Between ``commit``
    calls the optimizer (and ``state_dict``) still holds the old values; commit before anything
    else reads them. Options this path does not implement (weight decay, amsgrad, maximize,
    fused, capturable, tensor lr) fall back to ``optimizer.step()`` at every step.

    :param optimizer: an Adam over exactly one one-element parameter
    """

    def __init__(self, optimizer: th.optim.Adam) -> None:
        self.optimizer = optimizer
        group = optimizer.param_groups[0]
        (self.param,) = group["params"]
        self.fallback = bool(
            group["weight_decay"]
            or group["amsgrad"]
            or group["maximize"]
            or group.get("fused")
            or group.get("capturable")
            or group.get("decoupled_weight_decay")
            or isinstance(group["lr"], th.Tensor)
        )
        self.lr, (self.beta1, self.beta2), self.eps = group["lr"], group["betas"], group["eps"]
        state = optimizer.state[self.param]
        self.value = float(self.param.detach())
        self.n_steps = float(state["step"]) if state else 0.0
        self.exp_avg = float(state["exp_avg"]) if state else 0.0
        self.exp_avg_sq = float(state["exp_avg_sq"]) if state else 0.0

    def step(self, grad: float) -> float:
        """One Adam step with gradient ``grad``; returns the parameter's new value."""
        if self.fallback:
            self.param.grad = th.full_like(self.param, grad)
            self.optimizer.step()
            self.value = float(self.param.detach())
            return self.value
        self.n_steps += 1.0
        # torch: exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        self.exp_avg += (grad - self.exp_avg) * (1.0 - self.beta1)
        self.exp_avg_sq = self.exp_avg_sq * self.beta2 + (1.0 - self.beta2) * grad * grad
        step_size = self.lr / (1.0 - self.beta1**self.n_steps)
        denom = math.sqrt(self.exp_avg_sq) / math.sqrt(1.0 - self.beta2**self.n_steps) + self.eps
        self.value -= step_size * self.exp_avg / denom
        return self.value

    def commit(self) -> None:
        """Write the parameter and Adam's state (``step``, ``exp_avg``, ``exp_avg_sq``) back to torch."""
        if self.fallback or self.n_steps == 0:
            return
        state = self.optimizer.state[self.param]
        if not state:  # the layout of torch's Adam._init_group
            state["step"] = th.tensor(0.0, dtype=th.float32)
            state["exp_avg"] = th.zeros_like(self.param, memory_format=th.preserve_format)
            state["exp_avg_sq"] = th.zeros_like(self.param, memory_format=th.preserve_format)
        with th.no_grad():
            self.param.fill_(self.value)
            state["step"].fill_(self.n_steps)
            state["exp_avg"].fill_(self.exp_avg)
            state["exp_avg_sq"].fill_(self.exp_avg_sq)

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

from sb3_softopt.common.schedules import (
    Schedule,
    ScheduleError,
    ScheduleLike,
    check_schedule_range,
    make_schedule,
)


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
        if not init > 0:
            raise ValueError(f"{name}={value!r}: the initial temperature must be > 0")
        return TemperatureConfig(auto=True, init_value=init)
    schedule = make_schedule(value, name=name)
    if allow_zero:
        check_schedule_range(schedule, name, non_negative=True)
    else:
        check_schedule_range(schedule, name, positive=True)
    return TemperatureConfig(auto=False, init_value=schedule(1.0), schedule=schedule)


def parse_target_entropy(value: ScheduleLike, auto_value: float, name: str = "target_entropy") -> Schedule:
    """Interpret a ``target_entropy`` argument; ``"auto"`` becomes the constant ``auto_value``."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return make_schedule(float(auto_value), name=name)
    schedule = make_schedule(value, name=name)
    check_schedule_range(schedule, name)
    return schedule


def scalar_adam_step(optimizer: th.optim.Adam, grad: th.Tensor) -> None:
    """One ``torch.optim.Adam`` step of the optimizer's single (scalar-sized) parameter.

    The same arithmetic as torch's single-tensor Adam (same state layout, so ``state_dict`` /
    ``load_state_dict`` and a plain ``optimizer.step()`` stay interchangeable with it), without
    ``Optimizer.step``'s per-call bookkeeping: for a one-element log-temperature updated every
    gradient step, that bookkeeping costs about as much as the whole temperature update
    (~130 us against ~40 us here, measured on the CPU). Falls back to ``optimizer.step()`` for
    options this path does not implement (weight decay, amsgrad, maximize, fused, capturable).

    :param optimizer: an Adam over exactly one parameter
    :param grad: the gradient of that parameter (same shape)
    """
    group = optimizer.param_groups[0]
    (param,) = group["params"]
    if (
        group["weight_decay"]
        or group["amsgrad"]
        or group["maximize"]
        or group.get("fused")
        or group.get("capturable")
        or group.get("decoupled_weight_decay")
        or isinstance(group["lr"], th.Tensor)
    ):
        param.grad = grad
        optimizer.step()
        return
    beta1, beta2 = group["betas"]
    state = optimizer.state[param]
    if len(state) == 0:  # as torch's Adam._init_group
        state["step"] = th.tensor(0.0, dtype=th.float32)
        state["exp_avg"] = th.zeros_like(param, memory_format=th.preserve_format)
        state["exp_avg_sq"] = th.zeros_like(param, memory_format=th.preserve_format)
    state["step"] += 1
    step = float(state["step"])
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    with th.no_grad():
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = group["lr"] / (1 - beta1**step)
        denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**step)).add_(group["eps"])
        param.addcdiv_(exp_avg, denom, value=-step_size)

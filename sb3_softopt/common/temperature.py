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
    schedule: Schedule | None = None


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


def temperature_at(schedule: Schedule, progress: float, name: str = "ent_coef", allow_zero: bool = False) -> float:
    """A scheduled temperature at ``progress`` (remaining), checked where it is used.

    :func:`parse_temperature` can only probe a schedule (at progress 1, 0.5 and 0); a callable that
    leaves the range in between is caught here, at the update that would have used it.

    :param schedule: the temperature schedule
    :param progress: SB3's ``progress_remaining``
    :param name: the constructor argument, for the message
    :param allow_zero: accept alpha = 0 (EntropyPPO's "extension off")
    :raises ValueError: a value below the range, not finite or beyond float32
    """
    value = float(schedule(progress))
    if not (math.isfinite(value) and (value >= 0.0 if allow_zero else value > 0.0) and value <= FLOAT32_MAX):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{name}={value!r} at progress_remaining={progress:.6g}: a temperature must be {bound} and a finite "
            "float32; the schedule passed the construction-time check at progress 1, 0.5 and 0 and left the range later"
        )
    return value


def parse_target_entropy(value: ScheduleLike, auto_value: float, name: str = "target_entropy") -> Schedule:
    """Interpret a ``target_entropy`` argument; ``"auto"`` becomes the constant ``auto_value``."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return make_schedule(float(auto_value), name=name)
    schedule = make_schedule(value, name=name)
    check_schedule_range(schedule, name)
    return schedule


def make_log_ent_coef(init_value: float, lr: float, device: th.device | str = "cpu") -> tuple[th.Tensor, th.optim.Adam]:
    """The learned temperature: ``log alpha`` (one element, ``alpha = init_value`` at the start) and
    torch's Adam over it, as SB3's SAC creates them (same construction, so SAC stays bit-identical).

    :param init_value: alpha at the start, a positive finite float32 (see :func:`parse_temperature`)
    :param lr: Adam's learning rate
    :param device: torch device
    """
    log_ent_coef = th.log(th.ones(1, device=device) * init_value).requires_grad_(True)
    return log_ent_coef, th.optim.Adam([log_ent_coef], lr=lr)


def temperature_step(log_ent_coef: th.Tensor, optimizer: th.optim.Optimizer, neg_entropy: th.Tensor, target_entropy: float) -> th.Tensor:
    """One descent step on SB3's temperature loss ``-log(alpha) * (neg_entropy + H_0)``, averaged.

    ``neg_entropy`` is per sample: ``log pi(a|s)`` of sampled actions (continuous SAC) or the
    exact ``-H(pi(.|s))`` (discrete policies). Its gradient in ``log alpha`` is ``H - H_0``: alpha
    falls while the policy is more random than the target and rises while it is less.

    :returns: the loss (detached), at the ``log alpha`` before the step
    """
    loss = -(log_ent_coef * (neg_entropy + target_entropy).detach()).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()

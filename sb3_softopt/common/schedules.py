"""Schedules of ``progress_remaining`` shared by every algorithm of the package.

SB3 calls schedules with ``progress_remaining``, which goes from 1 (start of
training) to 0 (end). Our temperatures and target entropies accept the same
callables, plus a yaml-friendly string form so that rl-zoo3 hyperparameter files
can express them:

======================  =====================================================
string                  value at progress_remaining ``p``
======================  =====================================================
``"0.2"``               constant 0.2
``"const_0.2"``         constant 0.2
``"lin_0.1"``           linear from 0.1 to 0 (rl-zoo3's own form)
``"lin_0.1_0.001"``     linear from 0.1 (start) to 0.001 (end)
``"loglin_0.1_0.001"``  log-linear (geometric) from 0.1 to 0.001; both > 0
``"exp_0.1_0.001"``     alias of ``loglin``
======================  =====================================================

Schedules are small picklable classes (not lambdas) so that ``save``/``load``
round-trip them and their ``repr`` is readable in logs: :class:`Constant`, :class:`Linear`,
:class:`LogLinear` and :class:`FromCallable` (named so as not to be confused with SB3's
``ConstantSchedule`` / ``LinearSchedule``, which take other arguments).

Why not SB3 2.9's ``ConstantSchedule`` / ``LinearSchedule`` / ``FloatSchedule``
(``stable_baselines3.common.utils``): saved models pickle these classes by module, name and
attributes (``Constant.value``, where SB3's has ``val``), so swapping them would break loading;
SB3's have no ``__eq__`` (a loaded model's schedule compares equal to the one it was built
with), no :class:`Schedule` base (the algorithms tell a parsed schedule from a user callable by
it), no ``initial_value``, and SB3's ``LinearSchedule`` needs an ``end_fraction`` and does not
clip the progress. SB3 lacks the
log-linear schedule and the string parser altogether. Every class here is a callable of
``progress_remaining``, so SB3 accepts it wherever it takes a ``Schedule``.
"""

from __future__ import annotations

import math
import numbers
from typing import Union
from collections.abc import Callable

import numpy as np

from sb3_softopt.common.validation import check_real

ScheduleLike = Union[float, int, str, Callable[[float], float]]  # noqa: UP007  a runtime alias: Python 3.10 cannot | a typing.Callable


class ScheduleError(ValueError):
    """A schedule (string, number or callable) could not be understood."""


class Schedule:
    """Base class: a function of ``progress_remaining`` in [0, 1]."""

    def __call__(self, progress_remaining: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def initial_value(self) -> float:
        return float(self(1.0))


class Constant(Schedule):
    """Always ``value`` (not SB3's ``ConstantSchedule``: pickled models hold ``.value``; see the module docstring).

    :param value: the constant.
    """

    def __init__(self, value: float):
        self.value = float(value)

    def __call__(self, progress_remaining: float) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and other.value == self.value


class Linear(Schedule):
    """Linear interpolation from ``start`` (p=1) to ``end`` (p=0); the progress is clipped to [0, 1]
    (SB3's ``LinearSchedule`` neither clips nor compares equal; see the module docstring).

    :param start: value at the start of training (progress remaining 1).
    :param end: value at the end of training (progress remaining 0).
    """

    def __init__(self, start: float, end: float = 0.0):
        self.start, self.end = float(start), float(end)

    def __call__(self, progress_remaining: float) -> float:
        p = min(max(float(progress_remaining), 0.0), 1.0)
        return self.end + (self.start - self.end) * p

    def __repr__(self) -> str:
        return f"Linear(start={self.start!r}, end={self.end!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Linear) and (other.start, other.end) == (self.start, self.end)


class LogLinear(Schedule):
    """Geometric interpolation from ``start`` (p=1) to ``end`` (p=0); both must be > 0.

    This is the temperature anneal used for finetuning in Haarnoja et al. (2017):
    the log of the value moves linearly, so every decade takes the same time.

    :param start: value at the start of training (progress remaining 1), > 0.
    :param end: value at the end of training (progress remaining 0), > 0.
    """

    def __init__(self, start: float, end: float):
        start, end = float(start), float(end)
        if start <= 0 or end <= 0:
            raise ScheduleError(f"a log-linear schedule needs positive end points, got start={start}, end={end}")
        self.start, self.end = start, end
        self._log_start, self._log_end = math.log(start), math.log(end)

    def __call__(self, progress_remaining: float) -> float:
        p = min(max(float(progress_remaining), 0.0), 1.0)
        return math.exp(self._log_end + (self._log_start - self._log_end) * p)

    def __repr__(self) -> str:
        return f"LogLinear(start={self.start!r}, end={self.end!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogLinear) and (other.start, other.end) == (self.start, self.end)


class FromCallable(Schedule):
    """Wraps a user callable so that it gets the Schedule helpers (SB3's ``FloatSchedule`` does the
    float cast too, but is no :class:`Schedule`, and pickled models hold ``.func``)."""

    def __init__(self, func: Callable[[float], float]):
        self.func = func

    def __call__(self, progress_remaining: float) -> float:
        return float(self.func(progress_remaining))

    def __repr__(self) -> str:
        return f"FromCallable({self.func!r})"


def _parse_float(token: str, text: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ScheduleError(f"cannot read {token!r} as a number in schedule {text!r}") from None
    if not math.isfinite(value):
        raise ScheduleError(f"schedule {text!r} has a non-finite value {token!r}")
    return value


def parse_schedule(text: str) -> Schedule:
    """Parse the string form of a schedule (see the module docstring)."""
    if not isinstance(text, str):
        raise ScheduleError(f"expected a schedule string, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise ScheduleError("empty schedule string")
    try:
        return Constant(_parse_float(raw, text))
    except ScheduleError:
        pass
    kind, _, rest = raw.partition("_")
    kind = kind.lower()
    args = [tok for tok in rest.split("_")] if rest else []
    if any(tok == "" for tok in args):
        raise ScheduleError(f"malformed schedule {text!r}: empty field")
    values = [_parse_float(tok, text) for tok in args]
    if kind in ("const", "constant"):
        if len(values) != 1:
            raise ScheduleError(f"'const' schedule takes one value, got {text!r} (e.g. 'const_0.2')")
        return Constant(values[0])
    if kind in ("lin", "linear"):
        if len(values) not in (1, 2):
            raise ScheduleError(f"'lin' schedule takes one or two values, got {text!r} (e.g. 'lin_0.1_0.001')")
        return Linear(*values)
    if kind in ("loglin", "exp", "loglinear"):
        if len(values) != 2:
            raise ScheduleError(f"'loglin' schedule takes two values, got {text!r} (e.g. 'loglin_0.1_0.001')")
        return LogLinear(*values)
    raise ScheduleError(
        f"unknown schedule {text!r}: use a number, 'const_V', 'lin_START[_END]' or 'loglin_START_END'"
    )


def make_schedule(value: ScheduleLike, name: str = "schedule") -> Schedule:
    """Turn a number, a schedule string or a callable into a :class:`Schedule`.

    :param value: constant, string form, or callable of ``progress_remaining``
    :param name: parameter name used in error messages
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, (bool, np.bool_)):
        raise ScheduleError(f"{name} must be a number, a schedule string or a callable, got a bool")
    if isinstance(value, numbers.Real):  # Python and numpy scalars (optuna and numpy code produce the latter)
        if not math.isfinite(float(value)):
            raise ScheduleError(f"{name} must be finite, got {value}")
        return Constant(float(value))
    if isinstance(value, str):
        try:
            return parse_schedule(value)
        except ScheduleError as exc:
            raise ScheduleError(f"{name}: {exc}") from None
    if callable(value):
        return FromCallable(value)
    raise ScheduleError(f"{name} must be a number, a schedule string or a callable, got {type(value).__name__}")


def check_schedule_range(schedule: Schedule, name: str, *, positive: bool = False, non_negative: bool = False) -> None:
    """Raise ``ValueError`` if the schedule leaves the allowed range at its ends or midpoint."""
    low = 0.0 if positive or non_negative else None
    for p in (1.0, 0.5, 0.0):
        check_real(schedule(p), f"{name} at progress_remaining={p:g}", low=low, low_open=positive)


#: Former names of the classes. Models saved before the rename pickle them under these names, so
#: unpickling still finds them (pickle looks names up with getattr, which reaches the module's
#: ``__getattr__``); they are not module attributes, so no public name here clashes with SB3's
#: ``ConstantSchedule`` / ``LinearSchedule``.
_LEGACY_NAMES: dict[str, type[Schedule]] = {
    "ConstantSchedule": Constant,
    "LinearSchedule": Linear,
    "LogLinearSchedule": LogLinear,
    "CallableSchedule": FromCallable,
}


def __getattr__(name: str) -> type[Schedule]:
    try:
        return _LEGACY_NAMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None

"""Scalar arguments checked in one place, with one message for one mistake everywhere.

Every check names the parameter, its valid range and the value received::

    batch_size must be an integer >= 1, got 0
    gamma must be a number in (0, 1], got 1.5
    alpha must be a finite number > 0, got 'hot' (str)

Python and numpy scalars are accepted alike (optuna and numpy code produce the latter), bools are
not numbers here, and the value comes back as the equal Python ``float`` or ``int``. A value of the
wrong type raises :class:`ArgumentTypeError`, which is both a ``TypeError`` and a ``ValueError``: the
package's modules used to report a wrong type either way (SB3-style hyperparameters as
``ValueError``, the inference toolkit and the environments as ``TypeError``), and code written
against either keeps working. A value out of range raises ``error`` (``ValueError`` by default; the
inference toolkit passes its ``InvalidMDPError``).

The array checks of the training loops (non-finite rewards, observations and losses) are in
:mod:`sb3_softopt.common.checks`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "check_int",
    "check_real",
    "is_integer",
    "is_real",
    "python_scalar",
    "requirement",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument that should be a number (or an integer) is not one.

    Both a ``TypeError`` and a ``ValueError`` (as :class:`io.UnsupportedOperation` is both an
    ``OSError`` and a ``ValueError``), so that ``except ValueError`` around an SB3-style
    constructor and ``except TypeError`` around the inference toolkit both catch it.
    """


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy scalar), bools excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or numpy scalar), bools excluded; ``3.0`` is not."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the equal Python number (stored arguments then save, print and compare as such)."""
    return value.item() if isinstance(value, np.generic) else value


def _bound(value: float, integer: bool) -> str:
    return str(int(value)) if integer and float(value).is_integer() else f"{value:g}"


def requirement(
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> str:
    """What a checked value must be, as the messages say it: ``"a finite number > 0"``,
    ``"a number in (0, 1]"``, ``"an integer >= 1"``.
    """
    kind = "an integer" if integer else "a number"
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"{kind} in {left}{_bound(low, integer)}, {_bound(high, integer)}{right}"
    if not integer:
        kind = "a finite number"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {_bound(low, integer)}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {_bound(high, integer)}"
    return kind


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    note: str = "",
    error: type[ValueError] = ValueError,
) -> Any:
    """``value`` as a Python ``float`` (``int`` with ``integer=True``), finite and in range.

    :param value: the argument received
    :param name: the parameter's name, as the caller knows it (``"batch_size"``, ``"spec['sigma']"``)
    :param low: the lower bound, or ``None`` for none
    :param high: the upper bound, or ``None`` for none
    :param low_open: exclude ``low`` itself
    :param high_open: exclude ``high`` itself
    :param integer: require an integer (``3.0`` is refused) and return an ``int``
    :param note: a gloss put after the range in the message (``"0: off"``)
    :param error: the class raised for a value out of range (a ``ValueError`` subclass)
    :returns: the value as a Python number
    :raises ArgumentTypeError: ``value`` is not a real number (an integer with ``integer=True``)
    :raises ValueError: ``error``: the value is NaN, infinite or out of range
    """
    ok_type = is_integer(value) if integer else is_real(value)
    number = (int(value) if integer else float(value)) if ok_type else math.nan
    in_range = (
        math.isfinite(number)
        and (low is None or (number > low if low_open else number >= low))
        and (high is None or (number < high if high_open else number <= high))
    )
    if in_range:
        return number
    text = requirement(low=low, high=high, low_open=low_open, high_open=high_open, integer=integer)
    message = f"{name} must be {text}{f' ({note})' if note else ''}, got {value!r}"
    if not ok_type:
        raise ArgumentTypeError(f"{message} ({type(value).__name__})")
    raise error(message)


def check_int(
    value: Any,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    note: str = "",
    error: type[ValueError] = ValueError,
) -> int:
    """:func:`check_real` for an integer (bounds included): ``value`` as a Python ``int``."""
    return check_real(value, name, low=low, high=high, integer=True, note=note, error=error)

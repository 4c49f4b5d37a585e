"""Validation shared by the tabular inference toolkit: the model's error type, distributions,
horizons, temperatures, discounts and counts, each with the same message wherever it is checked.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

#: Absolute tolerance for "rows of the transition model sum to 1" (and the other distributions).
PROBABILITY_ATOL = 1e-6


class InvalidMDPError(ValueError):
    """A tabular model (transitions, rewards, distributions) or a solver argument is malformed."""


def _check_horizon(horizon: Any, name: str = "horizon") -> int | None:
    if horizon is None:
        return None
    if isinstance(horizon, bool) or not isinstance(horizon, (Integral, np.integer)):
        raise TypeError(f"{name} must be a positive integer or None, got {horizon!r} ({type(horizon).__name__})")
    if int(horizon) < 1:
        raise InvalidMDPError(f"{name} must be >= 1 (or None for an infinite horizon), got {horizon!r}")
    return int(horizon)


def _as_float_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    return arr


def _check_distribution(name: str, value: Any, n: int) -> np.ndarray:
    arr = _as_float_array(name, value)
    if arr.shape != (n,):
        raise InvalidMDPError(f"{name} must have shape ({n},) (one entry per state), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidMDPError(f"{name} contains NaN or inf")
    if np.any(arr < 0):
        i = int(np.argmin(arr))
        raise InvalidMDPError(f"{name} has a negative probability {float(arr[i])!r} at state {i}")
    total = float(arr.sum())
    if abs(total - 1.0) > PROBABILITY_ATOL:
        raise InvalidMDPError(f"{name} must sum to 1, sums to {total!r}")
    return arr / total


def check_positive_int(name: str, value: Any) -> int:
    """Validate a count (an iteration cap, a number of samples): an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)) or value < 1:
        raise InvalidMDPError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_alpha(alpha: Any) -> float:
    """Validate a temperature: a finite real number > 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, (Real, np.floating, np.integer)):
        raise TypeError(f"alpha must be a positive real number, got {alpha!r} ({type(alpha).__name__})")
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise InvalidMDPError(f"alpha must be a finite number > 0, got {alpha!r}")
    return alpha


def check_gamma(gamma: Any) -> float:
    """Validate a discount factor in (0, 1]."""
    if isinstance(gamma, bool) or not isinstance(gamma, (Real, np.floating, np.integer)):
        raise TypeError(f"gamma must be a real number in (0, 1], got {gamma!r} ({type(gamma).__name__})")
    gamma = float(gamma)
    if not (0.0 < gamma <= 1.0):
        raise InvalidMDPError(f"gamma must be in (0, 1], got {gamma!r}")
    return gamma

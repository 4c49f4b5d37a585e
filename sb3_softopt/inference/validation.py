"""Validation shared by the tabular inference toolkit: the model's error type, distributions,
horizons, temperatures, discounts and counts, checked with :mod:`sb3_softopt.common.validation`
(the same message for the same mistake as the algorithms and the environments).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sb3_softopt.common.validation import check_int, check_real

#: Absolute tolerance for "rows of the transition model sum to 1" (and the other distributions).
PROBABILITY_ATOL = 1e-6


class InvalidMDPError(ValueError):
    """A tabular model (transitions, rewards, distributions) or a solver argument is malformed."""


def _check_horizon(horizon: Any, name: str = "horizon", note: str = "or None: an infinite horizon") -> int | None:
    if horizon is None:
        return None
    return check_int(horizon, name, low=1, note=note, error=InvalidMDPError)


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
    return check_int(value, name, low=1, error=InvalidMDPError)


def check_alpha(alpha: Any) -> float:
    """Validate a temperature: a finite real number > 0."""
    return check_real(alpha, "alpha", low=0.0, low_open=True, error=InvalidMDPError)


def check_gamma(gamma: Any) -> float:
    """Validate a discount factor in (0, 1]."""
    return check_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, error=InvalidMDPError)


def check_nonnegative(name: str, value: Any, positive: bool = False) -> float:
    """Validate a finite real number >= 0 (> 0 with ``positive``): a step size, a tolerance."""
    return check_real(value, name, low=0.0, low_open=positive, error=InvalidMDPError)

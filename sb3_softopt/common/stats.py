"""Statistics over seeds, for every experiment: IQM, bootstrap and Student-t intervals.

All intervals come from :mod:`scipy.stats`; the functions only fix conventions (the IQM as
rliable's ``aggregate_iqm``, degenerate samples whose interval is the point itself, NaN bounds
for a single value).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import SupportsFloat

import numpy as np
from scipy import stats

__all__ = ["bootstrap_ci", "iqm", "mean_ci", "mean_ci_band", "welch_diff_ci"]


def iqm(x: Sequence[float]) -> float:
    """Interquartile mean (25% trimmed mean), rliable's ``aggregate_iqm`` for one task."""
    return float(stats.trim_mean(np.asarray(x, dtype=float), proportiontocut=0.25))


def bootstrap_ci(
    x: Sequence[float], stat: Callable[[Sequence[float]], float] = iqm, n_boot: int = 5000, conf: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over seeds (``scipy.stats.bootstrap``, resampling with replacement)."""
    arr = np.asarray(x, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    if arr.size < 2 or np.ptp(arr) == 0:  # every resample is the sample itself
        value = float(stat(arr))
        return (value, value)
    if stat is iqm:
        statistic = lambda s, axis: stats.trim_mean(s, 0.25, axis=axis)  # noqa: E731  (vectorised IQM)
    else:
        statistic = lambda s, axis: np.apply_along_axis(stat, axis, s)  # noqa: E731
    res = stats.bootstrap(
        (arr,), statistic, n_resamples=n_boot, confidence_level=conf, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_ci(values: Sequence[SupportsFloat], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval across seeds (NaN bounds for a single value)."""
    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    if np.ptp(x) == 0:  # scipy warns on identical values; the interval is the point
        return m, m, m
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(level)
    return m, float(ci.low), float(ci.high)


def mean_ci_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the Student-t interval along axis 0 (seeds x points: a curve's band)."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=0)
    if values.shape[0] < 2:
        return mean, np.zeros_like(mean)
    with warnings.catch_warnings():  # identical values in a column: scipy warns, the half-width is 0
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(values, 0.0, axis=0).confidence_interval(level)
    half = np.where(np.ptp(values, axis=0) == 0, 0.0, (ci.high - ci.low) / 2)
    return mean, half


def welch_diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a - b`` with a Welch-Satterthwaite confidence interval (independent samples)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return d, math.nan, math.nan
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return d, d, d
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return d, float(ci.low), float(ci.high)
